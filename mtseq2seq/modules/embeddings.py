"""Input layers shared by the token-based families: scaled token embeddings and sinusoidal positions."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class TokenEmbedding(nn.Embedding):
    """Token embedding multiplied by sqrt(dim) (Vaswani et al. 2017).

    Weights start at N(0, 1/dim), so the scaled vectors have unit variance while the raw matrix has
    the right scale to double as a tied output projection. The ``pad_id`` row stays zero.

    Args:
        vocab_size: number of token ids.
        dim: embedding size.
        pad_id: id of the padding token.
    """

    def __init__(self, vocab_size: int, dim: int, pad_id: int) -> None:
        super().__init__(vocab_size, dim, padding_idx=pad_id)
        self.scale = math.sqrt(dim)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, mean=0.0, std=self.embedding_dim**-0.5)
        self._fill_padding_idx_with_zero()

    def forward(self, tokens: Tensor) -> Tensor:  # (B, T) -> (B, T, D)
        return super().forward(tokens) * self.scale  # (B, T, D)


def sinusoids(length: int, dim: int) -> Tensor:
    """(length, dim) table: sin on even channels, cos on odd ones, wavelengths 2*pi .. 10000*2*pi."""
    half = (dim + 1) // 2
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    freq = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) * 2 / dim))  # (half,)
    angle = position * freq  # (L, half)
    table = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)  # (L, 2 * half)
    return table[:, :dim]  # (L, D)


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal position encodings; the table grows on demand and is not saved in checkpoints.

    Args:
        dim: encoding size.
        max_len: rows computed up front (more are added when a longer sequence shows up).
    """

    def __init__(self, dim: int, max_len: int = 1024) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("table", sinusoids(max_len, dim), persistent=False)

    def forward(self, length: int, offset: int = 0) -> Tensor:
        """Encodings of positions ``offset .. offset + length - 1``: (length, D)."""
        end = offset + length
        if end > self.table.size(0):
            self.table = sinusoids(max(end, 2 * self.table.size(0)), self.dim).to(self.table)
        return self.table[offset:end]  # (T, D)
