"""Dropout for the token-based families: the same function as ``nn.Dropout``, cheaper on the CPU.

On the CPU, ``torch.nn.functional.dropout`` draws one ``bernoulli_`` sample per element, which costs
about as much as the rest of a small Transformer's element-wise work together (a quarter of a training
step in profiles). Here one call to the generator fills an int64 tensor (``random_``: 63 uniform bits
per word) and each word gives four 16-bit lanes, one keep/drop decision per lane: the mask comes from
a quarter of the generator calls and two cheap passes. The lane holding the top bits has only 15
random bits, so every lane uses a threshold on 15-bit resolution: the drop probability is ``p``
rounded to a multiple of 1/32768 (0.1 -> 0.100006), and kept values are scaled by 1 / (1 - that).

The global torch generator is used, so runs stay reproducible and checkpoints' RNG states cover it.
Other devices (CUDA) keep PyTorch's fused dropout kernels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_LANES = 4  # 16-bit lanes per int64 word (little-endian: lane 3 holds the top, 15-bit lane)
_STEPS = 1 << 15  # resolution of the drop probability


def _quantized(p: float) -> int:
    """Drop probability ``p`` as a count of 1/32768 steps, in 1 .. 32767 for 0 < p < 1."""
    return min(max(round(p * _STEPS), 1), _STEPS - 1)


_LIMITS: dict[tuple[int, torch.device], Tensor] = {}


def _limits(steps: int, device: torch.device) -> Tensor:
    """(4,) int16 per-lane thresholds for a drop probability of ``steps`` / 32768.

    Lanes 0..2 are uniform over int16 (-32768 .. 32767), lane 3 over 0 .. 32767.
    """
    key = (steps, device)
    if key not in _LIMITS:
        _LIMITS[key] = torch.tensor([2 * steps - 32768] * 3 + [steps], dtype=torch.int16, device=device)
    return _LIMITS[key]


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device) -> Tensor:
    """Bool tensor of ``shape``: True (keep) with probability ``1 - q``, q = ``p`` on 15-bit resolution."""
    count = 1
    for size in shape:
        count *= size
    words = (count + _LANES - 1) // _LANES
    bits = torch.empty(words, dtype=torch.int64, device=device).random_()  # (W,) in [0, 2**63)
    keep = bits.view(torch.int16).view(words, _LANES) >= _limits(_quantized(p), device)  # (W, 4)
    return keep.view(-1)[:count].view(shape)


def keep_scale(p: float) -> float:
    """The factor kept values are multiplied by: 1 / (1 - q)."""
    return 1.0 / (1.0 - _quantized(p) / _STEPS)


def _use_fast(x: Tensor, p: float, training: bool) -> bool:
    return training and 0.0 < p < 1.0 and x.device.type == "cpu"


def keep_values(shape: torch.Size | tuple[int, ...], p: float, device: torch.device,
                dtype: torch.dtype) -> Tensor:
    """``keep_mask`` as 0/1 values of ``dtype``, converted through uint8: PyTorch's bool -> bfloat16
    conversion is an order of magnitude slower than uint8 -> bfloat16."""
    return keep_mask(shape, p, device).view(torch.uint8).to(dtype)


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout(x, p, training)``, with the cheap mask on the CPU."""
    if not _use_fast(x, p, training):
        return F.dropout(x, p, training) if p > 0.0 else x
    return x * keep_values(x.shape, p, x.device, x.dtype).mul_(keep_scale(p))  # (...) 0 or x / (1 - q)


def add_dropout(residual: Tensor, x: Tensor, p: float, training: bool) -> Tensor:
    """``residual + dropout(x)`` in one pass (``addcmul``) on the CPU. Under autocast ``x`` may be
    bfloat16 and ``residual`` float32: ``x`` is widened first (mixed-dtype ``addcmul`` is slow)."""
    if not _use_fast(x, p, training):
        return residual + (F.dropout(x, p, training) if p > 0.0 else x)
    x = x.to(residual.dtype)
    mask = keep_values(x.shape, p, x.device, x.dtype)  # (...) 0 or 1
    return torch.addcmul(residual, x, mask, value=keep_scale(p))


class Dropout(nn.Module):
    """Drop-in for ``nn.Dropout`` built on ``dropout`` (same ``p`` attribute and ``extra_repr``)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def add(self, residual: Tensor, x: Tensor) -> Tensor:
        """``residual + self(x)``, fused on the CPU."""
        return add_dropout(residual, x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
