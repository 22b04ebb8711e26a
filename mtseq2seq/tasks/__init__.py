"""Task kinds: the behaviour of each kind of task, and their registry.

Built-in kinds are imported here explicitly, which registers them: the seq2seq family
(`translation`, `parsing`, `autoencoder`), `classification` and `tagging` (heads). A plugin file
registers its own with ``@KINDS.register("name")`` on a `TaskKind` subclass.
"""
from . import classification, seq2seq, tagging  # registers the built-in kinds
from .base import KINDS, DecodeSettings, Task, TaskKind, task_metrics

__all__ = ["KINDS", "DecodeSettings", "Task", "TaskKind", "classification", "seq2seq", "tagging",
           "task_metrics"]
