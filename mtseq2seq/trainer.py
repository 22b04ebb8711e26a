"""The training loop: scheduler -> task -> batch -> the kind's loss -> update; validation and
checkpoints. It runs what the builder (`build/trainer.py`) made and builds nothing itself.

Each update trains the task(s) the scheduler names for it (curricula included), asking each task's
kind for the loss of a batch, weighted by `loss_weights.py`. Every `valid.every` updates each task
is validated (the kind's teacher-forced loss and accuracy, and its own metrics on its predictions),
then the checkpoints are written (`saving.py`: `checkpoint_last.pt`, `checkpoint_best.pt` when the selection
score, a weighted mean of the tasks' main metrics or one task's, improves, and
`checkpoint_best_<task>.pt` per task, in a crash-consistent order). Every event goes to
`metrics.jsonl` (`progress.py`), one JSON line per (step, split, task).
"""
from __future__ import annotations

import logging
import math
import random
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from . import checkpoint, saving, validation_round
from .allocator import keep_freed_cpu_memory
from .data.batching import TaskIterator
from .devices import resolve_precision
from .distributed import RankSync
from .errors import TrainingError
from .evaluate import TaskScore
from .gradients import diagnose, pcgrad_backward
from .interrupt import StopRequest
from .loss import LossOutput
from .loss_weights import LossWeighting
from .model import MultiTaskModel
from .progress import MetricsLog, Progress
from .recipe.config import ValidConfig
from .resume import RunRecord, continue_run, restore, run_state
from .stages import Stage, announce, enter_stage, next_stage
from .tasks import Task
from .tasks.base import Examples
from .tensorboard_log import open_tensorboard
from .validate import ValidResult

log = logging.getLogger(__name__)


@dataclass
class TaskData:
    """What the trainer reads: endless training batches, and the validation splits (with their
    references, when validation decodes) of every task."""

    train: dict[str, TaskIterator]
    valid: dict[str, Examples]  # each task's first validation split (it selects checkpoints)
    valid_refs: dict = field(default_factory=dict)  # task, or (task, role) -> (sources, refs)
    valid_extra: dict[tuple[str, str], Examples] = field(default_factory=dict)  # (task, 'valid[1]')


