"""The Transformer's position-wise feed-forward block: Linear -> ReLU -> dropout -> Linear.

On the CPU the training path is one autograd function: both products, ReLU and the dropout mask
applied in place to the hidden units, and the hidden units after them saved for the backward pass,
where ``h > 0`` is exactly where gradient flows (a unit passes iff it was positive and kept). That
saves the float mask, the masked copy, the ReLU output and its backward's copy: large (N, ff)
tensors, each a fresh allocation and a memory pass. It runs in float32 through oneDNN (where
``linear.fast_path`` holds) and in bfloat16 under CPU autocast (inputs and weights cast as autocast
would). Elsewhere (CUDA, other dtypes) the layers run one after the other as usual.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dropout import Dropout, keep_scale, keep_values
from .linear import Linear, fast_path, inference_weight, onednn_linear, weight_grad


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """(N, in) x (out, in)^T + b: oneDNN in float32, ``F.linear`` (oneDNN's bf16 kernels) otherwise."""
    return onednn_linear(x, weight, bias) if x.dtype == torch.float32 else F.linear(x, weight, bias)


def _weight_grad(grad: Tensor, x: Tensor) -> Tensor:
    """grad^T x: (out, in) from grad (N, out) and x (N, in)."""
    return weight_grad(grad, x) if grad.dtype == torch.float32 else grad.t().mm(x)


class _FusedFeedForward(torch.autograd.Function):
    """x (N, D) -> (N, D) through W1 (F, D), b1, ReLU, dropout p (0: none), W2 (D, F), b2; every
    tensor of one dtype (float32 or bfloat16)."""

    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, p: float) -> Tensor:
        hidden = _linear(x, w1, b1).clamp_min_(0.0)  # (N, F)
        scale = 1.0
        if p > 0.0:
            scale = keep_scale(p)
            hidden.mul_(keep_values(hidden.shape, p, hidden.device, hidden.dtype)).mul_(scale)
        ctx.save_for_backward(x, w1, w2, hidden)
        ctx.scale = scale
        return _linear(hidden, w2, b2)  # (N, D)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, w1, w2, hidden = ctx.saved_tensors
        grad = grad.contiguous().to(x.dtype)  # (N, D)
        grad_w2, grad_b2 = _weight_grad(grad, hidden), grad.sum(0)  # (D, F), (D,)
        # gradient only where the unit was positive and kept: ReLU's own backward kernel, with h
        grad_hidden = torch.ops.aten.threshold_backward(_linear(grad, w2.t(), None), hidden, 0.0)  # (N, F)
        if ctx.scale != 1.0:
            grad_hidden.mul_(ctx.scale)
        grad_x = _linear(grad_hidden, w1.t(), None)  # (N, D)
        return grad_x, _weight_grad(grad_hidden, x), grad_hidden.sum(0), grad_w2, grad_b2, None


def _cpu_bf16_autocast(x: Tensor) -> bool:
    return (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16)


class FeedForward(nn.Sequential):
    """Position-wise Linear -> ReLU -> dropout -> Linear (children 0..3, as in the state dict)."""

    def __init__(self, dim: int, ff: int, dropout: float) -> None:
        super().__init__(Linear(dim, ff), nn.ReLU(), Dropout(dropout), Linear(ff, dim))

    def forward(self, x: Tensor) -> Tensor:  # (..., D) -> (..., D)
        first, _, drop, second = self
        fp32 = fast_path(x, first.weight)
        if not (fp32 or _cpu_bf16_autocast(x)):
            return super().forward(x)
        if fp32 and not torch.is_grad_enabled():  # decoding: packed weights, no autograd function
            flat = x.reshape(-1, x.size(-1))  # (N, D)
            hidden = onednn_linear(flat, inference_weight(first, flat.size(0)), first.bias).clamp_min_(0.0)
            hidden = drop(hidden)  # (N, F)
            return onednn_linear(hidden, inference_weight(second, flat.size(0)), second.bias).view(x.shape)
        dtype = torch.float32 if fp32 else torch.bfloat16
        params = [t.to(dtype) for t in (first.weight, first.bias, second.weight, second.bias)]
        p = drop.p if self.training else 0.0
        flat = _FusedFeedForward.apply(x.reshape(-1, x.size(-1)).to(dtype), *params, p)  # (N, D)
        return flat.view(*x.shape[:-1], flat.size(-1))
