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

from . import checkpoint, saving
from .allocator import keep_freed_cpu_memory
from .data.batching import TaskIterator
from .devices import resolve_precision
from .errors import TrainingError
from .evaluate import TaskScore, evaluate_task, format_scores
from .gradients import diagnose, pcgrad_backward
from .interrupt import Interrupted, StopRequest
from .loss import LossOutput
from .loss_weights import LossWeighting
from .model import MultiTaskModel
from .progress import MetricsLog, Progress
from .recipe.config import ValidConfig
from .resume import RunRecord, continue_run, restore, run_state
from .search import Sampling
from .stages import Stage, announce, enter_stage, next_stage
from .tasks import DecodeSettings, Task
from .tasks.base import Examples
from .validate import ValidResult, format_table, validate_task

log = logging.getLogger(__name__)


@dataclass
class TaskData:
    """What the trainer reads: endless training batches, and the validation split (with its
    references, when validation decodes) of every task."""

    train: dict[str, TaskIterator]
    valid: dict[str, Examples]
    valid_refs: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)


class Trainer:
    """Runs what `build.trainer.build_trainer` made; builds nothing itself."""

    def __init__(self, model: MultiTaskModel, tasks: dict[str, Task], data: TaskData,
                 stages: list[Stage], valid_cfg: ValidConfig, run_dir: Path, record: RunRecord,
                 weighting: LossWeighting | None = None) -> None:
        self.model, self.tasks, self.data, self.stages = model, tasks, data, stages
        self.weighting = weighting if weighting is not None else LossWeighting(
            list(tasks), [t.loss_weight for t in tasks.values()])  # fixed `loss_weight`s
        self.valid_cfg, self.run_dir, self.record = valid_cfg, run_dir, record
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(stages[0].cfg.precision, self.device)
        if self.device.type == "cpu":
            keep_freed_cpu_memory()  # large tensors reuse heap memory (see allocator.py)
        for stale in checkpoint.remove_stale_tmp(run_dir):
            log.info("removed %s, left by a save that was killed", stale)
        self.step, self.stopped_early, self.interrupted = 0, False, None
        self.bad_in_a_row, self.skipped, self.pending_validation = 0, {}, False
        self.best_report: dict = {"valid": [], "scores": []}
        self.run_id = uuid.uuid4().hex  # tells this run's checkpoint files from another run's
        self.metrics = MetricsLog(run_dir / "metrics.jsonl")
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

        def backward(task: str) -> None:
            stats[task] = self.task_backward(task)

        if self.cfg.gradient_surgery == "pcgrad" and len(tasks) > 1:  # gradients.py
            pcgrad_backward([p for p in self.model.parameters() if p.requires_grad], tasks,
                            backward, random.Random(self.step))
        else:
            for task in tasks:
                backward(task)
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.clip_norm or float("inf"))
        if not (torch.isfinite(norm) and all(math.isfinite(v[0]) for v in stats.values())):
            self._skip_update(tasks, stats)
            return {}
        self.bad_in_a_row = 0
        self.optimizer.step()
        self.lr.step()
        return stats

    def task_backward(self, task: str) -> tuple[float, int]:
        """``accumulate`` batches of ``task`` into ``.grad``; its mean loss per token, tokens."""
        loss_sum, tokens = 0.0, 0
        for _ in range(self.cfg.accumulate):
            out = self._forward_backward(task)
            loss_sum, tokens = loss_sum + float(out.loss.detach()), tokens + out.tokens
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

    def _forward_backward(self, name: str) -> LossOutput:
        task = self.tasks[name]
        batch = next(self.data.train[name]).to(self.device)
        with self._autocast(), self.model.task_inputs(name):  # its task embeddings, if any
            outputs = task.kind.forward(self.model, task, batch)
        out = task.kind.loss(outputs, batch, self.cfg.label_smoothing)  # float32, outside autocast
        loss = self.weighting.weigh(name, out.loss / max(out.tokens, 1))  # loss_weights.py
        (loss / self.cfg.accumulate).backward()
        return out

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
                   dynamic_ncols=True, disable=None)
        self.progress = Progress(list(self.tasks), self.step, total)
        log.info("training from step %d to %d (%s, %s, %d threads)", self.step, total,
                 self.precision, self.device, torch.get_num_threads())
        announce(self.stage, self.stage_index, len(self.stages), self.stage_start)
        with StopRequest() as stop:
            if self.pending_validation:  # the run was stopped during this step's validation
                self.validate_and_save()
            while not stop.requested and next_stage(self):
                stats = self.train_step(self.next_tasks())
                self.step += 1
                self._record(stats, bar)
                if self.cfg.diagnose_every and self.step % self.cfg.diagnose_every == 0:
                    for record in diagnose(self):
                        self.log_metrics({"split": "diagnose", **record})
                if self.step % every == 0 or self.step == self.stage_end:
                    self.validate_and_save()
                elif stop.requested:
                    saving.save_last(self.state_dict(), self.run_dir)
            if stop.requested and not (self.run_dir / saving.LAST).is_file():
                saving.save_last(self.state_dict(), self.run_dir)  # stopped before any update
            self.interrupted = stop.requested
        bar.close()
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
                                  "elapsed_s": numbers["elapsed_s"]})
            log.info("%s", line)

    # ---- validation -------------------------------------------------------------------------
    def validate(self) -> tuple[list[ValidResult], list[TaskScore]]:
        """Teacher-forced results for every task, and decoded scores when `valid.decode`.

        Raises `interrupt.Interrupted` between batches when a stop signal came; the records are
        written only once the whole validation is done, so a stopped one leaves none behind.
        """
        valid = self.valid_cfg
        forced = [validate_task(self.model, self.tasks[name], data, self.cfg.batch_tokens,
                                self.device, valid.max_sentences)
                  for name, data in self._valid_data()]
        records = {r.task: {"split": "valid", **r.as_dict()} for r in forced}
        scores = []
        if valid.decode:
            settings = DecodeSettings(valid.beam, valid.alpha, self.cfg.batch_tokens,
                                      valid.decode_sentences, Sampling.of(valid))
            scores = [evaluate_task(self.model, self.tasks[name], "valid", data, settings,
                                    self.device, self.data.valid_refs[name])[0]
                      for name, data in self._valid_data()]
        for s in scores:  # one record per task: teacher-forced numbers and decoded metrics
            records[s.task].update({s.metric: s.score, **s.others, "decoded": s.sentences})
        for task, weights in self.weighting.report().items():  # learned loss weights, if any
            records.get(task, {}).update(weights)
        for record in records.values():
            self.log_metrics(record)
        return forced, scores

    def _valid_data(self) -> list[tuple[str, Examples]]:
        """The validation splits of the current stage's tasks."""
        return [(name, data) for name, data in self.data.valid.items() if name in self.stage.tasks]

    def validate_and_save(self) -> None:
        """Validate, then write the checkpoints; a stop during validation saves this step's
        state marked as not validated yet (resuming validates it first)."""
        self.pending_validation = True
        try:
            forced, scores = self.validate()
        except Interrupted as stop:
            log.warning("%s during the validation of step %d: saving the state; resuming "
                        "validates this step first", stop.signame, self.step)
            saving.save_last(self.state_dict(), self.run_dir)
            return
        self.pending_validation = False
        if not forced:
            saving.save_last(self.state_dict(), self.run_dir)
            return
        main = {s.task: s.score for s in scores} or {r.task: r.acc for r in forced}
        verdict = self.tracker.update(self.step, main)
        self.lr.observe(sum(r.loss for r in forced) / len(forced))
        self.stopped_early = verdict.stop
        for task in verdict.tasks_stopped:
            log.info("task %s stopped: no better %s in %d validations; its best checkpoint "
                     "(step %d) stays, the other tasks go on", task, self.tasks[task].metrics[0],
                     self.tasks[task].patience, self.tracker.task_best[task][1])
            self.log_metrics({"split": "train", "event": "task_stopped", "task": task})
        log.info("step %d validation (selection score %.2f%s)\n%s%s", self.step,
                 verdict.selection_score, ", new best" if verdict.overall_improved else "",
                 format_table(forced), "\n" + format_scores(scores) if scores else "")
        if verdict.overall_improved:
            self.best_report = {"valid": [r.as_dict() for r in forced],
                                "scores": [s.as_dict() for s in scores], "step": self.step}
        saving.save_validation(self.state_dict(), self.run_dir, verdict.overall_improved,
                               verdict.tasks_improved, self.cfg.keep_last)
        if verdict.stop and len(self.tracker.stopped) == len(self.tasks):
            log.info("early stop: every task has run out of its own patience")
        elif verdict.stop:
            log.info("early stop: no better '%s' score in %d validations", self.tracker.select,
                     self.tracker.patience)

    def log_metrics(self, record: dict) -> None:
        self.metrics.write(self.step, record)

    # ---- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return run_state(self)

    def load_state_dict(self, state: dict) -> None:
        restore(self, state)

