"""Predict a task's split and score it with the task's metrics (BLEU, chrF, tree F1, exact match).

The task's kind makes the predictions and turns them into text (seq2seq kinds decode and
detokenize); this module batches the split, keeps the line order and computes the metrics.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from . import interrupt
from .data.batching import bucket_batches
from .metrics import compute
from .model import MultiTaskModel
from .tasks import DecodeSettings, Task
from .tasks.base import Examples


@dataclass
class TaskScore:
    task: str
    metric: str  # the main metric
    score: float
    signature: str
    sentences: int
    others: dict[str, float] = field(default_factory=dict)  # further metrics: name -> score
    details: dict = field(default_factory=dict)  # the main metric's extras
    signatures: dict[str, str] = field(default_factory=dict)  # every metric's: name -> signature

    def as_dict(self) -> dict:
        return asdict(self)


def predict_split(model: MultiTaskModel, task: Task, data: Examples, settings: DecodeSettings,
                  device: torch.device) -> list[str]:
    """The kind's predictions for the kept examples of ``data`` (in line order)."""
    count = len(data) if settings.limit is None else min(settings.limit, len(data))
    hyps: list[str] = [""] * count
    for rows in bucket_batches(data, settings.batch_tokens // max(settings.beam, 1), None):
        rows = rows[rows < count]
        if len(rows) == 0:
            continue
        interrupt.check()  # a stop signal lands within one batch
        batch = task.kind.make_batch(data, rows).to(device)
        with model.task_inputs(task.name):  # its task embeddings, if any
            texts = task.kind.predict(model, task, batch, settings)
        for row, text in zip(rows.tolist(), texts):
            hyps[row] = text
    return hyps


def score_task(task: Task, hyps: list[str], sources: list[str], refs: list[str]) -> TaskScore:
    """All of a task's metrics on ``hyps`` against the first len(hyps) references."""
    n = len(hyps)
    results = [compute(name, hyps, refs[:n], sources[:n]) for name in task.metrics]
    main = results[0]
    return TaskScore(task.name, main.name, main.score, main.signature, n,
                     {r.name: r.score for r in results[1:]}, main.extra,
                     {r.name: r.signature for r in results})


def evaluate_task(model: MultiTaskModel, task: Task, role: str, data: Examples,
                  settings: DecodeSettings, device: torch.device,
                  references: tuple[list, list] | None = None) -> tuple[TaskScore, list[str]]:
    """Predict and score one task's split; ``references`` (sources, targets) saves re-reading."""
    hyps = predict_split(model, task, data, settings, device)
    sources, refs = references or task.kind.references(task, role, data)
    return score_task(task, hyps, sources, refs), hyps


def format_scores(scores: list[TaskScore]) -> str:
    lines = [f"{'task':<14} {'metric':<12} {'score':>7} {'sents':>6}  others / signature"]
    for s in scores:
        others = ", ".join(f"{k} {v:.2f}" for k, v in s.others.items())
        lines.append(f"{s.task:<14} {s.metric:<12} {s.score:7.2f} {s.sentences:6d}  "
                     f"{others + '; ' if others else ''}{s.signature}")
    return "\n".join(lines)
