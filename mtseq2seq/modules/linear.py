"""``Linear``: ``nn.Linear`` (same parameters, same state dict) with a faster float32 path on the CPU.

PyTorch runs float32 ``nn.Linear`` on the CPU through MKL's sgemm, which on some CPUs (AMD Zen, where
MKL takes its AVX2 code path) reaches half of what oneDNN's AVX-512 kernels do. Here float32 matrix
products of the forward pass and of both gradients go through oneDNN (PyTorch's own
``torch.ops.mkldnn._linear_pointwise``, the kernel its compiler uses for CPU inference). Results are
float32 (not a lower-precision mode), equal to ``F.linear``'s up to summation order.

Anything else (autocast, other dtypes, other devices, or a PyTorch build where the oneDNN op is
missing or disagrees with ``F.linear`` on a probe) uses ``F.linear``. ``use_onednn(False)`` turns the
fast path off, e.g. to compare.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_ENABLED: dict[str, bool | None] = {"wanted": True, "works": None}


def use_onednn(enabled: bool) -> None:
    """Turn the oneDNN path on or off for every ``Linear`` (on by default where it works)."""
    _ENABLED["wanted"] = enabled


def onednn_wanted() -> bool:
    """Whether the oneDNN path is turned on (it is taken only where it also works)."""
    return bool(_ENABLED["wanted"])


def onednn_linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x (N, in) W^T (in, out) + b by oneDNN; W may be a transposed view."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def onednn_works() -> bool:
    """Probe once (with fixed values: no random numbers drawn) that the op exists and agrees."""
    if _ENABLED["works"] is None:
        x = torch.linspace(-1.0, 1.0, 15).view(3, 5)
        w = torch.linspace(-0.5, 0.7, 20).view(4, 5)
        b = torch.linspace(0.0, 0.3, 4)
        try:
            ok = torch.backends.mkldnn.is_available() and torch.allclose(
                onednn_linear(x, w, b), F.linear(x, w, b), atol=1e-5)
        except (AttributeError, RuntimeError, NotImplementedError):
            ok = False
        _ENABLED["works"] = bool(ok)
    return bool(_ENABLED["works"])


def fast_path(x: Tensor, weight: Tensor) -> bool:
    """True when ``x`` times ``weight`` goes through oneDNN: float32 on the CPU, no autocast, not
    inside torch.compile (which lowers ``F.linear`` to its own kernels)."""
    return (_ENABLED["wanted"] and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            and not torch.compiler.is_compiling() and onednn_works())


def weight_grad(grad: Tensor, x: Tensor) -> Tensor:
    """grad^T x: (out, in) from grad (N, out) and x (N, in), a reduction over the N rows.

    oneDNN's kernel is fastest with the larger of out and in as its output width, so the product
    is taken as (x^T grad)^T when out >= in (the vocabulary projection: twice MKL's speed there).
    """
    if grad.size(1) >= x.size(1):  # contiguous: a fused optimizer reads gradients in the weight's layout
        return onednn_linear(x.t(), grad.t(), None).t().contiguous()  # (out, in)
    return onednn_linear(grad.t(), x.t(), None)  # (out, in)


class _OneDNNLinear(torch.autograd.Function):
    """y = x W^T + b for 2-D x, through oneDNN for y, dL/dx and dL/dW."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return onednn_linear(x, weight, bias)  # (N, out)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()  # e.g. the stride-0 ones of a .sum(): oneDNN crawls on those
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = onednn_linear(grad, weight.t(), None)  # (N, in)
        if ctx.needs_input_grad[1]:
            grad_w = weight_grad(grad, x)  # (out, in)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(0)  # (out,)
        return grad_x, grad_w, grad_b


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear``, through oneDNN for float32 on the CPU (see the module docstring)."""
    if not fast_path(x, weight):
        return F.linear(x, weight, bias)
    # the function sees 2-D tensors and returns a fresh one, so callers may modify the view in place
    flat = _OneDNNLinear.apply(x.reshape(-1, x.size(-1)), weight, bias)  # (N, out)
    return flat.view(*x.shape[:-1], weight.size(0))  # (..., out)


def inference_weight(module: nn.Module, rows: int) -> Tensor:
    """``module.weight`` in oneDNN's blocked layout (packed for ``rows``-row inputs), cached on the
    module (outside its state dict) and packed again whenever the weight's storage or version moves
    or the module changes mode (`Linear.train`)."""
    weight = module.weight
    key = (weight.data_ptr(), weight._version)
    cached = module.__dict__.get("_packed_weight")
    if cached is None or cached[0] != key:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), max(rows, 1))
        module.__dict__["_packed_weight"] = cached = (key, packed)
    return cached[1]


class Linear(nn.Linear):
    """``nn.Linear`` whose forward is ``linear`` above; parameters and state dict are unchanged.

    The packed inference weight is dropped whenever the module changes mode: a fused optimizer
    updates weights in place without moving their version counter, so the key alone would keep a
    stale copy from one validation to the next."""

    def train(self, mode: bool = True) -> "Linear":
        self.__dict__.pop("_packed_weight", None)
        return super().train(mode)

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() or not fast_path(x, self.weight):
            return linear(x, self.weight, self.bias)
        flat = x.reshape(-1, x.size(-1))  # (N, in)
        out = onednn_linear(flat, inference_weight(self, flat.size(0)), self.bias)  # (N, out)
        return out.view(*x.shape[:-1], out.size(-1))
