"""A user's plugin: a task kind that predicts the length bucket of the source sentence, with its
head and its metric. It reads only `<split>.<encoder slot>` (the labels come from the text), so
its decoder slot needs no vocabulary and no files.

    tasks:
      en>len: {kind: length_bucket, encoder: en, decoder: len}
    decoders:
      len: {type: bucket_head, dim: 16, buckets: 4}
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mtseq2seq import (
    Head,
    MetricResult,
    TaskKind,
    register_head,
    register_metric,
    register_task_kind,
)
from mtseq2seq.data.binarize import Encoded, encode_file
from mtseq2seq.data.datasets import read_lines
from mtseq2seq.loss import LossOutput
from mtseq2seq.modules import HEADS

BUCKET_WORDS, BUCKETS = 2, 4  # 1-2 words: bucket 0, 3-4 words: bucket 1, ..., 7 and more: 3


@register_head("bucket_head")
class BucketHead(Head):
    """The masked mean of the encoder states and the source length (from the mask) -> bucket
    logits (B, buckets)."""

    def __init__(self, dim: int = 16, buckets: int = 4) -> None:
        super().__init__()
        self.memory_size, self.buckets = dim, buckets
        self.out = nn.Linear(dim + 1, buckets)

    def forward(self, memory, positions=None) -> Tensor:
        mask = memory.mask.unsqueeze(-1).float()  # (B, S, 1)
        length = mask.sum(dim=1)  # (B, 1)
        mean = (memory.states * mask).sum(dim=1) / length.clamp(min=1.0)  # (B, D)
        return self.out(torch.cat([mean, length / 4.0], dim=-1))  # (B, buckets)


@dataclass
class Sources:
    src: Encoded
    labels: Tensor  # (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def sizes(self) -> Tensor:  # (N,)
        return self.src.lengths() + 1


@dataclass
class BucketBatch:
    src: Tensor  # (B, S)
    src_mask: Tensor  # (B, S)
    labels: Tensor  # (B,)
    index: Tensor  # (B,)

    def to(self, device) -> "BucketBatch":
        return BucketBatch(self.src.to(device), self.src_mask.to(device), self.labels.to(device),
                           self.index)


@register_task_kind("length_bucket")
class LengthBucket(TaskKind):
    metric = "bucket_accuracy"
    description = "the length bucket of the source sentence"
    sides = ("encoder",)
    decoder_registry = HEADS
    target_vocab = False

    def load(self, task, role, max_len):
        (src_path,) = task.files[role]
        src = encode_file(src_path, task.vocabs[task.encoder])
        labels = ((src.lengths() - 1).clamp(min=0) // BUCKET_WORDS).clamp(max=BUCKETS - 1)
        return Sources(src, labels)

    def from_lines(self, task, lines):
        src = Encoded.from_lists(task.vocabs[task.encoder].encode(lines))
        return Sources(src, ((src.lengths() - 1).clamp(min=0) // BUCKET_WORDS).clamp(max=BUCKETS - 1))

    def make_batch(self, data: Sources, rows: Tensor) -> BucketBatch:
        eos = torch.tensor([3], dtype=torch.int32)
        src = [torch.cat([data.src.sentence(i), eos]) for i in rows.tolist()]
        ids = nn.utils.rnn.pad_sequence(src, batch_first=True, padding_value=0).long()  # (B, S)
        return BucketBatch(ids, ids.ne(0), data.labels[rows], rows)

    def forward(self, model, task, batch: BucketBatch) -> Tensor:
        memory = model.encode(task.encoder, batch.src, batch.src_mask)
        return model.decoders[task.decoder](memory)  # (B, buckets)

    def loss(self, outputs: Tensor, batch: BucketBatch, label_smoothing: float) -> LossOutput:
        logits = outputs.float()
        loss = F.cross_entropy(logits, batch.labels, reduction="sum",
                               label_smoothing=label_smoothing)
        nll = F.cross_entropy(logits.detach(), batch.labels, reduction="sum")
        correct = int(logits.argmax(dim=-1).eq(batch.labels).sum())
        return LossOutput(loss, float(nll), len(batch.labels), correct)

    def predict(self, model, task, batch, settings) -> list[str]:
        model.eval()
        with torch.inference_mode():
            return [str(b) for b in self.forward(model, task, batch).argmax(dim=-1).tolist()]

    def references(self, task, role, data: Sources):
        (src_path,) = task.files[role]
        return list(read_lines(src_path)), [str(b) for b in data.labels.tolist()]


@register_metric("bucket_accuracy")
def bucket_accuracy(hyps, refs, sources=None) -> MetricResult:
    same = sum(h == r for h, r in zip(hyps, refs))
    return MetricResult("bucket_accuracy", 100.0 * same / len(refs), "bucket_accuracy", len(refs))
