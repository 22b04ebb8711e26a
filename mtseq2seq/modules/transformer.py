"""Transformer encoder and decoder (registered as ``transformer``): pre-norm layers, sinusoidal positions.

The decoder's incremental state (see ``TransformerDecoder.init_state``) caches per-layer self-attention
keys/values, grown by one position per step, and the cross-attention keys/values of the memory,
computed once; a step therefore costs O(current length) and never re-runs the prefix.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .attention import CrossAttention, SelfAttention, check_heads, key_mask
from .base import DECODERS, ENCODERS, Decoder, Encoder, EncoderOutput, State
from .embeddings import SinusoidalPositions, TokenEmbedding


class FeedForward(nn.Sequential):
    """Position-wise Linear -> ReLU -> dropout -> Linear."""

    def __init__(self, dim: int, ff: int, dropout: float) -> None:
        super().__init__(nn.Linear(dim, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, dim))


class EncoderLayer(nn.Module):
    """Pre-norm self-attention + feed-forward block."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # x (B, S, D), mask (B, 1, 1, S)
        x = x + self.drop(self.attn(self.attn_norm(x), mask=mask))  # (B, S, D)
        return x + self.drop(self.ff(self.ff_norm(x)))  # (B, S, D)


class DecoderLayer(nn.Module):
    """Pre-norm causal self-attention + cross-attention + feed-forward block."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.self_norm = nn.LayerNorm(dim)
        self.self_attn = SelfAttention(dim, heads, dropout)
        self.cross_norm = nn.LayerNorm(dim)
        self.cross_attn = CrossAttention(dim, heads, dropout)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, cross_k: Tensor, cross_v: Tensor, mask: Tensor) -> Tensor:
        """Teacher forcing: x (B, T, D); cross_k/v (B, H, S, dh); mask (B, 1, 1, S)."""
        x = x + self.drop(self.self_attn(self.self_norm(x), causal=True))  # (B, T, D)
        return self._cross_and_ff(x, cross_k, cross_v, mask)  # (B, T, D)

    def step(
        self, x: Tensor, self_k: Tensor, self_v: Tensor, cross_k: Tensor, cross_v: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One position: x (B, 1, D); self_k/v (B, H, t, dh) -> output and caches grown to t + 1."""
        y, self_k, self_v = self.self_attn.step(self.self_norm(x), self_k, self_v)  # (B, 1, D)
        x = self._cross_and_ff(x + self.drop(y), cross_k, cross_v, mask)  # (B, 1, D)
        return x, self_k, self_v

    def _cross_and_ff(self, x: Tensor, cross_k: Tensor, cross_v: Tensor, mask: Tensor) -> Tensor:
        x = x + self.drop(self.cross_attn(self.cross_norm(x), cross_k, cross_v, mask))  # (B, T, D)
        return x + self.drop(self.ff(self.ff_norm(x)))  # (B, T, D)


@ENCODERS.register("transformer")
class TransformerEncoder(Encoder):
    """Pre-norm Transformer encoder; padded positions of the output are zero.

    Args:
        vocab_size: source vocabulary size (provided by the toolkit).
        pad_id: padding id (provided by the toolkit).
        dim: model size, also ``output_size``.
        layers: number of layers.
        heads: attention heads; must divide ``dim``.
        ff: hidden size of the feed-forward blocks.
        dropout: dropout on embeddings, residual branches, attention weights and FF hidden units.
    """

    def __init__(
        self, vocab_size: int, pad_id: int, dim: int = 256, layers: int = 3, heads: int = 4,
        ff: int = 1024, dropout: float = 0.1,
    ) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.output_size = dim
        self.embed = TokenEmbedding(vocab_size, dim, pad_id)
        self.positions = SinusoidalPositions(dim)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, src: Tensor, src_mask: Tensor) -> EncoderOutput:
        """Args: src (B, S) ids; src_mask (B, S) bool, True = real token."""
        x = self.drop(self.embed(src) + self.positions(src.size(1)))  # (B, S, D)
        mask = key_mask(src_mask)  # (B, 1, 1, S)
        for layer in self.layers:
            x = layer(x, mask)  # (B, S, D)
        states = self.norm(x).masked_fill(~src_mask[:, :, None], 0.0)  # (B, S, D)
        return EncoderOutput(states, src_mask)


