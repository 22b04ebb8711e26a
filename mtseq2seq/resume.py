"""A run's state and continuing it from `checkpoint_last.pt`: what identifies a run
(`RunRecord`), what a checkpoint holds of a trainer (`run_state`, `restore`), the checks that
refuse another recipe, other vocabularies or another model, and the repair of files a killed
save left half-placed."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from . import checkpoint, saving
from .errors import CheckpointError, UserError
from .plugins import warn_changed_plugins
from .vocab import Vocab, vocab_problems

log = logging.getLogger(__name__)
# plugins: absolute paths, which change when the project folder moves; compared by
# recipe-relative path (and hash: a warning) in `check_plugins_same` instead
_MAY_CHANGE = {("train", "max_steps"), ("run_dir",), ("valid", "every"), ("plugins",),
               ("train", "dist_backend"), ("train", "dist_timeout"), ("train", "compile"),
               ("train", "tensorboard")}


@dataclass
class RunRecord:
    """What a checkpoint stores about its run besides the weights: the resolved recipe (a plain
    mapping), the plugin files (path relative to the recipe, SHA-256) and the vocabularies."""

    recipe: dict
    recipe_path: str  # the recipe file (plugin paths are relative to its folder)
    plugin_paths: list[str]  # as loaded
    plugins: list[dict]  # `plugins.plugin_records` of them
    vocabs: dict[str, Vocab]

    def as_state(self) -> dict:
        return {"recipe": self.recipe, "plugins": self.plugins,
                "vocabs": {slot: v.to_state() for slot, v in self.vocabs.items()}}


def continue_run(trainer, run_dir: Path, restart: bool) -> bool:
    """Load ``checkpoint_last.pt`` into ``trainer`` unless ``restart``; whether it did.
    With several ranks, rank 0 repairs the run directory and checks the checkpoint first (its
    verdict, or its refusal, goes to every rank); then the other ranks read the file."""
    sync, last = trainer.sync, run_dir / saving.LAST
    state, refusal = None, None
    if sync.ranks.is_main:
        try:
            state = _checked_state(trainer, run_dir, restart)
        except CheckpointError as err:
            refusal = err
    verdict = sync.from_main(str(refusal) if refusal else state is not None)
    if refusal is not None:
        raise refusal
    if isinstance(verdict, str):
        raise UserError(f"rank 0 refused {last}: {verdict}")
    if not verdict:
        return False
    trainer.load_state_dict(state if state is not None else checkpoint.load(last))
    log.info("continuing from %s at step %d", last, trainer.step)
    return True


def _checked_state(trainer, run_dir: Path, restart: bool) -> dict | None:
    """The checkpoint to continue from (None on ``restart`` or when there is none), after
    repairing what a killed save left; raises CheckpointError when it belongs to another run."""
    saving.recover(run_dir, continuing=not restart)
    last = run_dir / saving.LAST
    if restart or not last.is_file():
        return None
    state = checkpoint.load(last)
    check_loadable(trainer, state, last)
    return state


def check_loadable(trainer, state: dict, last: Path) -> None:
    """Refuse a checkpoint of another recipe, plugins, vocabularies, model or number of ranks."""
    record: RunRecord = trainer.record
    check_same_recipe(state["recipe"], record.recipe, last)
    check_plugins_same(state, record, last)
    problems = vocab_problems(state["vocabs"], record.vocabs)
    if problems:
        raise CheckpointError(problems, header=f"{last} was trained with other vocabularies "
                              f"than {last.parent / 'vocab'}; use --restart or another --run-dir")
    checkpoint.check_fits(trainer.model.state_dict(), state["model"], last,
                          "the model of this recipe")
    world = len(state.get("ranks") or [None])
    if world != trainer.sync.ranks.world:
        raise CheckpointError(
            f"it was written by a run of {world} process(es), this one has "
            f"{trainer.sync.ranks.world}", header=f"{last} cannot continue exactly here: each "
            "rank's data position and random state belong to its rank; resume with the same "
            "torchrun --nproc_per_node/--nnodes, or use --restart or another --run-dir")


def check_plugins_same(state: dict, record: RunRecord, path: Path) -> None:
    """The same plugin files (by path relative to the recipe) as the checkpoint's run; a plugin
    whose content changed since is a warning, not an error (users fix bugs in plugins)."""
    stored = [r.get("path") for r in state.get("plugins") or [] if isinstance(r, dict)]
    current = [r["path"] for r in record.plugins]
    if "plugins" in state and stored != current:
        raise CheckpointError(f"plugins: checkpoint has {stored}, recipe has {current}",
                              header=f"{path} was written by a different recipe; use --restart "
                              "or another --run-dir")
    warn_changed_plugins(state, record.plugin_paths, record.recipe_path, path)


def check_same_recipe(stored: dict, current: dict, path: Path) -> None:
    """Refuse to continue a run of a different recipe (a longer max_steps, of the run or of a
    stage, is fine)."""
    differences = _diff(stored, current, ())
    if differences:
        raise CheckpointError(
            [f"{'.'.join(d)}: checkpoint has {a!r}, recipe has {b!r}" for d, a, b in differences],
            header=f"{path} was written by a different recipe; use --restart or another --run-dir")


def _may_change(path: tuple) -> bool:
    """Keys a resumed run may change: its length (`train.max_steps`, a stage's `max_steps`),
    where it lives, how often it validates, how its ranks talk, and plugin paths (checked on
    their own)."""
    return path in _MAY_CHANGE or (len(path) == 3 and path[0] == "stages"
                                   and path[2] == "max_steps")


def _diff(a: object, b: object, path: tuple) -> list:
    if _may_change(path):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b), key=str)
                for d in _diff(a.get(key), b.get(key), (*path, key))]
    return [] if a == b else [(path, a, b)]


def run_state(trainer) -> dict:
    """Everything that continues ``trainer``'s run exactly (bitwise on CPU), and what translating
    needs (recipe, plugins, vocabularies): the content of every checkpoint file."""
    return {
        "format": checkpoint.FORMAT, "step": trainer.step, "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(), "lr": trainer.lr.state_dict(),
        "scheduler": trainer.scheduler.state_dict(), "loss_weighting": trainer.weighting.state_dict(),
        **rank_state(trainer),  # rank 0's; "ranks": every rank's, in a run of several
        "tracker": trainer.tracker.state_dict(), "best_report": trainer.best_report,
        "stopped_early": trainer.stopped_early, "skipped": dict(trainer.skipped),
        "run_id": trainer.run_id, "pending_validation": trainer.pending_validation,
        "stage": trainer.stage_index, "stage_start": trainer.stage_start,
        **trainer.record.as_state(),
    }


def rank_state(trainer) -> dict:
    """What differs between ranks: data positions (and noise), random state; with several
    ranks, rank 0's at the top (as in one process) and every rank's under "ranks"."""
    own = {"iterators": {t: it.state_dict() for t, it in trainer.data.train.items()},
           "rng": {"torch": torch.get_rng_state(), "python": random.getstate()}}
    if not trainer.sync.active:
        return own
    return {**own, "ranks": trainer.sync.gather(own)}


def restore(trainer, state: dict) -> None:
    """Put ``state`` (`run_state` of an earlier trainer of the same recipe) into ``trainer``;
    bests whose files this run does not hold are forgotten, later metrics records dropped.
    The stage comes first: its optimizer, schedules and tracker are the ones the state fills."""
    trainer.enter_stage(int(state.get("stage", 0)), int(state.get("stage_start", 0)))
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.lr.load_state_dict(state["lr"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    if "loss_weighting" in state:  # learned loss weights (none in older checkpoints)
        trainer.weighting.load_state_dict(state["loss_weighting"])
    mine = state["ranks"][trainer.sync.ranks.rank] if "ranks" in state else state
    for task, it_state in mine["iterators"].items():
        trainer.data.train[task].load_state_dict(it_state)
    torch.set_rng_state(mine["rng"]["torch"])
    random.setstate(mine["rng"]["python"])
    trainer.tracker.load_state_dict(state["tracker"])
    trainer.best_report, trainer.stopped_early = state["best_report"], state["stopped_early"]
    trainer.skipped = dict(state.get("skipped", {}))
    trainer.step = int(state["step"])
    trainer.run_id = state.get("run_id") or trainer.run_id
    trainer.pending_validation = bool(state.get("pending_validation", False))
    if saving.verify(trainer.tracker, trainer.run_dir, trainer.run_id) and \
            trainer.tracker.best_step is None:
        trainer.best_report = {"valid": [], "scores": []}
    dropped = trainer.metrics.drop_after(trainer.step) if trainer.sync.ranks.is_main else 0
    if dropped:
        log.info("metrics.jsonl: %d records of steps after %d dropped (those steps are redone)",
                 dropped, trainer.step)
