"""Attention layers: multi-head self/cross attention (Transformer) and Luong "general" attention (RNN).

Multi-head attention goes through ``torch.nn.functional.scaled_dot_product_attention`` so PyTorch
picks the fused kernel; projections are fused (one Linear for Q, K, V in self-attention, one for
K, V in cross-attention). Masks are bool, True = may attend.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False) -> Tensor:
        """Args: x (B, T, D); mask broadcastable to (B, H, T, T) or None; causal for decoders."""
        q, k, v = split_heads(self.qkv(x), 3, self.heads).unbind(0)  # 3 x (B, H, T, dh)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=p, is_causal=causal
        )  # (B, H, T, dh)
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
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)  # (B, H, 1, dh)
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
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def project_memory(self, states: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S, D) memory -> keys, values, each (B, H, S, dh)."""
        k, v = split_heads(self.kv(states), 2, self.heads).unbind(0)  # 2 x (B, H, S, dh)
        return k, v

    def forward(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
        """Args: x (B, T, D); k, v (B, H, S, dh); mask (B, 1, 1, S) from ``key_mask``."""
        q = split_heads(self.q(x), 1, self.heads)[0]  # (B, H, T, dh)
        p = self.dropout if self.training else 0.0
        # .to() is a no-op unless the memory was projected outside the autocast region of the query
        k, v = k.to(q.dtype), v.to(q.dtype)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, H, T, dh)
        return self.out(merge_heads(y))  # (B, T, D)


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
        self.proj = nn.Linear(query_size, memory_size, bias=False)

    def forward(self, query: Tensor, states: Tensor, mask: Tensor) -> Tensor:
        """Args: query (B, Dq); states (B, S, Dm); mask (B, S) True = real. Returns context (B, Dm)."""
        q = self.proj(query)  # (B, Dm)
        scores = torch.bmm(states.to(q.dtype), q[:, :, None]).squeeze(2)  # (B, S)
        # a finite fill keeps rows without real positions NaN-free (uniform weights instead)
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)  # (B, S)
        weights = scores.softmax(dim=-1)  # (B, S)
        return torch.bmm(weights[:, None, :].to(q.dtype), states.to(q.dtype)).squeeze(1)  # (B, Dm)