class Trainer:
    """Runs what `build.trainer.build_trainer` made; builds nothing itself."""

    def __init__(self, model: MultiTaskModel, tasks: dict[str, Task], data: TaskData,
                 stages: list[Stage], valid_cfg: ValidConfig, run_dir: Path, record: RunRecord,
                 weighting: LossWeighting | None = None, sync: RankSync | None = None) -> None:
        self.model, self.tasks, self.data, self.stages = model, tasks, data, stages
        self.sync = sync if sync is not None else RankSync()  # one process: nothing to send
        self.weighting = weighting if weighting is not None else LossWeighting(
            list(tasks), [t.loss_weight for t in tasks.values()])  # fixed `loss_weight`s
        self.valid_cfg, self.run_dir, self.record = valid_cfg, run_dir, record
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(stages[0].cfg.precision, self.device)
        if self.device.type == "cpu":
            keep_freed_cpu_memory()  # large tensors reuse heap memory (see allocator.py)
        for stale in checkpoint.remove_stale_tmp(run_dir) if self.sync.ranks.is_main else []:
            log.info("removed %s, left by a save that was killed", stale)
        self.step, self.stopped_early, self.interrupted = 0, False, None
        self.bad_in_a_row, self.skipped, self.pending_validation = 0, {}, False
        self.best_report: dict = {"valid": [], "scores": []}
        self.run_id = uuid.uuid4().hex  # tells this run's checkpoint files from another run's
        self.metrics = MetricsLog(run_dir / "metrics.jsonl", open_tensorboard(
            stages[0].cfg.tensorboard, run_dir) if self.sync.ranks.is_main else None)
        self.enter_stage(0, 0)

    def enter_stage(self, index: int, start: int) -> None:
        """Make stage ``index`` (begun at update ``start``) the current one (`stages.py`)."""
        enter_stage(self, index, start)

    @property
    def stage_end(self) -> int:
        return self.stage_start + self.stage.cfg.max_steps

    def resume(self, restart: bool) -> bool:
        """Continue from the run directory's checkpoint_last.pt unless ``restart``; whether it
        did (the checks that refuse another recipe or other vocabularies are in `resume.py`)."""
        return continue_run(self, self.run_dir, restart)

    # ---- one update -------------------------------------------------------------------------
    def train_step(self, tasks: list[str]) -> dict[str, tuple[float, int]]:
        """One optimizer update over ``tasks`` (each ``accumulate`` batches); per-task loss/token.

        A non-finite loss or gradient skips the update (counted per task); `max_bad_steps` such
        updates in a row raise TrainingError, leaving the last good checkpoint as it was.
        """
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        stats = {}

        trainable = [p for p in self.parameters() if p.requires_grad]

        def backward(task: str, reduce: bool) -> None:
            stats[task] = self.task_backward(task)
            if reduce:  # summed over the ranks (nothing to do in one process)
                self.sync.reduce_gradients(trainable)

        if self.cfg.gradient_surgery == "pcgrad" and len(tasks) > 1:  # gradients.py
            pcgrad_backward([p for p in self.model.parameters() if p.requires_grad], tasks,
                            lambda task: backward(task, True), random.Random(self.step))
        else:
            for i, task in enumerate(tasks):
                backward(task, i == len(tasks) - 1)
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.clip_norm or float("inf"))
        if not (torch.isfinite(norm) and all(math.isfinite(v[0]) for v in stats.values())):
            self._skip_update(tasks, stats)
            return {}
        self.bad_in_a_row = 0
        self.optimizer.step()
        self.lr.step()
        return stats

    def parameters(self) -> list[torch.nn.Parameter]:
        """What the optimizers train: the model's parameters and the learned loss weights."""
        return [*self.model.parameters(), *self.weighting.parameters()]

    def task_backward(self, task: str) -> tuple[float, int]:
        """``accumulate`` batches of ``task`` into ``.grad``; its mean loss per token and its
        tokens (of all ranks)."""
        loss_sum, tokens = 0.0, 0
        for _ in range(self.cfg.accumulate):
            batch_loss, batch_tokens = self._forward_backward(task)
            loss_sum, tokens = loss_sum + batch_loss, tokens + batch_tokens
        return loss_sum / max(tokens, 1), tokens

    def _skip_update(self, tasks: list[str], stats: dict[str, tuple[float, int]]) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.bad_in_a_row += 1
        for task in tasks:
            self.skipped[task] = self.skipped.get(task, 0) + 1
        log.warning("step %d: non-finite loss or gradient in %s (losses %s); update skipped "
                    "(%d in a row)", self.step + 1, ", ".join(tasks),
                    {t: v[0] for t, v in stats.items()}, self.bad_in_a_row)
        self.log_metrics({"split": "train", "event": "skipped_update", "tasks": tasks,
                          "skipped_per_task": dict(self.skipped)})
        if self.bad_in_a_row >= self.cfg.max_bad_steps:
            raise TrainingError(
                f"{self.bad_in_a_row} updates in a row had a non-finite loss or gradient (last "
                f"tasks: {', '.join(tasks)}); stopped at step {self.step}. The last good "
                f"checkpoint is {self.run_dir / 'checkpoint_last.pt'}; try a lower train.lr, "
                f"a smaller train.clip_norm or train.precision=fp32")

    def _forward_backward(self, name: str) -> tuple[float, int]:
        """One batch's backward; its loss sum and target tokens, summed over the ranks.

        Each rank divides its loss sum by the tokens of all ranks (times the number of ranks,
        undone after weighing: a task's weighing is affine in its loss), so once the gradients
        are summed over the ranks the update is that of one batch of every rank's batches.
        """
        task = self.tasks[name]
        batch = next(self.data.train[name]).to(self.device)
        with self._autocast(), self.model.task_inputs(name):  # its task embeddings, if any
            outputs = task.kind.forward(self.model, task, batch)
        out: LossOutput = task.kind.loss(outputs, batch, self.cfg.label_smoothing)  # float32
        loss_sum, tokens = self.sync.totals(out.loss.detach(), out.tokens)
        world = self.sync.ranks.world
        loss = self.weighting.weigh(name, out.loss / (max(tokens, 1) / world)) / world
        (loss / self.cfg.accumulate).backward()
        return loss_sum, tokens

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    # ---- the loop ---------------------------------------------------------------------------
    def train(self) -> dict:
        """Train every stage to its ``max_steps`` (or early stop, or a stop signal); returns
        the best report (of the last stage trained)."""
        every = max(self.valid_cfg.every, 1)
        total = self.stage_start + sum(s.cfg.max_steps for s in self.stages[self.stage_index:])
        bar = tqdm(total=total, initial=self.step, desc="train", unit="step",
                   dynamic_ncols=True, disable=None if self.sync.ranks.is_main else True)
        self.progress = Progress(list(self.tasks), self.step, total)
        log.info("training from step %d to %d (%s, %s, %d threads%s)", self.step, total,
                 self.precision, self.device, torch.get_num_threads(),
                 f", {self.sync.ranks.world} processes" if self.sync.active else "")
        announce(self.stage, self.stage_index, len(self.stages), self.stage_start)
        with StopRequest() as stop:
            if self.pending_validation:  # the run was stopped during this step's validation
                self.validate_and_save()
            stopping = self.sync.agree_stop(stop.requested)  # any rank's signal stops all
            while not stopping and next_stage(self):
                stats = self.train_step(self.next_tasks())
                self.step += 1
                self._record(stats, bar)
                if self.cfg.diagnose_every and self.step % self.cfg.diagnose_every == 0:
                    for record in diagnose(self):
                        self.log_metrics({"split": "diagnose", **record})
                stopping = self.sync.agree_stop(stop.requested)
                if self.step % every == 0 or self.step == self.stage_end:
                    self.validate_and_save()
                    stopping = self.sync.agree_stop(stop.requested)
                elif stopping:
                    self.save_last()
            if stopping and not self.sync.from_main((self.run_dir / saving.LAST).is_file()):
                self.save_last()  # stopped before any update
            self.interrupted = stopping
            self.sync.barrier()  # no rank leaves while rank 0 still writes
        bar.close()
        if self.metrics.mirror is not None:
            self.metrics.mirror.close()
        if self.tracker.best_step is not None:
            log.info("best checkpoint: step %d, selection score %.2f", self.tracker.best_step,
                     self.tracker.best_score)
        return self.best_report

    def next_tasks(self) -> list[str]:
        """The scheduler's draw for this update (its curriculum applied), less the tasks whose
        own patience ran out; none when every task the curriculum allows now has stopped."""
        return self.scheduler.draw(self.step - self.stage_start, self.tracker.stopped)

    def _record(self, stats: dict[str, tuple[float, int]], bar: tqdm) -> None:
        self.progress.add(stats)
        bar.update(1)
        bar.set_postfix({t: f"{v:.2f}" for t, v in self.progress.means().items()}, refresh=False)
        if self.step % max(self.cfg.log_every, 1) == 0:
            means = self.progress.means()
            line, numbers = self.progress.report(self.step)
            for task, loss in means.items():
                self.log_metrics({"split": "train", "task": task, "loss": loss,
                                  "updates": numbers["updates"][task], "lr": self.lr.rate(),
                                  "tokens_per_s": numbers["tokens_per_s"],
                                  "elapsed_s": numbers["elapsed_s"], **self._comm()})
            log.info("%s", line)

    def _comm(self) -> dict:
        """With several ranks: seconds spent in collectives so far (for the communication share
        that `bench/distributed_speed.py` reports)."""
        return {"comm_s": round(self.sync.seconds, 3), "ranks": self.sync.ranks.world} \
            if self.sync.active else {}

    # ---- validation and checkpoints (`validation_round.py`) --------------------------------
    def validate(self) -> tuple[list[ValidResult], list[TaskScore]]:
        return validation_round.validate(self)

    def validate_and_save(self) -> None:
        validation_round.validate_and_save(self)

    def log_metrics(self, record: dict) -> None:
        if self.sync.ranks.is_main:
            self.metrics.write(self.step, record)

    def save_last(self) -> None:
        """``checkpoint_last.pt`` (every rank gives its state; rank 0 writes)."""
        state = self.state_dict()
        if self.sync.ranks.is_main:
            saving.save_last(state, self.run_dir)

    def save_validation(self, overall: bool, tasks: list[str]) -> None:
        """The files of a validation (`saving.save_validation`; rank 0 writes)."""
        state = self.state_dict()
        if self.sync.ranks.is_main:
            saving.save_validation(state, self.run_dir, overall, tasks, self.cfg.keep_last)

    def state_dict(self) -> dict:
        """`resume.run_state` (with every rank's data positions and random state)."""
        return run_state(self)

    def load_state_dict(self, state: dict) -> None:
        restore(self, state)

