"""Task kinds: what a task is for, and the metric that scores it.

A task is an edge from an encoder slot to a decoder slot; its *kind* says how to score and
post-process it. A recipe may override the metric per task (`tasks.<name>.metric`).
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_LEN = (2.0, 10)  # decoding stops at a * source length + b tokens, unless a kind says


@dataclass(frozen=True)
class TaskKind:
    name: str
    metric: str  # the main metric: selects checkpoints and is printed first
    extra_metrics: tuple[str, ...] = ()
    description: str = ""
    max_len_a: float = DEFAULT_MAX_LEN[0]  # default decoding limit: a * source length + b tokens
    max_len_b: int = DEFAULT_MAX_LEN[1]


KINDS: dict[str, TaskKind] = {
    "translation": TaskKind("translation", "bleu", ("chrf",), "text in one language to another"),
    "parsing": TaskKind("parsing", "tree_f1", (), "sentence to a linearized constituency tree",
                        max_len_a=4.0),
    "autoencoder": TaskKind("autoencoder", "bleu", ("exact_match",), "reconstruct the input"),
}


def task_metrics(kind: str, override: str | None) -> list[str]:
    """Metric names for a task: the main one first (the recipe's `metric:` if given)."""
    spec = KINDS[kind]
    main = override or spec.metric
    return [main, *[m for m in (spec.metric, *spec.extra_metrics) if m != main]]
