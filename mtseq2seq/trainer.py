"""The training loop: scheduler -> task -> batch -> loss -> update; validation and checkpoints.

Each update trains the task(s) the scheduler names; every `valid.every` updates every task is
validated, `checkpoint_last.pt` is written, and `checkpoint_best.pt` when the mean token accuracy
over tasks improves. `metrics.jsonl` in the run directory gets one JSON line per task and event.
"""
from __future__ import annotations

import json
import logging
import random
from contextlib import nullcontext
from pathlib import Path

import torch
from tqdm import tqdm

from . import checkpoint
from .config import Recipe
from .data.batching import TaskIterator
from .loss import label_smoothed_loss
from .model import MultiTaskModel
from .optim import LRSchedule, build_optimizer
from .run import load_task_data
from .scheduler import build_scheduler
from .validate import ValidResult, format_table, validate_task
from .vocab import Vocab

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    def __init__(self, recipe: Recipe, run_dir: Path, vocabs: dict[str, Vocab]) -> None:
        self.recipe, self.run_dir, self.vocabs, self.cfg = recipe, run_dir, vocabs, recipe.train
        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        torch.manual_seed(recipe.seed)
        random.seed(recipe.seed)
        self.device = pick_device(self.cfg.device)
        self.model = MultiTaskModel.build(recipe, vocabs).to(self.device)
        self.tasks = list(recipe.tasks)
        self.train_data = {t: d for t, (d, _) in load_task_data(recipe, vocabs, "train").items()}
        self.valid_data = {t: d for t, (d, _) in load_task_data(recipe, vocabs, "valid").items()}
        self.iterators = {t: TaskIterator(self.train_data[t], self.cfg.batch_tokens, recipe.seed + i)
                          for i, t in enumerate(self.tasks)}
        self.scheduler = build_scheduler(
            recipe.schedule.type, recipe.schedule.options, self.tasks,
            [recipe.tasks[t].ratio for t in self.tasks],
            [len(self.train_data[t]) for t in self.tasks], recipe.seed)
        self.optimizer = build_optimizer(self.model, self.cfg)
        self.lr = LRSchedule(self.optimizer, self.cfg)
        self.step = 0
        self.best: dict = {"score": None, "step": None, "results": []}
        self.running: dict[str, list[float]] = {t: [0.0, 0] for t in self.tasks}

    def pad_id(self, task: str) -> int:
        return self.vocabs[self.recipe.tasks[task].decoder].pad_id

    # ---- one update -------------------------------------------------------------------------
    def train_step(self, tasks: list[str]) -> dict[str, tuple[float, int]]:
        """One optimizer update over ``tasks`` (each ``accumulate`` batches); per-task loss/token."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        stats = {}
        for task in tasks:
            loss_sum, tokens = 0.0, 0
            for _ in range(self.cfg.accumulate):
                out = self._forward_backward(task)
                loss_sum, tokens = loss_sum + float(out.loss.detach()), tokens + out.tokens
            stats[task] = (loss_sum / max(tokens, 1), tokens)
        if self.cfg.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(
                [p for p in self.model.parameters() if p.grad is not None], self.cfg.clip_norm)
        self.optimizer.step()
        self.lr.step()
        return stats

    def _forward_backward(self, task: str):
        batch = next(self.iterators[task]).to(self.device)
        with self._autocast():
            logits = self.model(task, batch.src, batch.tgt_in)  # (B, T, V)
        out = label_smoothed_loss(logits, batch.tgt_out, self.cfg.label_smoothing, self.pad_id(task))
        (out.loss / max(out.tokens, 1) / self.cfg.accumulate).backward()
        return out

    def _autocast(self):
        return nullcontext()

    # ---- the loop ---------------------------------------------------------------------------
    def train(self) -> list[ValidResult]:
        """Train to ``max_steps``; returns the validation results of the best checkpoint."""
        every = max(self.recipe.valid.every, 1)
        bar = tqdm(total=self.cfg.max_steps, initial=self.step, desc="train", unit="step",
                   dynamic_ncols=True, disable=None)
        while self.step < self.cfg.max_steps:
            stats = self.train_step(self.scheduler.next_tasks())
            self.step += 1
            self._record(stats, bar)
            if self.step % every == 0 or self.step == self.cfg.max_steps:
                self.validate_and_save()
        bar.close()
        log.info("best checkpoint: step %s, mean token accuracy %.2f%%\n%s", self.best["step"],
                 self.best["score"], format_table(self.best["results"]))
        return self.best["results"]

    def _record(self, stats: dict[str, tuple[float, int]], bar: tqdm) -> None:
        for task, (loss, tokens) in stats.items():
            running = self.running[task]
            running[0], running[1] = running[0] + loss, running[1] + 1
        bar.update(1)
        bar.set_postfix({t: f"{r[0] / r[1]:.2f}" for t, r in self.running.items() if r[1]},
                        refresh=False)
        if self.step % max(self.cfg.log_every, 1) == 0:
            for task, (total, count) in self.running.items():
                if count:
                    self.log_metrics({"split": "train", "task": task, "loss": total / count,
                                      "updates": count, "lr": self.lr.rate()})
            log.info("step %d: %s", self.step, ", ".join(
                f"{t} {r[0] / r[1]:.3f}" for t, r in self.running.items() if r[1]))
            self.running = {t: [0.0, 0] for t in self.tasks}

    def validate(self) -> list[ValidResult]:
        results = [validate_task(self.model, task, self.valid_data[task], self.cfg.batch_tokens,
                                 self.device, self.pad_id(task), self.recipe.valid.max_sentences)
                   for task in self.tasks if task in self.valid_data]
        for r in results:
            self.log_metrics({"split": "valid", **r.as_dict()})
        return results

    def validate_and_save(self) -> None:
        results = self.validate()
        if not results:
            self.save("checkpoint_last.pt")
            return
        score = sum(r.acc for r in results) / len(results)
        self.lr.observe(sum(r.loss for r in results) / len(results))
        log.info("step %d validation (mean acc %.2f%%)\n%s", self.step, score, format_table(results))
        improved = self.best["score"] is None or score > self.best["score"]
        if improved:
            self.best = {"score": score, "step": self.step, "results": results}
        self.save("checkpoint_last.pt")
        if improved:
            self.save("checkpoint_best.pt")

    def log_metrics(self, record: dict) -> None:
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": self.step, **record}) + "\n")

    # ---- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": checkpoint.FORMAT, "step": self.step, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "lr": self.lr.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "iterators": {t: it.state_dict() for t, it in self.iterators.items()},
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
            "best": {"score": self.best["score"], "step": self.best["step"],
                     "results": [r.as_dict() for r in self.best["results"]]},
            "recipe": self.recipe.resolved,
            "vocabs": {slot: v.to_state() for slot, v in self.vocabs.items()},
        }

    def save(self, name: str) -> None:
        checkpoint.save_atomic(self.state_dict(), self.run_dir / name)

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr.load_state_dict(state["lr"])
        self.scheduler.load_state_dict(state["scheduler"])
        for task, it_state in state["iterators"].items():
            self.iterators[task].load_state_dict(it_state)
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        best = state["best"]
        self.best = {"score": best["score"], "step": best["step"],
                     "results": [ValidResult(**r) for r in best["results"]]}
        self.step = int(state["step"])
