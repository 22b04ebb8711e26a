"""Teacher-forced validation per task: loss, perplexity and accuracy from the task kind's loss.

For seq2seq kinds the units are target tokens; a head's kind counts its own (sentences, words).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from . import interrupt
from .data.batching import bucket_batches
from .model import MultiTaskModel
from .tasks import Task
from .tasks.base import Examples


@dataclass
class ValidResult:
    task: str
    loss: float  # mean NLL per unit (target token)
    ppl: float
    acc: float  # teacher-forced accuracy, percent
    tokens: int
    sentences: int

    def as_dict(self) -> dict:
        return asdict(self)


@torch.inference_mode()
def validate_task(model: MultiTaskModel, task: Task, data: Examples, batch_tokens: int,
                  device: torch.device, max_sentences: int | None = None) -> ValidResult:
    was_training = model.training
    model.eval()
    nll, tokens, correct, sentences = 0.0, 0, 0, 0
    for rows in bucket_batches(data, batch_tokens, generator=None):
        interrupt.check()  # a stop signal lands within one batch
        if max_sentences is not None:
            rows = rows[rows < max_sentences]  # the first N sentences, whatever the batch order
            if len(rows) == 0:
                continue
        batch = task.kind.make_batch(data, rows).to(device)
        with model.task_inputs(task.name):  # its task embeddings, if any
            out = task.kind.loss(task.kind.forward(model, task, batch), batch, 0.0)
        nll, tokens, correct = nll + out.nll, tokens + out.tokens, correct + out.correct
        sentences += len(rows)
    model.train(was_training)
    loss = nll / max(tokens, 1)
    return ValidResult(task.name, loss, math.exp(min(loss, 50.0)), 100.0 * correct / max(tokens, 1),
                       tokens, sentences)


def format_table(results: list[ValidResult]) -> str:
    lines = [f"{'task':<14} {'loss':>7} {'ppl':>8} {'acc%':>7} {'sents':>6}"]
    for r in results:
        lines.append(f"{r.task:<14} {r.loss:7.3f} {r.ppl:8.2f} {r.acc:7.2f} {r.sentences:6d}")
    return "\n".join(lines)
