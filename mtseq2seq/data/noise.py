"""Denoising: noise on the source side of training batches (`tasks.<t>.noise`), fresh each draw.

Three pure functions on a padded batch of ids without EOS, ``(ids (B, S), lengths (B,))``, each
drawing from a ``torch.Generator`` it is given:

- `local_shuffle` (Lample et al. 2018): add uniform noise in [0, k+1) to the positions and sort,
  so no token moves more than k positions (a token behind i+k has a key >= i+k+1 > i's key);
- `word_drop`: remove each token with probability p, keeping at least one of every sentence;
- `span_mask`: replace tokens by the vocabulary's reserved ``<mask>`` (`specials.MASK`). Spans
  start at a rate chosen so that a fraction p of tokens is masked on average, each of a length
  drawn uniformly from 1..span; every token of a span becomes ``<mask>`` (SpanBERT-style: the
  source keeps its length, so the model learns what is missing, not how much; spans that
  overlap merge). ``span: 1`` (the default) masks tokens independently with probability p.

They run in that order (shuffle, drop, mask, as Lample et al.). `Noiser` applies them to every
text source of a `Batch` (stripping and re-appending EOS) with its own seeded generator, whose
state (`state_dict`) a checkpoint keeps with the iterator position, so a resumed run draws the
same noise. Only training batches pass through a `Noiser` (the task's `TaskIterator`);
validation, evaluation and translation read clean sources.
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import torch
from torch import Tensor

from ..recipe.schema import ranged
from ..specials import EOS, PAD

BatchT = TypeVar("BatchT")  # a dataclass with `src` and `src_mask` (`batching.Batch`)


@dataclass(frozen=True)
class NoiseConfig:
    """`tasks.<t>.noise`: word dropout, local shuffle, (span) masking; all off by default."""

    drop: float = ranged(0.0, 0.0, 1.0, high_open=True)  # each token removed with probability p
    shuffle: int = ranged(0, 0)  # no token moves more than k positions (0: off)
    mask: float = ranged(0.0, 0.0, 1.0, high_open=True)  # fraction of tokens made <mask>
    span: int = ranged(1, 1)  # masked spans are 1..span tokens long (uniform)

    @property
    def active(self) -> bool:
        return self.drop > 0 or self.shuffle > 0 or self.mask > 0


def _positions(ids: Tensor) -> Tensor:
    return torch.arange(ids.size(1)).expand_as(ids)  # (B, S)


def local_shuffle(ids: Tensor, lengths: Tensor, k: int, generator: torch.Generator
                  ) -> tuple[Tensor, Tensor]:
    """Each sentence's tokens permuted so that none moves more than ``k`` positions."""
    positions = _positions(ids).double()  # (B, S)
    keys = positions + torch.rand(ids.shape, generator=generator, dtype=torch.float64) * (k + 1)
    keys = torch.where(positions < lengths[:, None], keys, positions + ids.size(1) + k + 1)
    order = torch.sort(keys, dim=1, stable=True).indices  # (B, S) padding stays behind, in order
    return ids.gather(1, order), lengths


def word_drop(ids: Tensor, lengths: Tensor, p: float, generator: torch.Generator
              ) -> tuple[Tensor, Tensor]:
    """Each token removed with probability ``p``; a sentence that would lose every token keeps
    one of them (chosen at random). The batch is narrowed to its new longest sentence."""
    body = _positions(ids) < lengths[:, None]  # (B, S)
    keep = body & (torch.rand(ids.shape, generator=generator) >= p)  # (B, S)
    lost = body.any(dim=1) & ~keep.any(dim=1)  # (B,)
    if lost.any():
        pick = torch.rand(ids.shape, generator=generator).masked_fill(~body, -1.0).argmax(dim=1)
        keep[lost, pick[lost]] = True
    order = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices  # (B, S) kept first
    kept = keep.sum(dim=1)  # (B,)
    out = ids.gather(1, order).masked_fill(_positions(ids) >= kept[:, None], PAD)  # (B, S)
    return out[:, :max(int(kept.max()), 1)], kept


@lru_cache(maxsize=64)
def span_start_rate(p: float, span: int) -> float:
    """The rate at which spans start so that a fraction ``p`` of tokens is covered: a token is
    left alone when no span starting d = 0..span-1 positions before it is longer than d, which
    happens with probability prod_{m=1..span} (1 - rate * m / span)."""
    def covered(rate: float) -> float:
        left = 1.0
        for m in range(1, span + 1):
            left *= 1.0 - rate * m / span
        return 1.0 - left

    low, high = 0.0, 1.0
    for _ in range(60):  # bisection: covered() rises from 0 (rate 0) to 1 (rate 1)
        middle = (low + high) / 2
        low, high = (middle, high) if covered(middle) < p else (low, middle)
    return (low + high) / 2


