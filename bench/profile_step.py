"""torch.profiler view of our training step or our search, at the training benchmark's sizes.

    python bench/profile_step.py train [--precision bf16] [--package mtseq2seq_before --before DIR]
    python bench/profile_step.py greedy|beam [--batch 64] [--steps 26]

Prints the operators sorted by self CPU time (top ``--top``) and the step time, so that a speed-up
starts from where the time goes. Not recorded in RESULTS.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import systems  # noqa: E402
from common import set_threads  # noqa: E402
from decode_speed import ours as ours_decoding  # noqa: E402
from decode_speed import source_batches  # noqa: E402
from synthetic import Sizes, make_batches  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["train", "greedy", "beam"])
    parser.add_argument("--package", default="mtseq2seq")
    parser.add_argument("--before", default=None, metavar="DIR")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--family", choices=["transformer", "rnn"], default="transformer")
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=26)
    parser.add_argument("--repeat", type=int, default=3, help="profiled steps (or batches)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.before:
        sys.path.insert(0, args.before)
    torch.manual_seed(1)
    sizes = Sizes()
    if args.what == "train":
        batches = make_batches(args.repeat, args.batch_tokens, sizes.vocab)
        model, forward, loss = systems.ours(args.package, args.family, sizes)
        system = systems.System("ours", model, forward, batches, "cpu", args.precision, loss)
        system.run(2)  # warm-up
        work = lambda: system.run(args.repeat)  # noqa: E731
    else:
        _, run = ours_decoding(args.package, sizes, args.steps, None)
        src = source_batches(args.batch * args.repeat, args.batch, sizes.vocab)
        beam = 1 if args.what == "greedy" else 5

        def work() -> None:
            with torch.inference_mode():
                for batch in src:
                    run(batch, beam)
        work()
    decoding_bf16 = args.precision == "bf16" and args.what != "train"  # System autocasts training
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if decoding_bf16 else nullcontext()
    with profile(activities=[ProfilerActivity.CPU]) as prof, autocast:
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    print(f"{args.what}: {seconds / args.repeat:.3f} s per step/batch under the profiler")


if __name__ == "__main__":
    main()
