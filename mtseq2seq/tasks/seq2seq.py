"""The seq2seq family: text in, text out through an encoder and a generating decoder.

Translation, constituency parsing (linearized trees) and the autoencoder differ only in their
metrics and default length limits; they share how a split is loaded (parallel files of ids), the
label-smoothed cross-entropy, and prediction by greedy or beam search, detokenized by the target
vocabulary so that BLEU is computed on the text a user would read, as sacreBLEU expects.
"""
from __future__ import annotations

from torch import Tensor

from ..data.batching import Batch, ParallelData, collate
from ..data.datasets import read_lines
from ..data.loading import load_split
from ..loss import LossOutput, label_smoothed_loss
from ..model import MultiTaskModel
from ..search import decode
from ..specials import PAD
from .base import KINDS, DecodeSettings, Task, TaskKind


class Seq2Seq(TaskKind):
    """Behaviour shared by every text-to-text kind."""

    def load(self, task: Task, role: str, max_len: int | None) -> ParallelData:
        src_path, tgt_path = task.files[role]
        data, _ = load_split(task.where(role), src_path, tgt_path, task.vocabs[task.encoder],
                             task.vocabs[task.decoder], max_len)
        return data

    def make_batch(self, data: ParallelData, rows: Tensor) -> Batch:
        return collate(data, rows)

    def forward(self, model: MultiTaskModel, task: Task, batch: Batch) -> Tensor:
        memory = model.encode(task.encoder, batch.src, batch.src_mask)
        return model.decoders[task.decoder](batch.tgt_in, memory)  # (B, T, V) teacher-forced logits

    def loss(self, outputs: Tensor, batch: Batch, label_smoothing: float) -> LossOutput:
        return label_smoothed_loss(outputs, batch.tgt_out, label_smoothing, PAD)

    def predict(self, model: MultiTaskModel, task: Task, batch: Batch, settings: DecodeSettings
                ) -> list[str]:
        result = decode(model, (task.encoder, task.decoder), batch.src, batch.src_mask,
                        beam=settings.beam, alpha=settings.alpha, max_len_a=task.max_len[0],
                        max_len_b=task.max_len[1])
        vocab = task.vocabs[task.decoder]
        return [vocab.decode(tokens) for tokens in result.best_tokens()]

    def references(self, task: Task, role: str, data: ParallelData) -> tuple[list[str], list[str]]:
        """Raw source and target lines of the kept sentences (sources feed tree F1's words)."""
        src_path, tgt_path = task.files[role]
        src, tgt = list(read_lines(src_path)), list(read_lines(tgt_path))
        keep = data.keep.tolist()
        return [src[i] for i in keep], [tgt[i] for i in keep]


@KINDS.register("translation")
class Translation(Seq2Seq):
    metric, extra_metrics = "bleu", ("chrf",)
    description = "text in one language to another"


@KINDS.register("parsing")
class Parsing(Seq2Seq):
    metric = "tree_f1"
    description = "sentence to a linearized constituency tree"
    max_len = (4.0, 10)


@KINDS.register("autoencoder")
class Autoencoder(Seq2Seq):
    metric, extra_metrics = "bleu", ("exact_match",)
    description = "reconstruct the input"
