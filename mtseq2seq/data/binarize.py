"""Encode a text file once with a vocabulary and cache the ids as arrays next to the data.

The cache file is named by the vocabulary's fingerprint and records the text's SHA-1, so it is rebuilt
when either changes. Arrays: one flat int32 tensor of ids plus int64 offsets (N + 1).
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import DataError
from ..vocab import Vocab
from .datasets import read_lines

log = logging.getLogger(__name__)
CACHE_DIR = ".mtseq2seq_cache"


@dataclass
class Encoded:
    """Token ids of N sentences, stored flat."""

    ids: Tensor  # (total,) int32
    offsets: Tensor  # (N + 1,) int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> Tensor:  # (N,)
        return self.offsets[1:] - self.offsets[:-1]

    def sentence(self, i: int) -> Tensor:  # (L_i,)
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    @staticmethod
    def from_lists(rows: list[list[int]]) -> "Encoded":
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.int64)
        offsets = torch.zeros(len(rows) + 1, dtype=torch.int64)
        torch.cumsum(lengths, 0, out=offsets[1:])
        flat = [i for r in rows for i in r]
        return Encoded(torch.tensor(flat, dtype=torch.int32), offsets)


def file_sha1(path: Path) -> str:
    """SHA-1 of a file's bytes; a DataError naming the file if it cannot be read."""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as err:
        raise DataError(f"cannot read data file '{path}': {err.strerror or err}") from None
    return digest.hexdigest()


def cache_path(text_path: Path, vocab: Vocab) -> Path:
    return text_path.parent / CACHE_DIR / f"{text_path.name}.{vocab.fingerprint}.pt"


def encode_file(text_path: Path, vocab: Vocab) -> Encoded:
    """Ids of every line of ``text_path`` (empty lines give empty rows), from the cache if fresh."""
    path = cache_path(text_path, vocab)
    sha1 = file_sha1(text_path)
    cached = _load_cache(path, sha1)
    if cached is not None:
        return cached
    try:
        encoded = Encoded.from_lists(vocab.encode(list(read_lines(text_path))))
    except DataError as err:  # a label set's unseen label: the vocabulary names the line
        raise DataError([f"{text_path}, {problem}" for problem in err.problems]) from None
    _save_cache(path, sha1, encoded)
    log.info("encoded %s: %d sentences, %d tokens", text_path, len(encoded), len(encoded.ids))
    return encoded


def _load_cache(path: Path, sha1: str) -> Encoded | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception:  # a damaged cache is rebuilt, never trusted
        return None
    if not isinstance(state, dict) or state.get("text_sha1") != sha1 or not all(
            isinstance(state.get(key), torch.Tensor) for key in ("ids", "offsets")):
        return None
    return Encoded(state["ids"], state["offsets"])


def _save_cache(path: Path, sha1: str, encoded: Encoded) -> None:
    """Atomic write; a read-only data folder just means no cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"text_sha1": sha1, "ids": encoded.ids, "offsets": encoded.offsets}, tmp)
        os.replace(tmp, path)
    except OSError as err:
        log.warning("cannot cache %s (%s); encoding again next time", path, err)