def span_mask(ids: Tensor, lengths: Tensor, p: float, span: int, mask_id: int,
              generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """About a fraction ``p`` of tokens replaced by ``mask_id``, in spans of 1..``span`` tokens.

    Spans may start up to span-1 positions before a sentence (and run past its end, cut there),
    so every position is equally likely to be masked.
    """
    lead = span - 1
    width = ids.size(1) + lead
    starts = torch.rand((ids.size(0), width), generator=generator) < span_start_rate(p, span)
    if span > 1:
        spans = torch.randint(1, span + 1, starts.shape, generator=generator)  # (B, S + lead)
    else:
        spans = torch.ones_like(starts, dtype=torch.int64)
    places = torch.arange(width).expand_as(starts)  # (B, S + lead)
    ends = torch.where(starts, places + spans, 0)  # (B, S + lead) exclusive end of a span
    covered = torch.cummax(ends, dim=1).values > places  # (B, S + lead)
    masked = covered[:, lead:] & (_positions(ids) < lengths[:, None])  # (B, S)
    return ids.masked_fill(masked, mask_id), lengths


def noise_seed(seed: int, task: str) -> int:
    """The seed of a task's noise, from the recipe seed and the task's name (not its position,
    so adding a task leaves the others' noise alone)."""
    return (seed * 1_000_003 + zlib.crc32(task.encode("utf-8"))) % 2**63


class Noiser:
    """The noise of one task's training sources, drawn from its own seeded generator.

    ``mask_ids`` gives each encoder slot's ``<mask>`` id (None where its vocabulary has none,
    allowed only without masking), ``kept`` how many leading ids of each source stay as they
    are (a target tag, `tasks.<t>.tgt_tag`; none by default). Called on a batch with
    ``src``/``src_mask`` of text (one tensor, or a tuple per encoder slot), it returns the
    batch with those noised.
    """

    def __init__(self, cfg: NoiseConfig, mask_ids: tuple[int | None, ...], seed: int,
                 kept: tuple[int, ...] = ()) -> None:
        assert cfg.mask == 0 or None not in mask_ids, "masking needs a <mask> id in every source"
        self.cfg, self.mask_ids = cfg, mask_ids
        self.kept = kept or (0,) * len(mask_ids)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, batch: BatchT) -> BatchT:
        if isinstance(batch.src, tuple):
            pairs = [self.noise_source(src, mask, mask_id, kept) for src, mask, mask_id, kept
                     in zip(batch.src, batch.src_mask, self.mask_ids, self.kept)]
            src, src_mask = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        else:
            src, src_mask = self.noise_source(batch.src, batch.src_mask, self.mask_ids[0],
                                              self.kept[0])
        return dataclasses.replace(batch, src=src, src_mask=src_mask)

    def noise_source(self, src: Tensor, src_mask: Tensor, mask_id: int | None, kept: int = 0
                     ) -> tuple[Tensor, Tensor]:
        """(src (B, S'), src_mask (B, S')) of one EOS-terminated, PAD-padded text source; its
        first ``kept`` ids (a tag on every sentence) are put back in front, untouched."""
        if kept:
            out, _ = self.noise_source(src[:, kept:], src_mask[:, kept:], mask_id)  # (B, S'')
            out = torch.cat([src[:, :kept], out], dim=1)  # (B, S')
            return out, out.ne(PAD)
        cfg, generator = self.cfg, self.generator
        lengths = src_mask.sum(dim=1) - 1  # (B,) tokens before EOS
        ids = src.masked_fill(_positions(src) >= lengths[:, None], PAD)  # (B, S) EOS removed
        if cfg.shuffle > 0:
            ids, lengths = local_shuffle(ids, lengths, cfg.shuffle, generator)
        if cfg.drop > 0:
            ids, lengths = word_drop(ids, lengths, cfg.drop, generator)
        if cfg.mask > 0:
            ids, lengths = span_mask(ids, lengths, cfg.mask, cfg.span, mask_id, generator)
        out = torch.nn.functional.pad(ids, (0, 1), value=PAD)  # (B, S' + 1)
        out[torch.arange(len(out)), lengths] = EOS
        out = out[:, :int(lengths.max()) + 1]  # (B, S') the longest sentence and its EOS
        return out, out.ne(PAD)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
