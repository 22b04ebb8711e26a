"""bf16 attention on the CPU: PyTorch's fused kernel against our written-out path, forward + backward.

    python bench/attention_speed.py [--repeats 7] [--quiet-cpu] [--no-record]

``mtseq2seq.modules.attention.attend`` takes the written-out path (two products, a float32
softmax) for bfloat16 on the CPU instead of ``F.scaled_dot_product_attention``; this measures why,
at the training benchmark's shapes (about 4,100 tokens per batch, 4 heads of 64) and the toy
recipe's (4 heads of 32), with and without the causal mask, and float32's fused kernel for scale.
Each figure is the median over ``--repeats`` of the mean of 20 forward + backward passes.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import QUIET, add_run_flags, append_results, interleaved, median, set_threads, table  # noqa: E402

from mtseq2seq.modules.attention import attend  # noqa: E402

SHAPES = {"benchmark (B 160, T 26, dh 64)": (160, 26, 64), "toy (B 100, T 30, dh 32)": (100, 30, 32)}
PASSES = 20


def fused(q, k, v, causal: bool):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def written_out(q, k, v, causal: bool):
    return attend(q, k, v, None, causal, 0.0, True)


def timer(fn: Callable, shape: tuple[int, int, int], dtype: torch.dtype, causal: bool) -> Callable[[], float]:
    """Milliseconds per forward + backward pass of ``fn`` on random (B, 4, T, dh) inputs."""
    batch, length, head_dim = shape
    q, k, v = (torch.randn(batch, 4, length, head_dim, dtype=dtype, requires_grad=True) for _ in range(3))

    def run() -> float:
        start = time.perf_counter()
        for _ in range(PASSES):
            fn(q, k, v, causal).float().sum().backward()
        return (time.perf_counter() - start) / PASSES * 1000
    run()  # warm-up
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    add_run_flags(parser)
    args = parser.parse_args()
    QUIET["enabled"] = args.quiet_cpu
    set_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for shape_name, shape in SHAPES.items():
        for causal in (False, True):
            runs = {"fused bf16": timer(fused, shape, torch.bfloat16, causal),
                    "written-out bf16": timer(written_out, shape, torch.bfloat16, causal),
                    "fused fp32": timer(fused, shape, torch.float32, causal)}
            ms = {name: median(times) for name, times in interleaved(runs, args.repeats, log=False).items()}
            rows.append([shape_name, "causal" if causal else "full", *(f"{ms[n]:.2f}" for n in runs),
                         f"{ms['fused bf16'] / ms['written-out bf16']:.2f}x"])
    body = table(["shape (4 heads)", "mask", "fused bf16 ms", "written-out bf16 ms", "fused fp32 ms",
                  "written-out speed-up in bf16"], rows)
    print(body)
    if not args.no_record:
        append_results("bf16 attention on the CPU: fused kernel against the written-out path", body)


if __name__ == "__main__":
    main()
