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
from .sources import FeatureSource, SourceData, SourceSpec, TokenSource, read_source

log = logging.getLogger(__name__)


@dataclass
class SplitStats:
    lines: int
    kept: int
    empty: int
    too_long: int

    def describe(self) -> str:
        return (f"{self.kept}/{self.lines} examples kept ({self.empty} empty dropped, "
                f"{self.too_long} over the length limit dropped)")


def load_split(where: str, src_paths: tuple[Path, ...], tgt_path: Path,
               specs: tuple[SourceSpec, ...], tgt_vocab: Vocab, max_len: int | None
               ) -> tuple[ParallelData, SplitStats]:
    """A split as one source per encoder slot (``specs`` say how each is read) and target ids;
    ``max_len`` counts tokens without BOS/EOS (None: keep all).

    ``where`` (e.g. ``tasks.en>de.train``) starts every message, logged or raised.
    """
    srcs = tuple(read_source(path, spec) for path, spec in zip(src_paths, specs, strict=True))
    first = srcs[0]
    same_text = isinstance(first, TokenSource) and tgt_path == src_paths[0] \
        and specs[0].vocab is tgt_vocab
    tgt = first.encoded if same_text else encode_file(tgt_path, tgt_vocab)
    for path, src in zip(src_paths, srcs):
        if len(src) != len(tgt):
            raise DataError(f"{where}: parallel files differ in length: '{path}' has "
                            f"{len(src)} {_unit(src)}, '{tgt_path}' has {len(tgt)} lines")
    if len(tgt) == 0:
        raise DataError(f"{where}: data file '{src_paths[0]}' is empty")
    tgt_len = tgt.lengths()
    empty = torch.stack([*(src.empty() for src in srcs), tgt_len == 0]).any(dim=0)
    too_long = torch.zeros_like(empty)
    if max_len:
        too_long = ~empty & torch.stack([*(src.too_long(max_len) for src in srcs),
                                         tgt_len > max_len]).any(dim=0)
    keep = torch.nonzero(~(empty | too_long)).flatten()
    stats = SplitStats(len(tgt), len(keep), int(empty.sum()), int(too_long.sum()))
    if len(keep) == 0:
        raise DataError(f"{where}: no usable examples in "
                        f"{' / '.join(repr(str(p)) for p in (*src_paths, tgt_path))} "
                        f"({stats.describe()})")
    log.info("%s: %s", " ".join(where.removeprefix("tasks.").rsplit(".", 1)), stats.describe())
    return ParallelData(srcs, tgt, keep), stats


def _unit(src: SourceData) -> str:
    return "rows" if isinstance(src, FeatureSource) else "lines"
