"""Load a task's split as ids: read (or reuse the cache), check alignment, drop empty and long pairs.

Dropped sentences are counted per reason and logged, never silently lost.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError
from ..vocab import Vocab
from .batching import ParallelData
from .binarize import encode_file

log = logging.getLogger(__name__)


@dataclass
class SplitStats:
    lines: int
    kept: int
    empty: int
    too_long: int

    def describe(self) -> str:
        return (f"{self.kept}/{self.lines} pairs kept ({self.empty} empty dropped, "
                f"{self.too_long} over the length limit dropped)")


def load_split(where: str, src_path: Path, tgt_path: Path, src_vocab: Vocab, tgt_vocab: Vocab,
               max_len: int | None) -> tuple[ParallelData, SplitStats]:
    """A parallel split as ids; ``max_len`` counts tokens without BOS/EOS (None: keep all).

    ``where`` (e.g. ``tasks.en>de.train``) starts every message, logged or raised.
    """
    src = encode_file(src_path, src_vocab)
    tgt = src if (tgt_path == src_path and src_vocab is tgt_vocab) \
        else encode_file(tgt_path, tgt_vocab)
    if len(src) != len(tgt):
        raise DataError(f"{where}: parallel files differ in length: '{src_path}' has "
                        f"{len(src)} lines, '{tgt_path}' has {len(tgt)}")
    if len(src) == 0:
        raise DataError(f"{where}: data file '{src_path}' is empty")
    src_len, tgt_len = src.lengths(), tgt.lengths()
    empty = (src_len == 0) | (tgt_len == 0)
    too_long = ~empty & ((src_len > max_len) | (tgt_len > max_len)) if max_len else \
        torch.zeros_like(empty)
    keep = torch.nonzero(~(empty | too_long)).flatten()
    stats = SplitStats(len(src), len(keep), int(empty.sum()), int(too_long.sum()))
    if len(keep) == 0:
        raise DataError(f"{where}: no usable sentence pairs in '{src_path}' / "
                        f"'{tgt_path}' ({stats.describe()})")
    log.info("%s: %s", " ".join(where.removeprefix("tasks.").rsplit(".", 1)), stats.describe())
    return ParallelData(src, tgt, keep), stats
