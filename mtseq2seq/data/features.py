"""Float vectors as a source: `<split>.<slot>.npy` of shape (N, D) or (N, K, D), memory-mapped.

One example is one row: K regions (e.g. a 7x7 grid of image features, K = 49) of D values, or a
single vector (K = 1). A region of all zeros is padding (an example with fewer regions than K)
and is masked, unless the whole example is zeros (then its first region stays, so attention has
something to read). The file is opened with ``numpy.load(mmap_mode="r")``, so only the rows of a
batch are read from disk; numpy is the optional extra `pip install mtseq2seq[features]`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import DataError


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise DataError("reading .npy features needs numpy: pip install 'mtseq2seq[features]' "
                        "(or pip install numpy)") from None
    return numpy


class FeatureSource:
    """Rows of a (N, K, D) float array; all-zero regions are masked as padding."""

    def __init__(self, array: Any, path: Path) -> None:
        self.array, self.path = array, path  # (N, K, D) numpy array or memory map

    def __len__(self) -> int:
        return int(self.array.shape[0])

    @property
    def regions(self) -> int:
        return int(self.array.shape[1])

    @property
    def dim(self) -> int:
        return int(self.array.shape[2])

    def sizes(self) -> Tensor:  # (N,)
        return torch.full((len(self),), self.regions, dtype=torch.int64)

    def empty(self) -> Tensor:
        return torch.zeros(len(self), dtype=torch.bool)

    def too_long(self, max_len: int) -> Tensor:
        return torch.zeros(len(self), dtype=torch.bool)

    def batch(self, lines: list[int]) -> tuple[Tensor, Tensor]:
        numpy = _numpy()
        rows = numpy.asarray(self.array[numpy.asarray(lines, dtype=numpy.int64)], dtype=numpy.float32)
        src = torch.from_numpy(rows)  # (B, K, D)
        mask = src.ne(0).any(dim=-1)  # (B, K) an all-zero region is padding
        mask[:, 0] |= ~mask.any(dim=1)
        return src, mask


def read_features(path: Path, input_dim: int | None, where: str) -> FeatureSource:
    """Open ``path`` memory-mapped; its shape must be (N, D) or (N, K, D) with D == input_dim."""
    numpy = _numpy()
    try:
        array = numpy.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{where}: cannot read features file '{path}': {err}") from None
    if array.ndim == 2:
        array = array[:, None, :]  # (N, 1, D)
    if array.ndim != 3 or 0 in array.shape[1:]:
        raise DataError(f"{where}: features file '{path}' has shape {tuple(array.shape)}; "
                        "expected (N, D) or (N, K, D)")
    if not numpy.issubdtype(array.dtype, numpy.floating):
        raise DataError(f"{where}: features file '{path}' holds {array.dtype}, expected floats")
    if input_dim is not None and array.shape[2] != input_dim:
        raise DataError(f"{where}.input_dim: {input_dim}, but '{path}' has shape "
                        f"{tuple(array.shape)} (D = {array.shape[2]})")
    return FeatureSource(array, path)
