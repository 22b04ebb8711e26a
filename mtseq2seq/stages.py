"""Stages of a run: what the trainer swaps in when one stage ends and the next begins.

A recipe without `stages:` is one stage of every task. With `stages:`, each stage has its own
tasks, scheduler, optimizer (fresh: no moments carried over), learning-rate schedule (its own
warm-up), `freeze:` and best-checkpoint tracking; the model, the data positions, the noise and
the loss weights go on. A stage ends after its `max_steps` updates, or earlier when its
validations run out of `valid.patience`; its last state is kept as `checkpoint_stage_<name>.pt`.
Curricula (`start_at`, ratio schedules) count the updates of their stage.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from . import checkpoint, saving
from .freezing import set_frozen
from .optim import LRSchedule
from .recipe.config import TrainConfig
from .scheduler import TaskScheduler
from .selection import BestTracker

log = logging.getLogger(__name__)


@dataclass
class Stage:
    """One stage, built by `build/stages.py`; ``cfg.max_steps`` is its number of updates."""

    name: str
    tasks: list[str]
    cfg: TrainConfig
    scheduler: TaskScheduler
    optimizer: torch.optim.Optimizer
    lr: LRSchedule
    frozen: list[nn.Parameter]


def stage_file(name: str) -> str:
    """The checkpoint a finished stage leaves behind."""
    return f"checkpoint_stage_{name}.pt"


def announce(stage: Stage, index: int, count: int, start: int) -> None:
    """Log what a stage trains and freezes (for a run of several stages)."""
    if count == 1:
        return
    frozen = sum(p.numel() for p in stage.frozen)
    log.info("stage %d/%d '%s' from step %d: %d updates of %s (lr %g, warm-up %d)%s", index + 1,
             count, stage.name, start, stage.cfg.max_steps, ", ".join(stage.tasks),
             stage.cfg.lr, stage.cfg.warmup,
             f"; {frozen:,} parameters frozen ({', '.join(stage.cfg.freeze)})" if frozen else "")


def enter_stage(trainer, index: int, start: int) -> None:
    """Make stage ``index`` (begun at update ``start``) ``trainer``'s current one: its tasks,
    scheduler, optimizer, learning rate, frozen parameters and a fresh best tracker (selecting
    by `valid.select`, or by the mean when that task is not in the stage)."""
    stage = trainer.stages[index]
    trainer.stage_index, trainer.stage_start, trainer.stage = index, start, stage
    trainer.scheduler, trainer.optimizer = stage.scheduler, stage.optimizer
    trainer.lr, trainer.cfg = stage.lr, stage.cfg
    set_frozen(trainer.model, stage.frozen)
    trainer.model.zero_grad(set_to_none=True)  # no stale gradient of another stage's optimizer
    valid = trainer.valid_cfg
    select = valid.select if valid.select in stage.tasks else "mean"
    trainer.tracker = BestTracker(select, dict(valid.weights), valid.patience,
                                  task_patience={n: trainer.tasks[n].patience for n in stage.tasks
                                                 if trainer.tasks[n].patience})


def next_stage(trainer) -> bool:
    """Move ``trainer`` on while its stage is done (its updates, or stopped early); whether a
    stage is left to train. A finished stage's last state is copied to its own file."""
    while trainer.step >= trainer.stage_end or trainer.stopped_early:
        if trainer.stage_index + 1 >= len(trainer.stages):
            return False
        last = trainer.run_dir / saving.LAST
        if trainer.sync.ranks.is_main and last.is_file():  # rank 0 writes
            checkpoint.copy_atomic(last, trainer.run_dir / stage_file(trainer.stage.name))
        trainer.stopped_early = False
        enter_stage(trainer, trainer.stage_index + 1, trainer.step)
        announce(trainer.stage, trainer.stage_index, len(trainer.stages), trainer.step)
    return True
