"""Synthetic batches shared by every benchmarked system, and analytic FLOP counts.

Sentences are random word ids (4 .. V-1; ids 0-3 are PAD, UNK, BOS, EOS here and, after remapping
PAD, in JoeyNMT too) with target lengths drawn from a clipped normal (mean 24, sd 7, 10 .. 40 words)
and source lengths within +-3 of the target's, like a real parallel corpus. Sentences are sorted by
length and cut into batches of about ``batch_tokens`` target tokens (EOS included), then every batch
is sorted by decreasing source length (JoeyNMT's packed LSTMs want that; no one else cares).
A batch is plain lists so it can go through JSON to another interpreter.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

PAD, UNK, BOS, EOS = 0, 1, 2, 3


@dataclass
class Sizes:
    """Model sizes of the compared Transformers (and of the recurrent models)."""

    vocab: int = 8000
    dim: int = 256
    layers: int = 3
    heads: int = 4
    ff: int = 1024
    dropout: float = 0.1
    rnn_dim: int = 512  # encoder output (both directions) and decoder hidden size
    rnn_embed: int = 256
    rnn_layers: int = 2


def sentence_lengths(count: int, seed: int, low: int = 10, high: int = 40) -> list[tuple[int, int]]:
    """(source, target) word counts of ``count`` sentence pairs."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        tgt = min(high, max(low, round(rng.gauss(24, 7))))
        src = min(high, max(low, tgt + rng.randint(-3, 3)))
        pairs.append((src, tgt))
    return pairs


def make_batches(count: int, batch_tokens: int, vocab: int, seed: int = 0) -> list[dict]:
    """``count`` batches of about ``batch_tokens`` target tokens: {"src": [[ids]], "tgt": [[ids]]}."""
    rng = random.Random(seed + 1)
    pairs = sorted(sentence_lengths(count * batch_tokens // 25 + 64, seed), key=lambda p: p[1])
    batches, current, tokens = [], [], 0
    start = rng.randrange(len(pairs) // 4)  # a random but fixed mix of lengths
    for src_len, tgt_len in pairs[start:] + pairs[:start]:
        current.append((src_len, tgt_len))
        tokens += tgt_len + 1
        if tokens >= batch_tokens:
            batches.append(current)
            current, tokens = [], 0
    rng.shuffle(batches)
    out = []
    for lengths in batches[:count]:
        lengths.sort(key=lambda p: -p[0])
        out.append({"src": [[rng.randrange(4, vocab) for _ in range(s)] for s, _ in lengths],
                    "tgt": [[rng.randrange(4, vocab) for _ in range(t)] for _, t in lengths]})
    if len(out) < count:
        raise ValueError(f"only {len(out)} batches of {batch_tokens} tokens; ask for fewer")
    return out


def save_batches(batches: list[dict], path: Path) -> None:
    path.write_text(json.dumps(batches), encoding="utf-8")


def pad(rows: list[list[int]], value: int) -> Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


@dataclass
class Tensors:
    """One batch as our trainer feeds it: src + EOS, BOS + tgt, tgt + EOS; PAD = 0."""

    src: Tensor  # (B, S)
    tgt_in: Tensor  # (B, T)
    tgt_out: Tensor  # (B, T)
    tokens: int  # target tokens (EOS included)

    def to(self, device: torch.device | str) -> "Tensors":
        return Tensors(self.src.to(device), self.tgt_in.to(device), self.tgt_out.to(device), self.tokens)


def tensors(batch: dict, pad_id: int = PAD) -> Tensors:
    src = pad([s + [EOS] for s in batch["src"]], pad_id)
    tgt_in = pad([[BOS] + t for t in batch["tgt"]], pad_id)
    tgt_out = pad([t + [EOS] for t in batch["tgt"]], pad_id)
    return Tensors(src, tgt_in, tgt_out, sum(len(t) + 1 for t in batch["tgt"]))


def transformer_flops(batch: dict, sizes: Sizes) -> float:
    """Training FLOPs (3 x forward: forward, and backward for inputs and weights) of one batch.

    Counts the matrix multiplications of real (unpadded) tokens: projections, feed-forward,
    attention scores and weighted sums (full, not halved for causal masking), output layer.
    """
    d, f, v, layers = sizes.dim, sizes.ff, sizes.vocab, sizes.layers
    total = 0.0
    for src, tgt in zip(batch["src"], batch["tgt"]):
        s, t = len(src) + 1, len(tgt) + 1
        encoder = s * (2 * 4 * d * d + 2 * 2 * d * f) + 4 * s * s * d
        decoder = (t * (2 * 4 * d * d + 2 * 2 * d * d + 2 * 2 * d * f) + s * 2 * 2 * d * d
                   + 4 * t * t * d + 4 * t * s * d)
        total += layers * (encoder + decoder) + 2 * t * d * v
    return 3 * total


def rnn_flops(batch: dict, sizes: Sizes) -> float:
    """Training FLOPs of a bidirectional LSTM encoder and an input-feeding Luong LSTM decoder."""
    e, h, v, layers = sizes.rnn_embed, sizes.rnn_dim, sizes.vocab, sizes.rnn_layers
    half = h // 2
    total = 0.0
    for src, tgt in zip(batch["src"], batch["tgt"]):
        s, t = len(src) + 1, len(tgt) + 1
        encoder = sum(2 * 2 * 4 * half * ((e if i == 0 else h) + half) for i in range(layers)) * s
        lstm = sum(2 * 4 * h * ((e + h if i == 0 else h) + h) for i in range(layers))
        attention = 2 * h * h + 4 * s * h + 2 * 2 * h * h
        total += encoder + t * (lstm + attention + 2 * h * v)
    return 3 * total
