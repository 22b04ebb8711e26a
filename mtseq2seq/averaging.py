"""`mtseq2seq average`: one checkpoint whose weights are the mean of several of one recipe's.

Averaging the last few checkpoints of a run (Vaswani et al. 2017; `train.keep_last: N` keeps
them as `checkpoint_step<S>.pt`) usually scores a little better than any one of them. Every input
must come from the same recipe (the keys a resumed run may change aside) and the same
vocabularies; the output holds the averaged model, the recipe, plugins and vocabularies, so
`evaluate` and `translate` take it like any checkpoint, and names its inputs under
`averaged_from`. It holds no optimizer or data state: training does not continue from it.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from . import checkpoint
from .errors import CheckpointError, UserError
from .resume import check_same_recipe
from .vocab import Vocab, vocab_problems

_STEP = re.compile(r"^checkpoint_step(\d+)\.pt$")
_KEPT = ("format", "recipe", "plugins", "vocabs", "run_id")


def last_steps(run_dir: Path, count: int) -> list[Path]:
    """The ``count`` newest `checkpoint_step<S>.pt` files of ``run_dir``, oldest first."""
    if not run_dir.is_dir():
        raise UserError(f"--last {count}: {run_dir} is not a run directory")
    found = sorted((int(m.group(1)), path) for path in run_dir.iterdir()
                   if (m := _STEP.match(path.name)))
    if len(found) < count:
        raise UserError(f"--last {count}: {run_dir} holds {len(found)} checkpoint_step<S>.pt "
                        f"file(s); train with train.keep_last: {count} (or more) to keep them")
    return [path for _, path in found[-count:]]


def average(paths: list[Path]) -> dict:
    """The averaged checkpoint of ``paths`` (two or more, of one recipe and vocabularies)."""
    if len(paths) < 2:
        raise UserError(f"averaging needs two or more checkpoints, got {len(paths)}")
    states = [checkpoint.load(path) for path in paths]
    first = states[0]
    for path, state in zip(paths[1:], states[1:]):
        _check_alike(first, paths[0], state, path)
    mean = {}
    for key, value in first["model"].items():
        values = [state["model"][key] for state in states]
        if value.is_floating_point():  # summed in float64, so the order of inputs does not matter
            total = torch.stack([v.double() for v in values]).sum(dim=0)
            mean[key] = (total / len(values)).to(value.dtype)
        else:  # counters and index buffers: the last checkpoint's
            mean[key] = values[-1]
    averaged = {key: first[key] for key in _KEPT if key in first}
    averaged.update(model=mean, step=int(states[-1].get("step", 0)),
                    averaged_from=[{"path": str(p), "step": int(s.get("step", 0))}
                                   for p, s in zip(paths, states)])
    return averaged


def _check_alike(first: dict, first_path: Path, state: dict, path: Path) -> None:
    """Refuse ``state`` unless it has the recipe, vocabularies and weights of ``first``."""
    try:
        check_same_recipe(first["recipe"], state["recipe"], path)
    except CheckpointError as err:
        raise CheckpointError(err.problems, header=f"{path} and {first_path} come from different "
                              "recipes; only checkpoints of one model can be averaged") from None
    problems = vocab_problems(state["vocabs"], {slot: Vocab.from_state(stored)
                                                for slot, stored in first["vocabs"].items()})
    if problems:
        raise CheckpointError(problems, header=f"{path} has other vocabularies than {first_path}")
    mine, theirs = set(first["model"]), set(state["model"])
    if mine != theirs:
        raise CheckpointError(sorted(mine ^ theirs)[:10],
                              header=f"{path} and {first_path} hold different weights")


def write_average(paths: list[Path], out: Path) -> dict:
    """Average ``paths`` into ``out`` (written atomically); the averaged state."""
    state = average(paths)
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save_atomic(state, out)
    return state
