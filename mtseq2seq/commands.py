"""What each CLI command does, given parsed arguments."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import checkpoint
from .config import Recipe, load_recipe
from .data.datasets import read_stream
from .data.loading import load_split
from .errors import CheckpointError, UserError, close_match
from .evaluate import DecodeSettings, TaskScore, evaluate_task, format_scores
from .inference import load_checkpoint, resolve_pair, translate_lines
from .run import prepare as prepare_run
from .run import run_dir_of
from .topology import describe
from .vocab import vocab_problems

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
    from .validate import ValidResult, format_table

    recipe, run_dir = _recipe(args)
    vocabs = prepare_run(recipe, run_dir)
    trainer = Trainer(recipe, run_dir, vocabs)
    last = run_dir / "checkpoint_last.pt"
    if args.resume and not last.is_file():
        raise UserError(f"--resume: no {last} to continue from (train without --resume to start)")
    if last.is_file() and not args.restart:
        state = checkpoint.load(last)
        check_same_recipe(state["recipe"], recipe.resolved, last)
        problems = vocab_problems(state["vocabs"], vocabs)
        if problems:
            raise CheckpointError(problems, header=f"{last} was trained with other vocabularies "
                                  f"than {run_dir / 'vocab'}; use --restart or another --run-dir")
        checkpoint.check_fits(trainer.model.state_dict(), state["model"], last,
                              "the model of this recipe")
        trainer.load_state_dict(state)
        log.info("continuing from %s at step %d", last, trainer.step)
    report = trainer.train()
    if trainer.interrupted:
        again = " ".join(["mtseq2seq", "train", args.recipe, *[f"--set {o}" for o in args.overrides],
                          "--run-dir", str(run_dir), "--resume"])
        print(f"\nstopped by {trainer.interrupted} at step {trainer.step}; {last} holds the state. "
              f"Continue with:\n  {again}", file=sys.stderr)
        return 130
    best = run_dir / "checkpoint_best.pt"
    print(f"\nvalidation of the best checkpoint (step {report.get('step')}, {best}):")
    print(format_table([ValidResult(**r) for r in report["valid"]]))
    if any(cfg.test for cfg in recipe.tasks.values()) and best.is_file():
        scores = score_checkpoint(recipe, best, "test", list(recipe.tasks), _settings(recipe),
                                  trainer.device)
        print(f"\ntest scores of the best checkpoint ({best}):")
        print(format_scores(scores))
    return 0


def _settings(recipe: Recipe, beam: int | None = None, alpha: float | None = None
              ) -> DecodeSettings:
    return DecodeSettings(beam or recipe.valid.beam,
                          recipe.valid.alpha if alpha is None else alpha, recipe.train.batch_tokens)


def score_checkpoint(recipe: Recipe, path: Path, role: str, tasks: list[str],
                     settings: DecodeSettings, device) -> list[TaskScore]:
    """Decode and score ``tasks`` on split ``role``; the table is also written as JSON."""
    loaded = load_checkpoint(path, device, recipe)
    scores = []
    for task in tasks:
        data, _ = load_split(recipe, task, role, loaded.vocabs, None)
        scores.append(evaluate_task(recipe, task, loaded.model, loaded.vocabs, role, data,
                                    settings, device)[0])
    out = path.with_name(f"{path.stem}.{role}.scores.json")
    out.write_text(json.dumps({"checkpoint": str(path), "step": loaded.step, "split": role,
                               "beam": settings.beam, "alpha": settings.alpha,
                               "scores": [s.as_dict() for s in scores]}, indent=2) + "\n")
    log.info("scores written to %s", out)
    return scores


def evaluate(args: argparse.Namespace) -> int:
    from .trainer import pick_device

    recipe, _ = _recipe(args)
    tasks = args.tasks or list(recipe.tasks)
    for task in tasks:
        if task not in recipe.tasks:
            raise UserError(f"--tasks: no task '{task}' in the recipe (tasks: "
                            f"{', '.join(recipe.tasks)}{close_match(task, recipe.tasks)})")
        if args.split == "test" and not recipe.tasks[task].test:
            raise UserError(f"--split test: task '{task}' names no test split (tasks.{task}.test)")
    scores = score_checkpoint(recipe, Path(args.checkpoint), args.split, tasks,
                              _settings(recipe, args.beam, args.alpha), pick_device(args.device))
    print(format_scores(scores))
    return 0


def translate(args: argparse.Namespace) -> int:
    from .evaluate import task_max_len
    from .trainer import pick_device

    if args.beam < 1 or not 1 <= args.n_best <= args.beam:
        raise UserError(f"--beam {args.beam} --n-best {args.n_best}: need 1 <= n-best <= beam")
    device = pick_device(args.device)
    loaded = load_checkpoint(args.checkpoint, device)
    pair = resolve_pair(loaded, args.task, args.encoder, args.decoder)
    task = args.task or next((t for t, p in loaded.model.tasks.items() if p[1] == pair[1]), None)
    max_len = task_max_len(loaded.recipe, task) if task else (2.0, 10)
    lines = list(read_stream(sys.stdin.buffer))
    out: list[list] = [[] for _ in lines]
    for row, hyps in translate_lines(loaded, pair, lines, args.beam, args.alpha, args.n_best,
                                     args.batch_size, max_len, device):
        out[row] = hyps
    vocab = loaded.vocabs[pair[1]]
    for row, hyps in enumerate(out):
        if args.n_best == 1:
            print(vocab.decode(hyps[0].tokens) if hyps else "")
        else:
            for hyp in hyps or []:
                print(f"{row}\t{vocab.decode(hyp.tokens)}\t{hyp.norm_score:.4f}")
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
