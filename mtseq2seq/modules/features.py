"""The `features` encoder: float vectors (image regions, any precomputed features) instead of ids.

A slot of this type reads `<split>.<slot>.npy` (`data/features.py`), one (K, D_in) row of K regions
per example, and needs no vocabulary. A linear projection maps D_in to the model size, then an
optional layer norm and dropout, optional positions (for a grid, where a region's place matters)
and optionally a few Transformer layers or a bidirectional LSTM over the K regions.
"""
from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .attention import check_heads, key_mask
from .base import ENCODERS, Encoder, EncoderOutput
from .dropout import Dropout
from .embeddings import SinusoidalPositions
from .linear import Linear
from .transformer import EncoderLayer


@ENCODERS.register("features")
class FeaturesEncoder(Encoder):
    """Projects K feature vectors per example to ``dim`` and optionally contextualizes them.

    Args:
        input_dim: D_in, the size of each vector in the .npy file (checked against the file).
        dim: model size, also ``output_size``.
        layers: layers over the K regions after the projection (0: none).
        layer_type: ``transformer`` (pre-norm self-attention) or ``rnn`` (bidirectional LSTM).
        heads, ff: attention heads and feed-forward size of Transformer layers.
        dropout: on the projected vectors and inside the layers.
        layer_norm: normalize the projected vectors.
        positions: add sinusoidal positions (region order carries meaning, e.g. a 7x7 grid).
    """

    input_kind = "features"

    def __init__(
        self, input_dim: int, dim: int = 256, layers: int = 0,
        layer_type: Literal["transformer", "rnn"] = "transformer", heads: int = 4, ff: int = 1024,
        dropout: float = 0.1, layer_norm: bool = True, positions: bool = False,
    ) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be at least 1, got {input_dim}")
        if layer_type == "rnn" and dim % 2:
            raise ValueError(f"dim ({dim}) must be even for rnn layers: it is split between two directions")
        if layer_type == "transformer" and layers:
            check_heads(dim, heads)
        self.output_size, self.layer_type = dim, layer_type
        self.project = Linear(input_dim, dim)
        self.norm = nn.LayerNorm(dim) if layer_norm else nn.Identity()
        self.positions = SinusoidalPositions(dim) if positions else None
        self.drop = Dropout(dropout)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, ff, dropout) for _ in range(layers)) \
            if layer_type == "transformer" else nn.ModuleList()
        self.lstm = nn.LSTM(dim, dim // 2, num_layers=layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0) \
            if layer_type == "rnn" and layers else None
        self.out_norm = nn.LayerNorm(dim) if len(self.layers) else nn.Identity()

    def input_layer(self) -> nn.Module:
        """The projection to ``dim``: a task embedding is added to each projected region."""
        return self.project

    def forward(self, src: Tensor, src_mask: Tensor) -> EncoderOutput:
        """Args: src (B, K, D_in) float; src_mask (B, K) bool, True = real region."""
        x = self.norm(self.project(src.to(self.project.weight.dtype)))  # (B, K, D)
        if self.positions is not None:
            x = x + self.positions(src.size(1))
        x = self.drop(x)
        if len(self.layers):
            mask = key_mask(src_mask)  # (B, 1, 1, K)
            for layer in self.layers:
                x = layer(x, mask)  # (B, K, D)
            x = self.out_norm(x)
        elif self.lstm is not None:
            lengths = src_mask.sum(dim=1).clamp(min=1).cpu()  # (B,)
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            x, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                       total_length=src.size(1))  # (B, K, D)
        return EncoderOutput(x.masked_fill(~src_mask[:, :, None], 0.0), src_mask)
