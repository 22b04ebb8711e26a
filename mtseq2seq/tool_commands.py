"""The commands around runs, beside `commands.py`'s prepare / train / evaluate / translate:
`graph` (what a recipe builds), `diagnose` (a run's gradient conflicts), `tune` (fast paths),
`average` (checkpoints), `plot` (learning curves), `export`
(CTranslate2)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build.prepare import prepare as prepare_run
from .build.prepare import run_dir_of
from .commands import _recipe
from .errors import UserError
from .recipe.describe import describe
from .recipe.loader import load_recipe


def graph(args: argparse.Namespace) -> int:
    """What a recipe builds: text (default), Graphviz source, or a PNG picture."""
    from .build.sizes import parameter_counts
    from .recipe.graph_picture import draw_png, task_shares, to_dot

    recipe = load_recipe(args.recipe, args.overrides, check_files=False)
    counts = parameter_counts(recipe, run_dir_of(recipe))
    if args.format == "dot":
        print(to_dot(recipe, counts), end="")
    else:
        shares = task_shares(recipe, counts)
        print(describe(recipe, counts))
        print("share of the parameters each task touches: " +
              ", ".join(f"{task} {share:.0%}" for task, share in shares.items()))
    if args.png:
        print(f"picture: {draw_png(recipe, counts, Path(args.png))}", file=sys.stderr)
    return 0


def diagnose(args: argparse.Namespace) -> int:
    """Print the gradient-conflict checks of a run directory (`diagnose.py`)."""
    from .diagnose import report

    print(report(Path(args.run_dir)))
    return 0


def tune(args: argparse.Namespace) -> int:
    """Time the fast paths for the recipe's model on this machine and cache the winners
    (`fast_paths.py`); `train` then reads them from the cache."""
    import time

    import torch

    from .build.model import build_model
    from .build.tasks import build_tasks
    from .devices import resolve_precision
    from .fast_paths import choose, report

    recipe, run_dir = _recipe(args, log_file=False)
    model = build_model(recipe.encoders, recipe.decoders,
                        build_tasks(recipe, prepare_run(recipe, run_dir)))
    if recipe.train.threads:
        torch.set_num_threads(recipe.train.threads)
    precision = resolve_precision(recipe.train.precision, torch.device("cpu"))
    start = time.perf_counter()
    choices, _ = choose(model, recipe.train.batch_tokens, precision, remeasure=True)
    print(report(choices, True, time.perf_counter() - start))
    return 0


def average(args: argparse.Namespace) -> int:
    """Write the mean of the given checkpoints' weights (`averaging.py`)."""
    from .averaging import last_steps, write_average

    if args.last is not None:
        if len(args.inputs) != 1:
            raise UserError(f"--last {args.last}: give one run directory, got {len(args.inputs)} "
                            "paths")
        paths = last_steps(Path(args.inputs[0]), args.last)
    else:
        paths = [Path(p) for p in args.inputs]
    state = write_average(paths, Path(args.output))
    steps = ", ".join(str(entry["step"]) for entry in state["averaged_from"])
    print(f"{args.output}: the mean of {len(paths)} checkpoints (steps {steps})")
    return 0


def plot(args: argparse.Namespace) -> int:
    """Learning curves of run directories (`plots.py`)."""
    from . import plots

    return plots.run(args)


def export(args: argparse.Namespace) -> int:
    """One task's model in another engine's format (`export_ct2.py`)."""
    from . import export_ct2

    return export_ct2.run(args)
