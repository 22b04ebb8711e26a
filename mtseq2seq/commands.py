"""What each CLI command does, given parsed arguments."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import checkpoint
from .config import Recipe, load_recipe
from .errors import CheckpointError
from .run import prepare as prepare_run
from .run import run_dir_of
from .topology import describe

log = logging.getLogger(__name__)


def _recipe(args: argparse.Namespace) -> tuple[Recipe, Path]:
    from .__main__ import setup_logging

    recipe = load_recipe(args.recipe, args.overrides, run_dir=args.run_dir)
    run_dir = run_dir_of(recipe)
    setup_logging(run_dir, getattr(args, "verbose", False))
    return recipe, run_dir


def prepare(args: argparse.Namespace) -> int:
    recipe, run_dir = _recipe(args)
    vocabs = prepare_run(recipe, run_dir)
    for slot, vocab in sorted(vocabs.items()):
        log.info("vocabulary %s: %s, %d entries", slot, vocab.kind, len(vocab))
    return 0


def train(args: argparse.Namespace) -> int:
    from .trainer import Trainer
    from .validate import format_table

    recipe, run_dir = _recipe(args)
    vocabs = prepare_run(recipe, run_dir)
    trainer = Trainer(recipe, run_dir, vocabs)
    last = run_dir / "checkpoint_last.pt"
    if last.is_file() and not args.restart:
        state = checkpoint.load(last)
        check_same_recipe(state["recipe"], recipe.resolved, last)
        trainer.load_state_dict(state)
        log.info("continuing from %s at step %d", last, trainer.step)
    results = trainer.train()
    print(f"\nvalidation scores of the best checkpoint (step {trainer.best['step']}, "
          f"{run_dir / 'checkpoint_best.pt'}):")
    print(format_table(results))
    return 0


_MAY_CHANGE = {("train", "max_steps"), ("run_dir",), ("valid", "every")}


def check_same_recipe(stored: dict, current: dict, path: Path) -> None:
    """Refuse to continue a run of a different recipe (a longer max_steps is fine)."""
    differences = _diff(stored, current, ())
    if differences:
        raise CheckpointError(
            [f"{'.'.join(d)}: checkpoint has {a!r}, recipe has {b!r}" for d, a, b in differences],
            header=f"{path} was written by a different recipe; use --restart or another --run-dir")


def _diff(a: object, b: object, path: tuple) -> list:
    if path in _MAY_CHANGE:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b), key=str)
                for d in _diff(a.get(key), b.get(key), (*path, key))]
    return [] if a == b else [(path, a, b)]


def graph(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides, run_dir=args.run_dir, check_files=False)
    print(describe(recipe))
    return 0