@DECODERS.register("transformer")
class TransformerDecoder(Decoder):
    """Pre-norm Transformer decoder with cached incremental decoding.

    Args:
        vocab_size: target vocabulary size (provided by the toolkit).
        pad_id: padding id (provided by the toolkit).
        dim: model size, also ``memory_size``.
        layers: number of layers.
        heads: attention heads; must divide ``dim``.
        ff: hidden size of the feed-forward blocks.
        dropout: dropout on embeddings, residual branches, attention weights and FF hidden units.
        tie_embeddings: share one matrix between the input embedding and the output projection.
    """

    def __init__(
        self, vocab_size: int, pad_id: int, dim: int = 256, layers: int = 3, heads: int = 4,
        ff: int = 1024, dropout: float = 0.1, tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.memory_size = dim
        self.heads = heads
        self.embed = TokenEmbedding(vocab_size, dim, pad_id)
        self.positions = SinusoidalPositions(dim)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.output = nn.Linear(dim, vocab_size, bias=False)
        if tie_embeddings:
            self.output.weight = self.embed.weight

    def forward(self, tgt_in: Tensor, memory: EncoderOutput) -> Tensor:
        """Teacher forcing: tgt_in (B, T) ids -> logits (B, T, V)."""
        x = self.drop(self.embed(tgt_in) + self.positions(tgt_in.size(1)))  # (B, T, D)
        mask = key_mask(memory.mask)  # (B, 1, 1, S)
        for layer in self.layers:
            cross_k, cross_v = layer.cross_attn.project_memory(memory.states)  # (B, H, S, dh) each
            x = layer(x, cross_k, cross_v, mask)  # (B, T, D)
        return self.output(self.norm(x))  # (B, T, V)

    def init_state(self, memory: EncoderOutput) -> State:
        """State: a dict with

        - ``self_k``, ``self_v``: per-layer lists of (B, H, t, dh) caches, t = 0 at first;
        - ``cross_k``, ``cross_v``: per-layer lists of (B, H, S, dh) memory projections;
        - ``pos``: int, the position of the next token (= t).
        """
        states = memory.states
        batch, head_dim = states.size(0), self.memory_size // self.heads
        empty = states.new_zeros(batch, self.heads, 0, head_dim)  # (B, H, 0, dh)
        cross = [layer.cross_attn.project_memory(states) for layer in self.layers]  # L x 2 x (B, H, S, dh)
        return {
            "self_k": [empty] * len(self.layers),
            "self_v": [empty] * len(self.layers),
            "cross_k": [k for k, _ in cross],
            "cross_v": [v for _, v in cross],
            "pos": 0,
        }

    def step(self, prev: Tensor, memory: EncoderOutput, state: State) -> tuple[Tensor, State]:
        """prev (B,) last tokens -> logits (B, V) and the state one position longer."""
        pos = state["pos"]
        x = self.drop(self.embed(prev[:, None]) + self.positions(1, offset=pos))  # (B, 1, D)
        mask = key_mask(memory.mask)  # (B, 1, 1, S)
        new_k, new_v = [], []
        for i, layer in enumerate(self.layers):
            x, k, v = layer.step(x, state["self_k"][i], state["self_v"][i],
                                 state["cross_k"][i], state["cross_v"][i], mask)  # (B, 1, D)
            new_k.append(k)
            new_v.append(v)
        logits = self.output(self.norm(x[:, 0]))  # (B, V)
        return logits, {**state, "self_k": new_k, "self_v": new_v, "pos": pos + 1}

    def reorder_state(self, state: State, order: Tensor) -> State:
        """Every tensor in the state index-selected along batch (dim 0); ``pos`` unchanged."""
        return {key: _index_select(value, order) for key, value in state.items()}


def _index_select(value: Any, order: Tensor) -> Any:
    """Tensors (and lists of tensors) picked along dim 0; anything else returned as is."""
    if isinstance(value, Tensor):
        return value.index_select(0, order)
    if isinstance(value, list):
        return [_index_select(v, order) for v in value]
    return value
