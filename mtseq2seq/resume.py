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
from .errors import CheckpointError
from .plugins import warn_changed_plugins
from .vocab import Vocab, vocab_problems

log = logging.getLogger(__name__)
# plugins: absolute paths, which change when the project folder moves; compared by
# recipe-relative path (and hash: a warning) in `check_plugins_same` instead
_MAY_CHANGE = {("train", "max_steps"), ("run_dir",), ("valid", "every"), ("plugins",)}


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
    """Load ``checkpoint_last.pt`` into ``trainer`` unless ``restart``; whether it did."""
    saving.recover(run_dir, continuing=not restart)
    last = run_dir / saving.LAST
    if restart or not last.is_file():
        return False
    state = checkpoint.load(last)
    record: RunRecord = trainer.record
    check_same_recipe(state["recipe"], record.recipe, last)
    check_plugins_same(state, record, last)
    problems = vocab_problems(state["vocabs"], record.vocabs)
    if problems:
        raise CheckpointError(problems, header=f"{last} was trained with other vocabularies "
                              f"than {run_dir / 'vocab'}; use --restart or another --run-dir")
    checkpoint.check_fits(trainer.model.state_dict(), state["model"], last,
                          "the model of this recipe")
    trainer.load_state_dict(state)
    log.info("continuing from %s at step %d", last, trainer.step)
    return True


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
    where it lives, how often it validates, and plugin paths (checked on their own)."""
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
        "iterators": {t: it.state_dict() for t, it in trainer.data.train.items()},
        "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
        "tracker": trainer.tracker.state_dict(), "best_report": trainer.best_report,
        "stopped_early": trainer.stopped_early, "skipped": dict(trainer.skipped),
        "run_id": trainer.run_id, "pending_validation": trainer.pending_validation,
        "stage": trainer.stage_index, "stage_start": trainer.stage_start,
        **trainer.record.as_state(),
    }


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
    for task, it_state in state["iterators"].items():
        trainer.data.train[task].load_state_dict(it_state)
    torch.set_rng_state(state["rng"]["torch"])
    random.setstate(state["rng"]["python"])
    trainer.tracker.load_state_dict(state["tracker"])
    trainer.best_report, trainer.stopped_early = state["best_report"], state["stopped_early"]
    trainer.skipped = dict(state.get("skipped", {}))
    trainer.step = int(state["step"])
    trainer.run_id = state.get("run_id") or trainer.run_id
    trainer.pending_validation = bool(state.get("pending_validation", False))
    if saving.verify(trainer.tracker, trainer.run_dir, trainer.run_id) and \
            trainer.tracker.best_step is None:
        trainer.best_report = {"valid": [], "scores": []}
    dropped = trainer.metrics.drop_after(trainer.step)
    if dropped:
        log.info("metrics.jsonl: %d records of steps after %d dropped (those steps are redone)",
                 dropped, trainer.step)
