"""Label-smoothed cross-entropy over non-padding target tokens, plus the counts that go with it."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class LossOutput:
    loss: Tensor  # scalar: smoothed loss summed over tokens (what we backpropagate, after / tokens)
    nll: float  # summed negative log-likelihood (for perplexity)
    tokens: int  # non-padding target tokens
    correct: int  # argmax predictions equal to the target


def label_smoothed_loss(logits: Tensor, target: Tensor, smoothing: float, pad_id: int) -> LossOutput:
    """``logits`` (B, T, V), ``target`` (B, T). Smoothing spreads ``smoothing`` mass uniformly."""
    lprobs = logits.float().log_softmax(dim=-1)  # (B, T, V); fp32 even under autocast
    keep = target.ne(pad_id)  # (B, T)
    nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T)
    smooth = -lprobs.mean(dim=-1)  # (B, T)
    per_token = (1.0 - smoothing) * nll + smoothing * smooth
    loss = per_token.masked_select(keep).sum()
    with torch.no_grad():
        correct = int((logits.argmax(-1).eq(target) & keep).sum())
        nll_sum = float(nll.masked_select(keep).sum())
    return LossOutput(loss, nll_sum, int(keep.sum()), correct)
