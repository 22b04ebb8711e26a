"""Checks of what a task adds to its inputs: `tasks.<t>.embedding` (a learned vector per task on
the input embeddings of the named side, `task_embeddings.py`) and `tasks.<t>.tgt_tag` (a
reserved token put before every source sentence, Johnson et al. 2017). Each problem starts with
its YAML path; `loader.check_recipe` runs these with the other section checks.
"""
from __future__ import annotations

from ..errors import short_repr
from ..modules import DECODERS, HEADS
from ..specials import MASK, SPECIALS
from ..task_embeddings import TaskEmbeddings
from ..tasks import KINDS
from .config import Recipe, TaskConfig
from .data_files import input_kind


def check_task_inputs(recipe: Recipe) -> list[str]:
    """The problems of every task's `embedding:` and `tgt_tag:`."""
    problems = []
    for name, task in recipe.tasks.items():
        if task.kind not in KINDS or task.encoder is None:
            continue  # reported by the task checks
        problems += embedding_problems(name, task)
        problems += tag_problems(recipe, name, task)
    return problems


def embedding_problems(name: str, task: TaskConfig) -> list[str]:
    """A head has no input embedding, so only `embedding: encoder` fits a head's task; the
    vectors are stored under the task's name, which then may not contain a '.'."""
    if task.embedding is None:
        return []
    path = f"tasks.{name}.embedding"
    if "." in name or hasattr(TaskEmbeddings, name):
        why = "contains a '.'" if "." in name else "is taken by torch (an nn.Module attribute)"
        return [f"{path}: the task's name '{name}' {why}, which a task embedding's name in the "
                "checkpoint cannot be; rename the task (e.g. 'en>de', 'en-de')"]
    if task.embedding != "encoder" and KINDS.get(task.kind).decoder_registry is HEADS:
        return [f"{path}: got '{task.embedding}', but decoder slot '{task.decoder}' holds a head "
                f"(a {task.kind} task), which reads the encoder's states and has no input "
                "embedding; use 'encoder' (valid: encoder, decoder, both)"]
    return []


def tag_problems(recipe: Recipe, name: str, task: TaskConfig) -> list[str]:
    """A tag is one whitespace-free token, not a special one, before the text of the first
    encoder slot of a generating task (a head's labels align with the source words)."""
    tag, path = task.tgt_tag, f"tasks.{name}.tgt_tag"
    if tag is None:
        return []
    if not tag or tag != tag.strip() or len(tag.split()) != 1:
        return [f"{path}: got {short_repr(tag)}, expected one token without spaces, e.g. '<2de>'"]
    if tag in (*SPECIALS, MASK):
        return [f"{path}: '{tag}' is a reserved symbol of every vocabulary "
                f"({', '.join((*SPECIALS, MASK))}); choose another, e.g. '<2de>'"]
    if KINDS.get(task.kind).decoder_registry is not DECODERS:
        return [f"{path}: a {task.kind} task takes no target tag (its decoder slot holds a head, "
                "whose labels align with the source words); tags are for generating tasks"]
    slot = task.encoder_slots[0]
    if input_kind(recipe, slot) != "tokens":
        return [f"{path}: the tag goes before the text of the first encoder slot, but slot "
                f"'{slot}' reads {input_kind(recipe, slot)}; put a text slot first"]
    vocab = recipe.vocabs.get(slot)
    vocab = recipe.vocabs.get(vocab.share, vocab) if vocab and vocab.share else vocab
    if vocab is not None and vocab.type == "labels":
        return [f"{path}: slot '{slot}' has a label set (vocabs.{slot}.type: labels), which "
                "reserves no tags"]
    return []
