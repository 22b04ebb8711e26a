"""`train.compile: true` against eager: compile time and target tokens/s of whole updates.

    python bench/compile_speed.py [--steps 30] [--repeats 3] [--threads N] [--set KEY=VALUE ...]

Builds two trainers of the toy one-to-many recipe (`recipes/toy/one_to_many.yaml`, data in
data/toy, generated on first use), one with `train.compile: true`; times the compiled one's first
``--warmup`` updates (where torch.compile does its work: every task's shapes) against the eager
one's, then interleaves the two update by update (same seed, same batches). Medians of
``--repeats``; the table goes to bench/RESULTS.md with the CPU (or GPU) model.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from common import add_run_flags, append_results, interleaved_rounds, median, set_threads, spread, table  # noqa: E402,E501
from trainer_speed import build, unit  # noqa: E402


def first_updates(trainer, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        trainer.train_step(trainer.scheduler.next_tasks())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed updates per repeat")
    parser.add_argument("--warmup", type=int, default=20, help="first updates (compiling)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    add_run_flags(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    overrides = [f"data_dir={ROOT / 'data' / 'toy'}", *args.overrides]
    trainers = {name: build("mtseq2seq", overrides + [f"train.compile={flag}"],
                            Path(f"/tmp/compile_speed_{name}"))
                for name, flag in (("eager", "false"), ("compiled", "true"))}
    first = {name: first_updates(t, args.warmup) for name, t in trainers.items()}
    results = interleaved_rounds({n: unit(t) for n, t in trainers.items()}, args.steps,
                                 args.repeats)
    rate = {name: median(values) for name, values in results.items()}
    rows = [[name, f"{first[name]:.1f}", f"{rate[name]:,.0f}", spread(values)]
            for name, values in results.items()]
    ratio = rate["compiled"] / rate["eager"]
    body = (f"toy one-to-many recipe ({' '.join(args.overrides) or 'as committed'}); first "
            f"{args.warmup} updates timed apart (compilation), then {args.steps} updates per "
            f"repeat, interleaved; medians of {args.repeats} repeats\n\n"
            + table(["trainer", f"first {args.warmup} updates, s", "target tok/s (median)",
                     "min-max"], rows)
            + f"\n\ncompiled / eager: {ratio:.3f}; compile time about "
              f"{first['compiled'] - first['eager']:.0f} s\n")
    print("\n" + body)
    if not args.no_record:
        append_results("torch.compile of the layer blocks (train.compile)", body)


if __name__ == "__main__":
    main()
