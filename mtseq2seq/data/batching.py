"""Token-based batches from length buckets, and an endless shuffled iterator per task.

Batches hold examples of similar size so little compute goes to padding; the iterator's position
(epoch, batch) is its whole state, so a resumed run draws the same batches. Any kind's examples
batch here: they need only ``len()`` and ``sizes()``; the kind makes each batch from its rows.
A task with `noise:` gives its iterator a `noise.Noiser`, which noises each training batch's
sources as it is drawn; its generator's state is part of the iterator's.
The parallel data of seq2seq kinds (`ParallelData`, `collate`) lives here too: one source per
encoder slot (text, features or facts, see `sources.py`) and the target text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch
from torch import Tensor

from ..specials import BOS, EOS, PAD
from .binarize import Encoded
from .noise import Noiser


class Sized(Protocol):
    """What length batching needs of a kind's examples."""

    def __len__(self) -> int: ...

    def sizes(self) -> Tensor: ...  # (N,) each example's cost: its longest side in tokens


Source = Tensor | tuple[Tensor, ...]  # one input, or one per encoder of a multi-source task


def to_device(x: Tensor, device: torch.device) -> Tensor:
    """``x`` on ``device``; a CPU tensor bound for a GPU is first pinned (page-locked), so the
    copy runs asynchronously beside the GPU's work."""
    if device.type == "cuda" and x.device.type == "cpu":
        x = x.pin_memory()
    return x.to(device, non_blocking=True)


def _move(x: Source, device: torch.device) -> Source:
    if isinstance(x, tuple):
        return tuple(to_device(t, device) for t in x)
    return to_device(x, device)


@dataclass
class Batch:
    src: Source  # (B, S) ids, EOS-terminated, PAD-padded (per encoder: its input kind's shape)
    src_mask: Source  # (B, S) bool, True = real token
    tgt_in: Tensor  # (B, T) BOS + ids
    tgt_out: Tensor  # (B, T) ids + EOS
    index: Tensor  # (B,) sentence numbers in the split

    @property
    def tgt_tokens(self) -> int:
        return int(self.tgt_out.ne(PAD).sum())

    def to(self, device: torch.device) -> "Batch":
        return Batch(_move(self.src, device), _move(self.src_mask, device),
                     to_device(self.tgt_in, device), to_device(self.tgt_out, device), self.index)


@dataclass
class ParallelData:
    """A task's split: each encoder slot's source (`sources.py`) and the target ids, of the kept
    examples (``keep`` maps to line numbers)."""

    srcs: tuple[Any, ...]  # one `SourceData` per encoder slot
    tgt: Encoded
    keep: Tensor  # (N,) int64 line numbers of kept sentences

    def __len__(self) -> int:
        return len(self.keep)

    def sizes(self) -> Tensor:
        """(N,) the largest side of each kept example (sources' positions, target + BOS)."""
        sides = [src.sizes()[self.keep] for src in self.srcs]
        return torch.stack([*sides, self.tgt.lengths()[self.keep] + 1]).amax(dim=0)


def collate(data: ParallelData, rows: Tensor) -> Batch:
    """Pad the kept examples ``rows`` (positions into ``data.keep``) into one batch."""
    lines = data.keep[rows]
    sources = [src.batch(lines.tolist()) for src in data.srcs]
    tgt = [data.tgt.sentence(i) for i in lines.tolist()]
    tgt_in = [torch.cat([_one(BOS), t]) for t in tgt]
    tgt_out = [torch.cat([t, _one(EOS)]) for t in tgt]
    pad = torch.nn.utils.rnn.pad_sequence
    src, mask = sources[0] if len(sources) == 1 else tuple(zip(*sources))
    return Batch(src, mask, pad(tgt_in, True, PAD).long(), pad(tgt_out, True, PAD).long(), lines)


def _one(token: int) -> Tensor:
    return torch.tensor([token], dtype=torch.int32)


def bucket_batches(data: Sized, batch_tokens: int, generator: torch.Generator | None,
                   ) -> list[Tensor]:
    """Rows grouped so that (largest size) x (examples) <= batch_tokens; shuffled if a generator.

    Sorting by size after a random permutation makes ties random, so batches differ each epoch.
    """
    longest = data.sizes()  # (N,)
    order = torch.randperm(len(data), generator=generator) if generator is not None else \
        torch.arange(len(data))
    order = order[torch.sort(longest[order], stable=True).indices]
    batches, start = [], 0
    sorted_len = longest[order].tolist()
    for end in range(1, len(order) + 1):
        if sorted_len[end - 1] * (end - start) > batch_tokens and end - 1 > start:
            batches.append(order[start:end - 1])
            start = end - 1
    if start < len(order):
        batches.append(order[start:])
    if generator is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


class TaskIterator:
    """Endless shuffled batches of one task; the epoch's order is a function of (seed, epoch).

    ``make_batch(data, rows)`` is the task kind's: it turns the rows of one bucket into a batch;
    ``noise`` (a task's `tasks.<t>.noise`), if given, noises the sources of every batch drawn.
    ``shard`` (rank, world) of a run in several processes: the iterators of all ranks walk the
    same stream of batches, and rank r takes the batches r, r + world, r + 2 world, ... of it, so
    the batches of one update on all ranks are those `world` updates of one process would draw.
    """

    def __init__(self, data: Sized, make_batch: Callable[[Any, Tensor], Any], batch_tokens: int,
                 seed: int, noise: Noiser | None = None, shard: tuple[int, int] = (0, 1)) -> None:
        self.data, self.make_batch, self.batch_tokens, self.seed = data, make_batch, batch_tokens, seed
        self.noise = noise
        self.rank, self.world = shard
        self.epoch, self.position = 0, 0
        self._batches = self._epoch_batches()

    def _epoch_batches(self) -> list[Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return bucket_batches(self.data, self.batch_tokens, generator)

    def _take(self) -> Tensor:
        """The stream's next rows (a new epoch's order when this one is used up)."""
        if self.position >= len(self._batches):
            self.epoch, self.position = self.epoch + 1, 0
            self._batches = self._epoch_batches()
        rows = self._batches[self.position]
        self.position += 1
        return rows

    def __next__(self) -> Any:
        for _ in range(self.rank):  # the other ranks' batches before this one's
            self._take()
        rows = self._take()
        for _ in range(self.world - 1 - self.rank):
            self._take()
        batch = self.make_batch(self.data, rows)
        return batch if self.noise is None else self.noise(batch)

    def __iter__(self) -> "TaskIterator":
        return self

    def state_dict(self) -> dict:
        state = {"epoch": self.epoch, "position": self.position}
        if self.noise is not None:
            state["noise"] = self.noise.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._batches = self._epoch_batches()
        if self.noise is not None and "noise" in state:
            self.noise.load_state_dict(state["noise"])
