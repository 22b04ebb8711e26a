"""Heads: label predictors on encoder memory, which never generate (`classification`, `tagging`).

- ``classifier``: pools the masked states of a sentence (mean, max, or attention pooling with one
  learned query) and maps the pooled vector through a small feed-forward layer to one label.
- ``tagger``: the states at given positions (each word's first piece) through the same kind of
  feed-forward layer to one label per position.

Both receive ``num_labels`` (the size of the slot's label set) from the toolkit.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .base import HEADS, EncoderOutput, Head


def _feed_forward(dim: int, hidden: int, num_labels: int, dropout: float) -> nn.Module:
    """dim -> labels, through one ReLU layer of ``hidden`` units (0: a single linear map)."""
    if hidden <= 0:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_labels))
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(),
                         nn.Dropout(dropout), nn.Linear(hidden, num_labels))


@HEADS.register("classifier")
class Classifier(Head):
    """One label per sentence from its pooled states.

    Args:
        num_labels: label set size (provided). dim: the encoder's output size.
        pool: ``mean`` or ``max`` over real positions, or ``attention`` (softmax of a learned
            query's scores over real positions).
        hidden: units of the feed-forward layer (0: linear). dropout: before each linear map.
    """

    def __init__(self, num_labels: int, dim: int = 256,
                 pool: Literal["mean", "max", "attention"] = "mean", hidden: int = 256,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"a classifier needs at least one label, got {num_labels}")
        self.memory_size, self.pool = dim, pool
        self.query = nn.Linear(dim, 1, bias=False) if pool == "attention" else None
        self.out = _feed_forward(dim, hidden, num_labels, dropout)

    def pooled(self, memory: EncoderOutput) -> Tensor:
        states, mask = memory.states, memory.mask[:, :, None]  # (B, S, D), (B, S, 1)
        if self.pool == "max":
            return states.masked_fill(~mask, float("-inf")).amax(dim=1)  # (B, D)
        if self.pool == "attention":
            scores = self.query(states).masked_fill(~mask, float("-inf"))  # (B, S, 1)
            return (scores.softmax(dim=1) * states).sum(dim=1)  # (B, D)
        return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)  # (B, D)

    def forward(self, memory: EncoderOutput, positions: Tensor | None = None) -> Tensor:
        return self.out(self.pooled(memory))  # (B, L)


@HEADS.register("tagger")
class Tagger(Head):
    """One label per position picked from the memory (each word's first piece).

    Args:
        num_labels: label set size (provided). dim: the encoder's output size.
        hidden: units of the feed-forward layer (0: linear). dropout: before each linear map.
    """

    def __init__(self, num_labels: int, dim: int = 256, hidden: int = 256,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"a tagger needs at least one label, got {num_labels}")
        self.memory_size = dim
        self.out = _feed_forward(dim, hidden, num_labels, dropout)

    def forward(self, memory: EncoderOutput, positions: Tensor | None = None) -> Tensor:
        """``positions`` (B, W) indices into the memory's S axis -> logits (B, W, L)."""
        if positions is None:
            raise ValueError("a tagger needs the positions to label")
        index = positions[:, :, None].expand(-1, -1, memory.states.size(-1))  # (B, W, D)
        return self.out(torch.gather(memory.states, 1, index))  # (B, W, L)
