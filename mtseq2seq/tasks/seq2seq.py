"""The seq2seq family: text in, text out through an encoder and a generating decoder.

Translation, constituency parsing (linearized trees), the autoencoder, captioning (features to
text) and dialogue responses differ only in their metrics and default length limits; a task may
read several encoder slots (a multi-source task), whose memories the model concatenates. They
share how a split is loaded (one source per encoder slot, `data/sources.py`, and the target ids),
the label-smoothed cross-entropy, and prediction by greedy or beam search, detokenized by the
target vocabulary so that BLEU is computed on the text a user would read, as sacreBLEU expects.
"""
from __future__ import annotations

from pathlib import Path

from torch import Tensor

from ..data.batching import Batch, ParallelData, collate
from ..data.datasets import read_lines
from ..data.loading import load_split
from ..errors import DataError
from ..loss import LossOutput, label_smoothed_loss
from ..model import MultiTaskModel
from ..search import decode
from ..specials import PAD
from .base import KINDS, DecodeSettings, Task, TaskKind


class Seq2Seq(TaskKind):
    """Behaviour shared by every text-to-text kind."""

    def load(self, task: Task, role: str, max_len: int | None) -> ParallelData:
        *src_paths, tgt_path = task.files[role]
        data, _ = load_split(task.where(role), tuple(src_paths), tgt_path, task.source_specs(),
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
                        max_len_b=task.max_len[1], sampling=settings.sampling)
        vocab = task.vocabs[task.decoder]
        return [vocab.decode(tokens) for tokens in result.best_tokens()]

    def references(self, task: Task, role: str, data: ParallelData) -> tuple[list[str], list]:
        """Raw source lines (of the first encoder slot, where it is text; they feed tree F1's
        words) and the references of the kept examples: a line each, or a tuple of lines where
        the split has further reference files (`<split>.<slot>.2`, `.3`, ...)."""
        src_path, tgt_path = task.files[role][0], task.files[role][-1]
        keep = data.keep.tolist()
        text_source = task.source_specs()[0].kind == "tokens"
        src = list(read_lines(src_path)) if text_source else [""] * len(data.tgt)
        streams = [list(read_lines(path)) for path in reference_files(tgt_path)]
        for path, stream in zip(reference_files(tgt_path)[1:], streams[1:]):
            if len(stream) != len(streams[0]):
                raise DataError(f"{task.where(role)}: reference file '{path}' has {len(stream)} "
                                f"lines but '{tgt_path}' has {len(streams[0])}")
        refs = [streams[0][i] if len(streams) == 1 else tuple(s[i] for s in streams) for i in keep]
        return [src[i] for i in keep], refs


def reference_files(tgt_path: Path) -> list[Path]:
    """The target file and the further references beside it: `<file>.2`, `<file>.3`, ..."""
    found, number = [tgt_path], 2
    while tgt_path.with_name(f"{tgt_path.name}.{number}").is_file():
        found.append(tgt_path.with_name(f"{tgt_path.name}.{number}"))
        number += 1
    return found


@KINDS.register("translation")
class Translation(Seq2Seq):
    metric, extra_metrics = "bleu", ("chrf",)
    description = "text in one language to another"


@KINDS.register("parsing")
class Parsing(Seq2Seq):
    metric, extra_metrics = "tree_f1", ("tree_f1_strict",)  # EVALB (COLLINS.prm); evalb.py
    description = "sentence to a linearized constituency tree"
    max_len = (4.0, 10)


@KINDS.register("autoencoder")
class Autoencoder(Seq2Seq):
    metric, extra_metrics = "bleu", ("exact_match",)
    description = "reconstruct the input"


@KINDS.register("captioning")
class Captioning(Seq2Seq):
    metric, extra_metrics = "bleu", ("chrf",)
    description = "image features (or any vectors) to text"
    max_len = (0.0, 50)  # the source is a fixed number of regions: a caption's length is its own


@KINDS.register("response")
class Response(Seq2Seq):
    metric, extra_metrics = "bleu", ("distinct_1", "distinct_2")
    description = "a dialogue turn from the history (and a memory of facts)"
    max_len = (0.0, 60)
