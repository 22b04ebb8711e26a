"""The `classification` kind: one label per source line, from a `classifier` head.

Files per split: `<split>.<encoder slot>` (text) and `<split>.<label slot>` (one label a line).
Main metric accuracy, also macro-F1. A training source over `train.max_len` tokens is cut to its
first `max_len` tokens rather than dropped (a long review keeps its opening); the count is logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.binarize import Encoded, encode_file
from ..errors import DataError
from .base import KINDS, Task
from .labels import HeadKind, LabelBatch, kept_lines, pad_sources, same_length

log = logging.getLogger(__name__)


@dataclass
class LabeledLines:
    src: Encoded  # every line's source ids
    labels: Tensor  # (N_lines,) label ids
    keep: Tensor  # (N,) kept line numbers
    max_len: int | None = None  # sources are cut to their first max_len tokens (training)

    def __len__(self) -> int:
        return len(self.keep)

    def sizes(self) -> Tensor:  # (N,)
        lengths = self.src.lengths()[self.keep]
        return (lengths.clamp(max=self.max_len) if self.max_len else lengths) + 1

    def source(self, line: int) -> Tensor:
        return self.src.sentence(line)[:self.max_len]


@KINDS.register("classification")
class Classification(HeadKind):
    metric, extra_metrics = "accuracy", ("macro_f1",)
    description = "one label per sentence (sentiment, topic, sentence type)"

    def load(self, task: Task, role: str, max_len: int | None) -> LabeledLines:
        src_path, label_path = task.files[role]
        src = encode_file(src_path, task.vocabs[task.encoder])
        labels = encode_file(label_path, task.vocabs[task.decoder])
        same_length(task.where(role), src_path, len(src), label_path, len(labels))
        wrong = torch.nonzero(labels.lengths().ne(1)).flatten().tolist()
        if wrong:
            line = wrong[0]
            raise DataError(f"{task.where(role)}: {label_path}, line {line + 1}: expected one "
                            f"label, got {int(labels.lengths()[line])} ({len(wrong)} such lines)")
        keep = kept_lines(task.where(role), src.lengths(), None)
        if max_len:
            cut = int(src.lengths()[keep].gt(max_len).sum())
            log.info("%s: %d sources cut to their first %d tokens", task.where(role), cut, max_len)
        return LabeledLines(src, labels.ids.long(), keep, max_len)

    def from_lines(self, task: Task, lines: list[str]) -> LabeledLines:
        """Examples to predict from raw source lines (no labels), for `translate`."""
        src = Encoded.from_lists(task.vocabs[task.encoder].encode(lines))
        return LabeledLines(src, torch.zeros(len(lines), dtype=torch.long),
                            torch.arange(len(lines)))

    def make_batch(self, data: LabeledLines, rows: Tensor) -> LabelBatch:
        lines = data.keep[rows]
        src, mask = pad_sources([data.source(i) for i in lines.tolist()])
        return LabelBatch(src, mask, data.labels[lines], None, lines)

    def texts(self, task: Task, best: Tensor, batch: LabelBatch) -> list[str]:
        vocab = task.vocabs[task.decoder]
        return [vocab.labels[i] for i in best.tolist()]
