"""Load a task's split as ids: read (or reuse the cache), check alignment, drop empty and long pairs.

Dropped sentences are counted per reason and logged, never silently lost.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ..config import Recipe
from ..errors import DataError
from ..vocab import Vocab
from .batching import ParallelData
from .binarize import encode_file
from .files import data_files

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


def load_split(recipe: Recipe, task: str, role: str, vocabs: dict[str, Vocab],
               max_len: int | None) -> tuple[ParallelData, SplitStats]:
    """``role`` is 'train', 'valid' or 'test'; ``max_len`` counts tokens without BOS/EOS."""
    cfg = recipe.tasks[task]
    src_path, tgt_path = data_files(recipe, task)[role]
    src = encode_file(src_path, vocabs[cfg.encoder])
    tgt = src if (tgt_path == src_path and vocabs[cfg.encoder] is vocabs[cfg.decoder]) \
        else encode_file(tgt_path, vocabs[cfg.decoder])
    if len(src) != len(tgt):
        raise DataError(f"tasks.{task}.{role}: parallel files differ in length: '{src_path}' has "
                        f"{len(src)} lines, '{tgt_path}' has {len(tgt)}")
    if len(src) == 0:
        raise DataError(f"tasks.{task}.{role}: data file '{src_path}' is empty")
    src_len, tgt_len = src.lengths(), tgt.lengths()
    empty = (src_len == 0) | (tgt_len == 0)
    too_long = ~empty & ((src_len > max_len) | (tgt_len > max_len)) if max_len else \
        torch.zeros_like(empty)
    keep = torch.nonzero(~(empty | too_long)).flatten()
    stats = SplitStats(len(src), len(keep), int(empty.sum()), int(too_long.sum()))
    if len(keep) == 0:
        raise DataError(f"tasks.{task}.{role}: no usable sentence pairs in '{src_path}' / "
                        f"'{tgt_path}' ({stats.describe()})")
    log.info("%s %s: %s", task, role, stats.describe())
    return ParallelData(src, tgt, keep), stats
