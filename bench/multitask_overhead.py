"""Multi-task overhead: tokens/s of a 4-task one-to-many run against single-task runs.

    python bench/multitask_overhead.py [--steps 28] [--repeats 5] [--set KEY=VALUE ...]

Uses the real trainer on the toy corpus: ``build_trainer(recipe, run_dir, vocabs)`` and
``trainer.train_step(trainer.scheduler.next_tasks())``, recipe ``recipes/toy/one_to_many.yaml``
(shared English encoder; decoders de, fr, parse, en; round-robin with ratios 1, 1, 1, 0.5), and one
single-task trainer per task (the same recipe with ``--set tasks={<task>: ...}``), all with the
same ``train.batch_tokens``. Every measurement is ``--steps`` updates (a multiple of the round-robin
cycle), the trainers interleaved update by update, medians of ``--repeats``.

The tasks differ in cost per token (the parse decoder's vocabulary is tiny, its outputs long), so the
overhead is measured against the *mixture-matched* single-task rate: the time the single-task runs
would need for the multi-task run's tokens of each task, sum_t tokens_t / rate_t. The raw ratio to
the en>de run alone is shown too.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

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

from mtseq2seq.build.prepare import prepare  # noqa: E402
from mtseq2seq.build.trainer import build_trainer  # noqa: E402
from mtseq2seq.recipe.loader import load_recipe  # noqa: E402
from mtseq2seq.trainer import Trainer  # noqa: E402

TASKS = {"en>de": "{kind: translation, encoder: en, decoder: de}",
         "en>fr": "{kind: translation, encoder: en, decoder: fr}",
         "en>parse": "{kind: parsing, encoder: en, decoder: parse}",
         "en>en": "{kind: autoencoder, encoder: en, decoder: en}"}


def trainer_for(recipe_path: Path, overrides: list[str], run_dir: Path) -> Trainer:
    recipe = load_recipe(recipe_path, overrides, run_dir=str(run_dir))
    vocabs = prepare(recipe, run_dir)
    return build_trainer(recipe, run_dir, vocabs)


def unit(trainer: Trainer, tally: dict[str, float]):
    """One timed update (for ``common.interleaved_rounds``): (seconds, target tokens); the tokens of
    each task and the seconds are also added to ``tally``."""
    def update(_: int) -> tuple[float, float]:
        start = time.perf_counter()
        stats = trainer.train_step(trainer.scheduler.next_tasks())
        seconds = time.perf_counter() - start
        tally["seconds"] = tally.get("seconds", 0.0) + seconds
        for task, (_, tokens) in stats.items():
            tally[task] = tally.get(task, 0.0) + tokens
        return seconds, float(sum(n for _, n in stats.values()))
    return update


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes/toy/one_to_many.yaml"))
    parser.add_argument("--workdir", default="/tmp/mtseq2seq_bench_multitask")
    parser.add_argument("--steps", type=int, default=28, help="updates per measurement (cycle: 7)")
    parser.add_argument("--warmup", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="recipe override for every run, e.g. train.batch_tokens=3000")
    add_run_flags(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    QUIET["enabled"] = args.quiet_cpu
    logging.basicConfig(level=logging.WARNING)
    set_threads(args.threads)
    work = Path(args.workdir)
    common = [f"data_dir={work / 'data'}", *args.overrides]
    trainers = {"multi (4 tasks)": trainer_for(Path(args.recipe), common, work / "run")}
    for task, spec in TASKS.items():
        trainers[task] = trainer_for(Path(args.recipe), [*common, f"tasks={{{task}: {spec}}}"],
                                     work / "run")
    torch.set_num_threads(args.threads or torch.get_num_threads())
    tallies: dict[str, dict[str, float]] = {name: {} for name in trainers}
    for trainer in trainers.values():
        for _ in range(args.warmup):
            trainer.train_step(trainer.scheduler.next_tasks())
    units = {name: unit(t, tallies[name]) for name, t in trainers.items()}
    results = interleaved_rounds(units, args.steps, args.repeats)
    body = report(results, tallies, trainers["multi (4 tasks)"], args)
    print("\n" + body)
    if not args.no_record:
        append_results("Multi-task overhead", body)


def report(results: dict, tallies: dict, multi: Trainer, args: argparse.Namespace) -> str:
    rate = {name: median(values) for name, values in results.items()}
    tally = tallies["multi (4 tasks)"]
    tokens = {task: tally[task] for task in TASKS if task in tally}
    matched_time = sum(tokens[t] / rate[t] for t in tokens)
    matched_rate = sum(tokens.values()) / matched_time
    rows = [[name, rate[name], spread(values)] for name, values in results.items()]
    rows.append(["single-task mixture (matched to multi's tokens per task)", matched_rate, "-"])
    overhead = 1.0 - rate["multi (4 tasks)"] / matched_rate
    raw = 1.0 - rate["multi (4 tasks)"] / rate["en>de"]
    total = sum(tokens.values())
    header = (f"recipe {args.recipe} (overrides: {', '.join(args.overrides) or 'none'}); "
              f"batch_tokens {multi.cfg.batch_tokens}; {args.steps} updates per repeat, the "
              f"trainers interleaved update by update; medians of {args.repeats} repeats; share of "
              f"the multi-task run's tokens per task: "
              + ", ".join(f"{t} {100 * n / total:.0f}%" for t, n in tokens.items()))
    checks = table(["comparison", "multi-task below single-task by", "target", ""], [
        ["vs mixture-matched single-task rate", f"{100 * overhead:.1f}%", "<= 3%",
         "met" if overhead <= 0.03 else "MISSED"],
        ["vs en>de single-task rate (raw)", f"{100 * raw:.1f}%", "(tasks differ in cost)", "-"]])
    return header + "\n\n" + table(["run", "target tok/s (median)", "min-max"], rows) + "\n\n" + checks


if __name__ == "__main__":
    main()
