"""What the two head kinds share: a batch of sources with their labels, the cross-entropy over
real labels, the source side of a split, and the base class that reads `<split>.<label slot>`.

A label slot's vocabulary is a `vocab.LabelVocab`; an unseen label in a file is an error naming
the file and line (or maps to the recipe's `unk_label`). Padding labels are IGNORE, never an id.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.batching import to_device
from ..data.datasets import read_lines
from ..errors import DataError
from ..loss import LossOutput
from ..modules import HEADS
from ..specials import EOS, PAD
from ..vocab import Vocab
from .base import DecodeSettings, Task, TaskKind

log = logging.getLogger(__name__)
IGNORE = -100  # the label of a padding position: no loss, not counted


@dataclass
class LabelBatch:
    src: Tensor  # (B, S) ids, EOS-terminated, PAD-padded
    src_mask: Tensor  # (B, S) bool, True = real token
    labels: Tensor  # (B,) one label per sentence, or (B, W) per word, IGNORE-padded
    positions: Tensor | None  # (B, W) each word's first piece in src (tagging), else None
    index: Tensor  # (B,) line numbers in the split

    def to(self, device: torch.device) -> "LabelBatch":
        move = lambda t: None if t is None else to_device(t, device)  # noqa: E731
        return LabelBatch(move(self.src), move(self.src_mask), move(self.labels),
                          move(self.positions), self.index)


def pad_sources(pieces: list[Tensor]) -> tuple[Tensor, Tensor]:
    """(B, S) EOS-terminated, PAD-padded ids and their mask from each sentence's ids."""
    eos = torch.tensor([EOS], dtype=pieces[0].dtype if pieces else torch.int32)
    ids = torch.nn.utils.rnn.pad_sequence([torch.cat([p, eos]) for p in pieces], batch_first=True,
                                          padding_value=PAD).long()  # (B, S)
    return ids, ids.ne(PAD)


def labels_loss(logits: Tensor, labels: Tensor, label_smoothing: float) -> LossOutput:
    """Summed cross-entropy over the real labels (IGNORE skipped), in float32."""
    flat, gold = logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1)  # (N, L), (N,)
    loss = F.cross_entropy(flat, gold, ignore_index=IGNORE, reduction="sum",
                           label_smoothing=label_smoothing)
    nll = F.cross_entropy(flat.detach(), gold, ignore_index=IGNORE, reduction="sum")
    real = gold.ne(IGNORE)  # (N,)
    correct = (flat.argmax(dim=-1).eq(gold) & real).sum()
    return LossOutput(loss, float(nll), int(real.sum()), int(correct))


def kept_lines(where: str, src_lengths: Tensor, max_len: int | None) -> Tensor:
    """Line numbers with a non-empty source within ``max_len`` tokens; the dropped are logged."""
    empty = src_lengths.eq(0)
    too_long = ~empty & src_lengths.gt(max_len) if max_len else torch.zeros_like(empty)
    keep = torch.nonzero(~(empty | too_long)).flatten()
    if len(keep) == 0:
        raise DataError(f"{where}: no usable lines ({int(empty.sum())} with an empty source, "
                        f"{int(too_long.sum())} over the length limit)")
    log.info("%s: %d/%d lines kept (%d empty dropped, %d over the length limit dropped)",
             " ".join(where.removeprefix("tasks.").rsplit(".", 1)), len(keep), len(src_lengths),
             int(empty.sum()), int(too_long.sum()))
    return keep


def same_length(where: str, src_path: Path, count: int, label_path: Path, labels: int) -> None:
    if count != labels:
        raise DataError(f"{where}: '{src_path}' has {count} lines but '{label_path}' has "
                        f"{labels}; the label file needs one line per source line")


class HeadKind(TaskKind):
    """Base of the kinds whose decoder slot holds a head and whose labels are a label set."""

    decoder_registry = HEADS

    def decoder_args(self, vocab: Vocab | None) -> dict[str, Any]:
        return {"num_labels": len(vocab)} if vocab is not None else {}

    def forward(self, model, task: Task, batch: LabelBatch) -> Tensor:
        memory = model.encode(task.encoder, batch.src, batch.src_mask)
        return model.decoders[task.decoder](memory, batch.positions)

    def loss(self, outputs: Tensor, batch: LabelBatch, label_smoothing: float) -> LossOutput:
        return labels_loss(outputs, batch.labels, label_smoothing)

    def predict(self, model, task: Task, batch: LabelBatch, settings: DecodeSettings
                ) -> list[str]:
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                best = self.forward(model, task, batch).argmax(dim=-1)  # (B,) or (B, W)
        finally:
            model.train(was_training)
        return self.texts(task, best, batch)

    def texts(self, task: Task, best: Tensor, batch: LabelBatch) -> list[str]:
        raise NotImplementedError

    def references(self, task: Task, role: str, data) -> tuple[list[str], list[str]]:
        src_path, label_path = task.files[role]
        src, labels = list(read_lines(src_path)), list(read_lines(label_path))
        keep = data.keep.tolist()
        return [src[i] for i in keep], [" ".join(labels[i].split()) for i in keep]
