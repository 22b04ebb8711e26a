"""Attention layers: multi-head self/cross attention (Transformer) and Luong "general" attention (RNN).

Multi-head attention goes through ``torch.nn.functional.scaled_dot_product_attention`` so PyTorch
picks the fused kernel; projections are fused (one Linear for Q, K, V in self-attention, one for
K, V in cross-attention). Masks are bool, True = may attend. On the CPU two cases compute the same
thing explicitly instead (``attend``): training with attention dropout, with the cheap dropout mask
of ``dropout.py`` (PyTorch's own path there is the same unfused math plus a ``bernoulli_`` mask),
and, by default, bfloat16 (autocast), where the fused CPU kernel was about 5x slower than two bf16
products and a float32 softmax (forward + backward at the toy and benchmark sizes, torch 2.13, AMD
EPYC). Without dropout the choice per dtype is ``use_fused_attention``'s, which `fast_paths.py`
makes by timing both on the machine at hand.

Cross-attention's incremental ``step`` takes the memory keys/values at *memory rows*, fewer than
the decoder rows when beam search runs K hypotheses per sentence: ``rows`` maps decoder rows to
memory rows, and when every memory row serves ``group`` consecutive decoder rows, the group's
queries attend together as ``group`` query positions of one memory row (no copied keys/values).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dropout import dropout as drop
from .linear import Linear


def check_heads(dim: int, heads: int) -> None:
    """Raise ValueError unless ``dim`` splits evenly into ``heads``."""
    if heads < 1 or dim % heads:
        raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")


def key_mask(mask: Tensor) -> Tensor:
    """(B, S) keep-mask -> (B, 1, 1, S) mask for SDPA.

    A row without any real key (an empty sequence) would give NaN; it may attend everywhere instead,
    and its output is meaningless but finite (the encoder zeroes such positions anyway).
    """
    mask = mask | ~mask.any(-1, keepdim=True)  # (B, S)
    return mask[:, None, None, :]  # (B, 1, 1, S)


def split_heads(x: Tensor, parts: int, heads: int) -> Tensor:
    """(B, T, parts * D) -> (parts, B, H, T, D / H), a view (no copy)."""
    batch, length, _ = x.shape
    return x.view(batch, length, parts, heads, -1).permute(2, 0, 3, 1, 4)  # (P, B, H, T, dh)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, dh) -> (B, T, H * dh)."""
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)  # (B, T, D)


# Without dropout on the CPU: PyTorch's fused kernel (True) or the written-out path, per dtype.
# These are the defaults; `fast_paths.py` sets them from what it measures on the machine at hand.
_FUSED_ON_CPU: dict[torch.dtype, bool] = {torch.float32: True, torch.bfloat16: False}


def use_fused_attention(dtype: torch.dtype, fused: bool) -> None:
    """CPU attention without dropout in ``dtype``: the fused kernel, or two products and a softmax."""
    _FUSED_ON_CPU[dtype] = fused


def fused_attention(dtype: torch.dtype) -> bool:
    """Whether CPU attention without dropout in ``dtype`` takes the fused kernel now."""
    return _FUSED_ON_CPU.get(dtype, True)


def attend(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, causal: bool, p: float, training: bool
) -> Tensor:
    """Scaled dot-product attention with dropout ``p`` on the weights when ``training``.

    Args: q (B, H, T, dh); k, v (B, H, S, dh); mask broadcastable to (B, H, T, S) or None.
    Returns (B, H, T, dh).
    """
    p = p if training else 0.0
    if q.device.type != "cpu" or (p == 0.0 and _FUSED_ON_CPU.get(q.dtype, True)):
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal)  # (B, H, T, dh)
    scores = torch.matmul(q * q.size(-1) ** -0.5, k.transpose(-2, -1))  # (B, H, T, S)
    if causal:
        length, keys = scores.shape[-2:]
        mask = torch.ones(length, keys, dtype=torch.bool, device=q.device).tril(keys - length)  # (T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1, dtype=torch.float32).to(v.dtype)  # (B, H, T, S)
    return torch.matmul(drop(weights, p, p > 0.0), v)  # (B, H, T, dh)


