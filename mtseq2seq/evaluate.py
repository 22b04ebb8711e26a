"""Decode a task's split and score it with the task's metrics (BLEU, chrF, tree F1, exact match).

Hypotheses are detokenized by the target vocabulary (SentencePiece decoding) before scoring, so
BLEU is computed on the same text a user would read, as sacreBLEU expects.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from . import interrupt
from .config import Recipe
from .data.batching import ParallelData, bucket_batches, collate
from .data.datasets import read_lines
from .data.files import data_files
from .metrics import compute
from .model import MultiTaskModel
from .search import decode
from .tasks import KINDS, task_metrics
from .vocab import Vocab


@dataclass
class TaskScore:
    task: str
    metric: str  # the main metric
    score: float
    signature: str
    sentences: int
    others: dict[str, float] = field(default_factory=dict)  # further metrics: name -> score
    details: dict = field(default_factory=dict)  # the main metric's extras

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class DecodeSettings:
    beam: int = 1
    alpha: float = 0.6
    batch_tokens: int = 4096
    limit: int | None = None  # decode only the first N sentences


def decode_data(model: MultiTaskModel, pair: tuple[str, str], data: ParallelData, vocab: Vocab,
                settings: DecodeSettings, device: torch.device, max_len: tuple[float, int],
                ) -> list[str]:
    """Detokenized best hypotheses for the kept sentences of ``data`` (in line order)."""
    count = len(data) if settings.limit is None else min(settings.limit, len(data))
    hyps: list[str] = [""] * count
    for rows in bucket_batches(data, settings.batch_tokens // max(settings.beam, 1), None):
        rows = rows[rows < count]
        if len(rows) == 0:
            continue
        interrupt.check()  # a stop signal lands within one batch
        batch = collate(data, rows).to(device)
        result = decode(model, pair, batch.src, beam=settings.beam, alpha=settings.alpha,
                        max_len_a=max_len[0], max_len_b=max_len[1])
        for row, tokens in zip(rows.tolist(), result.best_tokens()):
            hyps[row] = vocab.decode(tokens)
    return hyps


def task_max_len(recipe: Recipe, task: str) -> tuple[float, int]:
    cfg, kind = recipe.tasks[task], KINDS[recipe.tasks[task].kind]
    return (cfg.max_len_a if cfg.max_len_a is not None else kind.max_len_a,
            cfg.max_len_b if cfg.max_len_b is not None else kind.max_len_b)


def reference_lines(recipe: Recipe, task: str, role: str, data: ParallelData) -> tuple[list, list]:
    """Raw source and target lines of the kept sentences (sources feed tree F1's words)."""
    src_path, tgt_path = data_files(recipe, task)[role]
    src, tgt = list(read_lines(src_path)), list(read_lines(tgt_path))
    keep = data.keep.tolist()
    return [src[i] for i in keep], [tgt[i] for i in keep]


def score_task(recipe: Recipe, task: str, hyps: list[str], sources: list[str],
               refs: list[str]) -> TaskScore:
    """All of a task's metrics on ``hyps`` against the first len(hyps) references."""
    names = task_metrics(recipe.tasks[task].kind, recipe.tasks[task].metric)
    n = len(hyps)
    results = [compute(name, hyps, refs[:n], sources[:n]) for name in names]
    main = results[0]
    return TaskScore(task, main.name, main.score, main.signature, n,
                     {r.name: r.score for r in results[1:]}, main.extra)


def evaluate_task(recipe: Recipe, task: str, model: MultiTaskModel, vocabs: dict[str, Vocab],
                  role: str, data: ParallelData, settings: DecodeSettings, device: torch.device,
                  references: tuple[list, list] | None = None) -> tuple[TaskScore, list[str]]:
    """Decode and score one task's split; ``references`` (sources, targets) saves re-reading."""
    cfg = recipe.tasks[task]
    hyps = decode_data(model, (cfg.encoder, cfg.decoder), data, vocabs[cfg.decoder], settings,
                       device, task_max_len(recipe, task))
    sources, refs = references or reference_lines(recipe, task, role, data)
    return score_task(recipe, task, hyps, sources, refs), hyps


def format_scores(scores: list[TaskScore]) -> str:
    lines = [f"{'task':<14} {'metric':<12} {'score':>7} {'sents':>6}  others / signature"]
    for s in scores:
        others = ", ".join(f"{k} {v:.2f}" for k, v in s.others.items())
        lines.append(f"{s.task:<14} {s.metric:<12} {s.score:7.2f} {s.sentences:6d}  "
                     f"{others + '; ' if others else ''}{s.signature}")
    return "\n".join(lines)
