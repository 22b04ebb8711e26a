"""The `classification` kind: one label per source line, from a `classifier` head.

Files per split: `<split>.<encoder slot>` (text) and `<split>.<label slot>` (one label a line).
Main metric accuracy, also macro-F1.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.binarize import Encoded, encode_file
from ..errors import DataError
from .base import KINDS, Task
from .labels import HeadKind, LabelBatch, kept_lines, pad_sources, same_length


@dataclass
class LabeledLines:
    src: Encoded  # every line's source ids
    labels: Tensor  # (N_lines,) label ids
    keep: Tensor  # (N,) kept line numbers

    def __len__(self) -> int:
        return len(self.keep)

    def sizes(self) -> Tensor:  # (N,)
        return self.src.lengths()[self.keep] + 1


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
        keep = kept_lines(task.where(role), src.lengths(), max_len)
        return LabeledLines(src, labels.ids.long(), keep)

    def from_lines(self, task: Task, lines: list[str]) -> LabeledLines:
        """Examples to predict from raw source lines (no labels), for `translate`."""
        src = Encoded.from_lists(task.vocabs[task.encoder].encode(lines))
        return LabeledLines(src, torch.zeros(len(lines), dtype=torch.long),
                            torch.arange(len(lines)))

    def make_batch(self, data: LabeledLines, rows: Tensor) -> LabelBatch:
        lines = data.keep[rows]
        src, mask = pad_sources([data.src.sentence(i) for i in lines.tolist()])
        return LabelBatch(src, mask, data.labels[lines], None, lines)

    def texts(self, task: Task, best: Tensor, batch: LabelBatch) -> list[str]:
        vocab = task.vocabs[task.decoder]
        return [vocab.labels[i] for i in best.tolist()]
