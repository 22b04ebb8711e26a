"""`train.compile: true`: each layer block of the encoders and decoders through torch.compile.

Blocks are compiled one by one (`nn.Module.compile`, so the checkpoint keys stay as they are),
with symbolic (dynamic) batch and length sizes: the batches of a run differ in both, and
length-bucketed batches would otherwise compile a graph per shape. Incremental decoding calls the
blocks' `step`, which stays eager. `bench/compile_speed.py` measures the compile time and the
speed-up; on 2 CPU cores it did not pay for the toy model, hence off by default.
"""
from __future__ import annotations

import logging
import time

from torch import nn

log = logging.getLogger(__name__)


def layer_blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated blocks (`layers`) of every encoder and decoder that has them."""
    blocks = []
    for group in ("encoders", "decoders"):
        for module in getattr(model, group, {}).values():
            blocks += list(getattr(module, "layers", None) or [])
    return blocks


def compile_blocks(model: nn.Module) -> int:
    """Compile every layer block of ``model`` in place (lazily: the work happens on the first
    batches); how many there are."""
    start = time.perf_counter()
    blocks = layer_blocks(model)
    for block in blocks:
        block.compile(dynamic=True)
    log.info("train.compile: %d layer blocks wrapped by torch.compile in %.1f s (they compile on "
             "the first batches)", len(blocks), time.perf_counter() - start)
    return len(blocks)
