"""Transformer encoder and decoder (registered as ``transformer``): pre-norm layers, sinusoidal positions.

The decoder's incremental state (see ``TransformerDecoder.init_state``) caches per-layer self-attention
keys/values, grown by one position per step, and the cross-attention keys/values of the memory,
computed once; a step therefore costs O(current length) and never re-runs the prefix.
``reorder_state`` never copies the memory keys/values just to follow the decoder rows: it keeps a map
from decoder rows to memory rows, and compacts the memory rows only when some are no longer used
(beam search: when sentences finish), so expanding to K hypotheses or reordering them costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .attention import CrossAttention, SelfAttention, check_heads, key_mask
from .base import DECODERS, ENCODERS, Decoder, Encoder, EncoderOutput, State
from .dropout import Dropout
from .embeddings import SinusoidalPositions, TokenEmbedding
from .feedforward import FeedForward
from .linear import Linear


class EncoderLayer(nn.Module):
    """Pre-norm self-attention + feed-forward block."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff, dropout)
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # x (B, S, D), mask (B, 1, 1, S)
        x = self.drop.add(x, self.attn(self.attn_norm(x), mask=mask))  # (B, S, D)
        return self.drop.add(x, self.ff(self.ff_norm(x)))  # (B, S, D)


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
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor, cross_k: Tensor, cross_v: Tensor, mask: Tensor) -> Tensor:
        """Teacher forcing: x (B, T, D); cross_k/v (B, H, S, dh); mask (B, 1, 1, S)."""
        x = self.drop.add(x, self.self_attn(self.self_norm(x), causal=True))  # (B, T, D)
        x = self.drop.add(x, self.cross_attn(self.cross_norm(x), cross_k, cross_v, mask))  # (B, T, D)
        return self.drop.add(x, self.ff(self.ff_norm(x)))  # (B, T, D)

    def cross_weights(self, x: Tensor, cross_k: Tensor, mask: Tensor) -> Tensor:
        """The weights of this layer's cross-attention in ``forward`` on input x (B, T, D), with
        cross_k (B, H, S, dh) and mask (B, 1, 1, S): (B, H, T, S) float32."""
        x = self.drop.add(x, self.self_attn(self.self_norm(x), causal=True))  # (B, T, D)
        return self.cross_attn.weights(self.cross_norm(x), cross_k, mask)  # (B, H, T, S)

    def step(
        self, x: Tensor, self_k: Tensor, self_v: Tensor, cross: "_Cross", layer: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One position: x (N, 1, D); self_k/v (N, H, t, dh) -> output and caches grown to t + 1."""
        y, self_k, self_v = self.self_attn.step(self.self_norm(x), self_k, self_v)  # (N, 1, D)
        x = self.drop.add(x, y)  # (N, 1, D)
        y = self.cross_attn.step(self.cross_norm(x), cross.k[layer], cross.v[layer], cross.mask,
                                 cross.rows, cross.group)  # (N, 1, D)
        x = self.drop.add(x, y)  # (N, 1, D)
        return self.drop.add(x, self.ff(self.ff_norm(x))), self_k, self_v  # (N, 1, D)


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
        self.drop = Dropout(dropout)
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
        self.drop = Dropout(dropout)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.output = Linear(dim, vocab_size, bias=False)
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

    def cross_attention(self, tgt_in: Tensor, memory: EncoderOutput, layer: int | None = -1
                        ) -> Tensor:
        """Teacher-forced cross-attention weights, tgt_in (B, T) -> (B, T, S), averaged over heads.

        By default those of the last layer, whose attention feeds the output most directly and is
        the usual one to show; ``layer`` picks another (an index into the layers), or None the
        mean over all layers. The layers run as in ``forward`` (fused attention); only the chosen
        layers' softmax(QK^T) is recomputed, written out (`CrossAttention.weights`).
        """
        count = len(self.layers)
        try:
            wanted = list(range(count)) if layer is None else [range(count)[layer]]
        except IndexError:
            raise ValueError(f"layer {layer}: the decoder has {count} layer(s)") from None
        x = self.drop(self.embed(tgt_in) + self.positions(tgt_in.size(1)))  # (B, T, D)
        mask = key_mask(memory.mask)  # (B, 1, 1, S)
        found = []
        for i, block in enumerate(self.layers[:wanted[-1] + 1]):
            cross_k, cross_v = block.cross_attn.project_memory(memory.states)  # (B, H, S, dh) each
            if i in wanted:
                found.append(block.cross_weights(x, cross_k, mask).mean(dim=1))  # (B, T, S)
            x = block(x, cross_k, cross_v, mask) if i < wanted[-1] else x  # (B, T, D)
        return torch.stack(found).mean(dim=0)  # (B, T, S)

    def init_state(self, memory: EncoderOutput) -> State:
        """State: a dict with

        - ``self_k``, ``self_v``: per-layer lists of (N, H, t, dh) caches, t = 0 at first;
        - ``cross_k``, ``cross_v``: per-layer lists of (M, H, S, dh) memory projections at *memory
          rows*, and ``cross_mask`` (M, 1, 1, S) their key mask; M = N = B at first;
        - ``cross_rows``: (N,) memory row of each decoder row, or None when they are the same;
        - ``cross_group``: G > 0 when ``cross_rows`` is ``arange(M).repeat_interleave(G)``, else 0;
        - ``pos``: int, the position of the next token (= t).
        """
        states = memory.states
        batch, head_dim = states.size(0), self.memory_size // self.heads
        empty = states.new_zeros(batch, self.heads, 0, head_dim)  # (B, H, 0, dh)
        # contiguous once here: the heads' view of the projection cannot be batched without a copy,
        # which every step's product would otherwise make again
        cross = [[t.contiguous() for t in layer.cross_attn.project_memory(states)]
                 for layer in self.layers]  # L x 2 x (B, H, S, dh)
        return {
            "self_k": [empty] * len(self.layers),
            "self_v": [empty] * len(self.layers),
            "cross_k": [k for k, _ in cross],
            "cross_v": [v for _, v in cross],
            "cross_mask": key_mask(memory.mask),  # (B, 1, 1, S)
            "cross_rows": None,
            "cross_group": 0,
            "pos": 0,
        }

    def step(self, prev: Tensor, memory: EncoderOutput, state: State) -> tuple[Tensor, State]:
        """prev (N,) last tokens -> logits (N, V) and the state one position longer.

        The memory keys/values and mask come from ``state`` (``memory`` is what it was built from).
        """
        pos = state["pos"]
        x = self.drop(self.embed(prev[:, None]) + self.positions(1, offset=pos))  # (N, 1, D)
        cross = _Cross.of(state)
        new_k, new_v = [], []
        for i, layer in enumerate(self.layers):
            x, k, v = layer.step(x, state["self_k"][i], state["self_v"][i], cross, i)  # (N, 1, D)
            new_k.append(k)
            new_v.append(v)
        logits = self.output(self.norm(x[:, 0]))  # (N, V)
        return logits, {**state, "self_k": new_k, "self_v": new_v, "pos": pos + 1}

    def reorder_state(self, state: State, order: Tensor) -> State:
        """Rows picked by ``order`` (N',): the self-attention caches are copied; the memory rows are
        only re-mapped, and copied (compacted) when some of them are no longer used."""
        rows = order if state["cross_rows"] is None else state["cross_rows"].index_select(0, order)
        return {
            **state,
            "self_k": [k.index_select(0, order) for k in state["self_k"]],
            "self_v": [v.index_select(0, order) for v in state["self_v"]],
            **_compact_memory(state, rows),
        }


@dataclass
class _Cross:
    """The memory side of a decoder state: every layer's keys/values at memory rows, and the map."""

    k: list[Tensor]  # L x (M, H, S, dh)
    v: list[Tensor]  # L x (M, H, S, dh)
    mask: Tensor  # (M, 1, 1, S)
    rows: Tensor | None  # (N,) memory row of each decoder row; None: the identity
    group: int  # G > 0: rows == arange(M).repeat_interleave(G)

    @classmethod
    def of(cls, state: State) -> "_Cross":
        return cls(state["cross_k"], state["cross_v"], state["cross_mask"], state["cross_rows"],
                   state["cross_group"])


def _compact_memory(state: State, rows: Tensor) -> dict[str, Any]:
    """The state's memory entries for decoder rows reading memory rows ``rows`` (N,): unused memory
    rows dropped (a copy only then), the map renumbered, and its group structure detected."""
    used, inverse = torch.unique(rows, sorted=True, return_inverse=True)  # (M',), (N,)
    out: dict[str, Any] = {}
    if used.numel() < state["cross_mask"].size(0):
        out["cross_k"] = [k.index_select(0, used) for k in state["cross_k"]]
        out["cross_v"] = [v.index_select(0, used) for v in state["cross_v"]]
        out["cross_mask"] = state["cross_mask"].index_select(0, used)
        rows = inverse  # (N,)
    count, memory_rows = rows.numel(), used.numel()
    group = count // memory_rows if memory_rows and count % memory_rows == 0 else 0
    grouped = torch.arange(memory_rows, device=rows.device).repeat_interleave(group) if group else None
    if grouped is not None and not torch.equal(rows, grouped):
        group = 0
    out["cross_rows"], out["cross_group"] = (None, 0) if group == 1 else (rows, group)
    return out
