"""The real training loop against an older revision's: target tokens/s of `Trainer.train_step`.

    python bench/trainer_speed.py --before DIR [--steps 40] [--repeats 5] [--set KEY=VALUE ...]

`train_speed.py` times the modules and the loss alone; this one times what a refactoring of the
trainer, the task kinds or the batching could slow: whole updates (batch from the task's iterator,
the kind's forward and loss, backward, clipping, the optimizer step) of the toy one-to-many recipe
(`recipes/toy/one_to_many.yaml`, its data in data/toy, generated on first use), built by each
revision's own code in this process. ``--before DIR`` holds `mtseq2seq_before` (make_before.py).
The two trainers run the same updates in the same order (same seed), interleaved update by update,
order alternating; medians of ``--repeats``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from common import (  # noqa: E402
    QUIET,
    add_run_flags,
    append_results,
    interleaved_rounds,
    median,
    set_threads,
    spread,
    table,
)

RECIPE = ROOT / "recipes" / "toy" / "one_to_many.yaml"


def build(package: str, overrides: list[str], run_dir: Path):
    """A trainer of the toy recipe, made the way revision ``package`` makes one."""
    def load(*names: str):
        for name in names:  # the module moved in the task-kind redesign
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError:
                continue
        raise SystemExit(f"{package}: none of {names}")

    recipe = load("recipe.loader", "recipe_loader").load_recipe(RECIPE, overrides,
                                                                  run_dir=str(run_dir))
    vocabs = load("build.prepare", "run").prepare(recipe, run_dir)
    builder = load("build.trainer", "trainer")
    if hasattr(builder, "build_trainer"):
        return builder.build_trainer(recipe, run_dir, vocabs)
    return builder.Trainer(recipe, run_dir, vocabs)


def unit(trainer):
    def one_update(_: int) -> tuple[float, float]:
        start = time.perf_counter()
        stats = trainer.train_step(trainer.scheduler.next_tasks())
        return time.perf_counter() - start, float(sum(tokens for _, tokens in stats.values()))
    return one_update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, metavar="DIR")
    parser.add_argument("--steps", type=int, default=40, help="timed updates per repeat")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    add_run_flags(parser)
    args = parser.parse_args()
    QUIET["enabled"] = args.quiet_cpu
    set_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, args.before)
    overrides = [f"data_dir={ROOT / 'data' / 'toy'}", *args.overrides]
    trainers = {name: build(package, overrides, Path(f"/tmp/trainer_speed_{name}"))
                for name, package in (("ours", "mtseq2seq"), ("before", "mtseq2seq_before"))}
    for trainer in trainers.values():
        for _ in range(args.warmup):
            trainer.train_step(trainer.scheduler.next_tasks())
    results = interleaved_rounds({n: unit(t) for n, t in trainers.items()}, args.steps,
                                 args.repeats)
    rate = {name: median(values) for name, values in results.items()}
    rows = [[name, f"{rate[name]:,.0f}", spread(values)] for name, values in results.items()]
    ratio = rate["ours"] / rate["before"]
    body = (f"toy one-to-many recipe ({' '.join(args.overrides) or 'as committed'}), "
            f"{args.steps} updates per repeat after {args.warmup} untimed, interleaved update by "
            f"update; medians of {args.repeats} repeats\n\n"
            + table(["trainer", "target tok/s (median)", "min-max"], rows) + "\n\n"
            + table(["ratio", "measured", "target", ""],
                    [["ours / before", f"{ratio:.3f}", "0.97-1.03",
                      "met" if abs(ratio - 1) <= 0.03 else "MISSED"]]))
    print("\n" + body)
    if not args.no_record:
        append_results("Trainer speed (the real loop, before/after)", body)


if __name__ == "__main__":
    main()
