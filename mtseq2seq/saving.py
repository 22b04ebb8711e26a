"""The checkpoint files of a run directory, written so that a kill at any moment loses no best file.

`checkpoint_last.pt` is the run's record: its tracker names the step held by `checkpoint_best.pt`
and by each `checkpoint_best_<task>.pt`. A validation that improves some of them writes, in order:
1. the new state into a hidden pending copy per file to replace (`.checkpoint_best.pt.pending`, ...);
2. `checkpoint_last.pt` (the commit: from here on the record names the new steps);
3. each pending copy renamed over its file.
A kill before 2 leaves the record and every file it names as they were (`recover` deletes the
pending copies); a kill after 2 leaves the new files in their pending copies, which `recover`
renames into place before a run continues. `verify` checks the record against the files on disk.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from . import checkpoint
from .selection import BestTracker

log = logging.getLogger(__name__)
LAST, BEST = "checkpoint_last.pt", "checkpoint_best.pt"


def best_task_name(task: str) -> str:
    """File name of a task's best checkpoint ('en>de' -> 'checkpoint_best_en-de.pt')."""
    return f"checkpoint_best_{task.replace('>', '-')}.pt"


def pending(path: Path) -> Path:
    return path.with_name(f".{path.name}.pending")


def save_last(state: dict, run_dir: Path) -> None:
    """``checkpoint_last.pt`` alone (a stop between validations)."""
    checkpoint.save_atomic(state, run_dir / LAST)


def save_validation(state: dict, run_dir: Path, overall: bool, tasks: list[str],
                    keep_last: int) -> None:
    """Every file a validation writes, in the order the module docstring gives."""
    names = [best_task_name(task) for task in tasks] + ([BEST] if overall else [])
    if keep_last > 0:
        names.insert(0, f"checkpoint_step{state['step']}.pt")
    targets = [run_dir / name for name in names]
    if targets:
        checkpoint.save_atomic(state, pending(targets[0]))
        for target in targets[1:]:
            checkpoint.copy_atomic(pending(targets[0]), pending(target))
    checkpoint.save_atomic(state, run_dir / LAST)
    for target in targets:
        checkpoint.rename_atomic(pending(target), target)
    if keep_last > 0:
        checkpoint.prune_steps(run_dir, keep_last)


def read_record(path: Path) -> dict | None:
    """A checkpoint's step, run id and tracker without reading its tensors (None if unreadable)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # damaged or not a checkpoint: not something to trust
        return None
    if not isinstance(state, dict) or "step" not in state:
        return None
    return {key: state.get(key) for key in ("step", "run_id", "tracker")}


def recover(run_dir: Path, continuing: bool) -> None:
    """Finish or undo the pending copies a killed validation left (see the module docstring)."""
    last = read_record(run_dir / LAST) if continuing else None
    for copy in sorted(run_dir.glob(".checkpoint*.pt.pending")):
        record = read_record(copy)
        target = copy.with_name(copy.name[1:-len(".pending")])
        if last is not None and record is not None and \
                (record["step"], record["run_id"]) == (last["step"], last["run_id"]):
            checkpoint.rename_atomic(copy, target)
            log.info("%s: step %d put in place (the run was killed while saving it)",
                     target.name, record["step"])
        else:
            copy.unlink()


def verify(tracker: BestTracker, run_dir: Path, run_id: str) -> list[str]:
    """Forget every best the tracker names that is not on disk; the files so forgotten."""
    forgotten = []
    if tracker.best_step is not None and not _holds(run_dir / BEST, tracker.best_step, run_id):
        tracker.best_score = tracker.best_step = None
        forgotten.append(BEST)
    for task, (_, step) in list(tracker.task_best.items()):
        if not _holds(run_dir / best_task_name(task), step, run_id):
            del tracker.task_best[task]
            forgotten.append(best_task_name(task))
    for name in forgotten:
        log.warning("%s does not hold the step the run recorded as best (written by an older "
                    "version, or changed by hand): that best is searched for again", name)
    return forgotten


def _holds(path: Path, step: int, run_id: str) -> bool:
    record = read_record(path)
    return record is not None and record["step"] == step and record["run_id"] in (run_id, None)
