"""Which device and which precision a run uses: `device: auto` and `precision: auto` resolved."""
from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    """'auto' is the GPU when torch sees one, else the CPU; other names are torch's own."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' is bf16 where the hardware computes it natively (AVX-512 BF16 or AMX CPUs, CUDA
    GPUs with bf16), else fp32; 'fp32' and 'bf16' are taken as they are."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:
        try:  # a private check; if it moves, fp32 is the safe answer
            native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            native = False
    chosen = "bf16" if native else "fp32"
    log.info("train.precision auto: %s (%s)", chosen,
             "native bf16 found" if native else "no native bf16 on this device")
    return chosen
