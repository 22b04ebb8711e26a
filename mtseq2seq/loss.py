"""Label-smoothed cross-entropy over non-padding target tokens, plus the counts that go with it.

The loss is one autograd function: with ``lse`` the log-sum-exp of a row of logits ``z``,
``nll = lse - z[target]``, ``smooth = lse - mean(z)`` and, for a kept row with upstream gradient g,
``d loss / d z = g * (softmax(z) - smoothing / V - (1 - smoothing) * onehot(target))``.
That needs no (N, V) log-probability tensor, no gradient of a gather or a mean, and no separate
log-softmax backward: the forward pass reads the logits a few times and the backward pass writes
the gradient once. Rows are processed in chunks so the (N, V) work stays in the CPU's caches;
everything is computed in float32, whatever the logits' dtype (bf16 under autocast).

On the CPU the (N, V) gradient is written into a buffer kept from the previous step when nothing
else holds it any more: a fresh allocation that large is a fresh ``mmap`` whose first touch page
faults, which cost as much as the arithmetic here.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

CHUNK_ELEMENTS = 1 << 18  # logits per chunk (1 MiB of float32): rows are processed this many at a time


@dataclass
class LossOutput:
    loss: Tensor  # scalar: smoothed loss summed over tokens (what we backpropagate, after / tokens)
    nll: float  # summed negative log-likelihood (for perplexity)
    tokens: int  # non-padding target tokens
    correct: int  # argmax predictions equal to the target


class _Reused:
    """One CPU buffer per dtype, handed out again once every view of the last one is gone."""

    buffers: dict[torch.dtype, tuple[Tensor, int]] = {}  # dtype -> (buffer, its unshared use count)

    @staticmethod
    def _uses(buffer: Tensor) -> int:
        return torch._C._storage_Use_Count(buffer.untyped_storage()._cdata)

    @classmethod
    def empty_like(cls, like: Tensor) -> Tensor:
        if like.device.type != "cpu" or not hasattr(torch._C, "_storage_Use_Count"):
            return torch.empty_like(like)
        buffer, alone = cls.buffers.get(like.dtype, (None, 0))
        if buffer is None or buffer.numel() < like.numel() or cls._uses(buffer) > alone:
            buffer = torch.empty(like.numel(), dtype=like.dtype)
            cls.buffers[like.dtype] = buffer, cls._uses(buffer)
        return buffer[: like.numel()].view(like.shape)


def _chunks(rows: int, vocab: int) -> list[slice]:
    step = max(1, CHUNK_ELEMENTS // max(vocab, 1))
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]


class _SmoothedCrossEntropy(torch.autograd.Function):
    """(N, V) logits, (N,) targets, (N,) float keep weights -> summed smoothed loss, summed nll,
    correct count (the last two not differentiable)."""

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor, keep: Tensor, smoothing: float
                ) -> tuple[Tensor, Tensor, Tensor]:
        rows, vocab = logits.shape
        lse = logits.new_empty(rows, dtype=torch.float32)  # (N,)
        mean = logits.new_empty(rows, dtype=torch.float32)  # (N,)
        best = logits.new_empty(rows, dtype=torch.long)  # (N,)
        for part in _chunks(rows, vocab):
            z = logits[part].float()  # (n, V)
            top, best[part] = z.max(dim=-1)  # (n,)
            lse[part] = (z - top[:, None]).exp_().sum(dim=-1).log_().add_(top)  # (n,)
            torch.mean(z, dim=-1, out=mean[part])
        picked = logits.gather(1, target[:, None]).squeeze(1).float()  # (N,)
        kept = keep.bool()  # (N,)
        nll = torch.where(kept, lse - picked, 0.0)  # (N,) padding rows add nothing, even if not finite
        smooth = torch.where(kept, lse - mean, 0.0)  # (N,)
        loss = ((1.0 - smoothing) * nll + smoothing * smooth).sum()
        nll_sum, correct = nll.sum(), (best.eq(target) & kept).sum()
        ctx.save_for_backward(logits, target, keep, lse)
        ctx.smoothing = smoothing
        ctx.mark_non_differentiable(nll_sum, correct)
        return loss, nll_sum, correct

    @staticmethod
    def backward(ctx, grad: Tensor, _nll: Tensor, _correct: Tensor):
        logits, target, keep, lse = ctx.saved_tensors
        rows, vocab = logits.shape
        weight = keep * grad.float()  # (N,) g for kept rows, 0 for padding
        uniform = (weight * (-ctx.smoothing / vocab))[:, None]  # (N, 1)
        onehot = (weight * -(1.0 - ctx.smoothing))[:, None]  # (N, 1)
        out = _Reused.empty_like(logits)  # (N, V)
        for part in _chunks(rows, vocab):
            # float32 logits: computed in place in the output (no temporaries); else via float32
            g = out[part] if out.dtype == torch.float32 else None  # (n, V)
            g = torch.sub(logits[part].float(), lse[part, None], out=g).exp_()  # softmax
            torch.addcmul(uniform[part], g, weight[part, None], out=g)
            g.scatter_add_(1, target[part, None], onehot[part])
            if g.data_ptr() != out[part].data_ptr():
                out[part] = g
        return out, None, None, None


def label_smoothed_loss(logits: Tensor, target: Tensor, smoothing: float, pad_id: int) -> LossOutput:
    """``logits`` (B, T, V), ``target`` (B, T). Smoothing spreads ``smoothing`` mass uniformly."""
    keep = target.ne(pad_id)  # (B, T)
    flat_logits = logits.reshape(-1, logits.size(-1))  # (B*T, V)
    loss, nll, correct = _SmoothedCrossEntropy.apply(
        flat_logits, target.reshape(-1), keep.reshape(-1).float(), smoothing)
    return LossOutput(loss, float(nll), int(keep.sum()), int(correct))