def step_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, p: float, training: bool
                   ) -> Tensor:
    """Attention of the newest position(s) during decoding: q (B, H, G, dh), k, v (B, H, S, dh).

    Written out (two products and a softmax) rather than the fused kernel: for these few queries it
    is as fast, and it computes each query row the same way whatever G is, so beam search's grouped
    rows (G hypotheses of one sentence) score exactly as greedy's single rows do.
    """
    if training and p > 0.0:
        return attend(q, k, v, mask, False, p, training)  # (B, H, G, dh)
    weights = attention_weights(q, k, mask).to(v.dtype)  # (B, H, G, S)
    return torch.matmul(weights, v)  # (B, H, G, dh)


def attention_weights(q: Tensor, k: Tensor, mask: Tensor | None) -> Tensor:
    """softmax(q k^T / sqrt(dh)) in float32, written out: q (B, H, T, dh), k (B, H, S, dh), mask
    broadcastable to (B, H, T, S) or None -> (B, H, T, S); a masked key gets exactly 0."""
    scores = torch.matmul(q * q.size(-1) ** -0.5, k.transpose(-2, -1))  # (B, H, T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1, dtype=torch.float32)  # (B, H, T, S)


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused QKV projection and an incremental K/V cache path.

    Args:
        dim: model size.
        heads: number of heads; must divide ``dim``.
        dropout: dropout on attention weights (training only).
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.heads = heads
        self.dropout = dropout
        self.qkv = Linear(dim, 3 * dim)
        self.out = Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False) -> Tensor:
        """Args: x (B, T, D); mask broadcastable to (B, H, T, T) or None; causal for decoders."""
        q, k, v = split_heads(self.qkv(x), 3, self.heads).unbind(0)  # 3 x (B, H, T, dh)
        y = attend(q, k, v, mask, causal, self.dropout, self.training)  # (B, H, T, dh)
        return self.out(merge_heads(y))  # (B, T, D)

    def step(self, x: Tensor, cache_k: Tensor, cache_v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One new position attending to the cached prefix and itself.

        Args:
            x: (B, 1, D) the newest position.
            cache_k, cache_v: (B, H, t, dh) keys/values of the previous positions.

        Returns:
            (B, 1, D) output, and the caches grown to (B, H, t + 1, dh).
        """
        q, k, v = split_heads(self.qkv(x), 3, self.heads).unbind(0)  # 3 x (B, H, 1, dh)
        k = torch.cat([cache_k.to(k.dtype), k], dim=2)  # (B, H, t + 1, dh)
        v = torch.cat([cache_v.to(v.dtype), v], dim=2)  # (B, H, t + 1, dh)
        y = step_attention(q, k, v, None, self.dropout, self.training)  # (B, H, 1, dh)
        return self.out(merge_heads(y)), k, v  # (B, 1, D)


class CrossAttention(nn.Module):
    """Multi-head attention from decoder positions to encoder memory, with a fused KV projection.

    The memory's keys/values are projected once (``project_memory``) and reused at every step.

    Args:
        dim: model size (queries and memory).
        heads: number of heads; must divide ``dim``.
        dropout: dropout on attention weights (training only).
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.heads = heads
        self.dropout = dropout
        self.q = Linear(dim, dim)
        self.kv = Linear(dim, 2 * dim)
        self.out = Linear(dim, dim)

    def project_memory(self, states: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S, D) memory -> keys, values, each (B, H, S, dh)."""
        k, v = split_heads(self.kv(states), 2, self.heads).unbind(0)  # 2 x (B, H, S, dh)
        return k, v

    def forward(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
        """Args: x (B, T, D); k, v (B, H, S, dh); mask (B, 1, 1, S) from ``key_mask``."""
        q = split_heads(self.q(x), 1, self.heads)[0]  # (B, H, T, dh)
        # .to() is a no-op unless the memory was projected outside the autocast region of the query
        k, v = k.to(q.dtype), v.to(q.dtype)
        y = attend(q, k, v, mask, False, self.dropout, self.training)  # (B, H, T, dh)
        return self.out(merge_heads(y))  # (B, T, D)

    def weights(self, x: Tensor, k: Tensor, mask: Tensor) -> Tensor:
        """The attention weights ``forward`` applies (without dropout), recomputed outside the
        fused kernel, which never exposes them: x (B, T, D); k (B, H, S, dh); mask (B, 1, 1, S).
        Returns (B, H, T, S) float32, each row summing to 1 over the real keys."""
        q = split_heads(self.q(x), 1, self.heads)[0]  # (B, H, T, dh)
        return attention_weights(q, k.to(q.dtype), mask)  # (B, H, T, S)

    def step(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor, rows: Tensor | None, group: int
             ) -> Tensor:
        """One position of N decoder rows against memory keys/values kept at M memory rows.

        Args:
            x: (N, 1, D) queries.
            k, v: (M, H, S, dh) memory keys/values; mask: (M, 1, 1, S).
            rows: (N,) memory row of each decoder row, or None when they are the same rows (N = M).
            group: when > 0, ``rows`` is ``arange(M).repeat_interleave(group)`` (N = M * group).

        Returns:
            (N, 1, D).
        """
        if not group:
            if rows is not None:  # an arbitrary mapping: copy the rows' keys/values
                k, v, mask = k.index_select(0, rows), v.index_select(0, rows), mask.index_select(0, rows)
            group = 1
        rows_n, dim = x.size(0), x.size(-1)
        q = self.q(x).view(rows_n // group, group, self.heads, -1).transpose(1, 2)  # (M, H, G, dh)
        k, v = k.to(q.dtype), v.to(q.dtype)
        y = step_attention(q, k, v, mask, self.dropout, self.training)  # (M, H, G, dh)
        return self.out(y.transpose(1, 2).reshape(rows_n, 1, dim))  # (N, 1, D)


class LuongAttention(nn.Module):
    """Luong et al. (2015) "general" attention: score(h_t, h_s) = h_t^T W_a h_s, masked softmax.

    Computed as (W_a^T h_t) . h_s: projecting the query once per step is cheaper than projecting
    every memory position.

    Args:
        query_size: size of the decoder hidden state h_t.
        memory_size: size of the encoder states h_s.
    """

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        self.proj = Linear(query_size, memory_size, bias=False)

    def forward(self, query: Tensor, states: Tensor, mask: Tensor) -> Tensor:
        """Args: query (B, Dq); states (B, S, Dm); mask (B, S) True = real. Returns context (B, Dm)."""
        q, scores = self._scores(query, states, mask)  # (B, Dm), (B, S)
        weights = scores.softmax(dim=-1)  # (B, S)
        return torch.bmm(weights[:, None, :].to(q.dtype), states.to(q.dtype)).squeeze(1)  # (B, Dm)

    def weights(self, query: Tensor, states: Tensor, mask: Tensor) -> Tensor:
        """The weights ``forward`` averages the states with: (B, S), summing to 1 over the real
        positions (a masked one gets 0)."""
        return self._scores(query, states, mask)[1].softmax(dim=-1)  # (B, S)

    def _scores(self, query: Tensor, states: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """The projected query (B, Dm) and the masked scores (B, S)."""
        q = self.proj(query)  # (B, Dm)
        scores = torch.bmm(states.to(q.dtype), q[:, :, None]).squeeze(2)  # (B, S)
        # a finite fill keeps rows without real positions NaN-free (uniform weights instead)
        return q, scores.masked_fill(~mask, torch.finfo(scores.dtype).min)  # (B, Dm), (B, S)
