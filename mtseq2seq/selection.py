"""Which validation is best: per task, and overall by a weighted mean or one named task; patience
for the run, and per task: a task whose main metric has not improved for its `patience`
validations is stopped (no longer trained; its best checkpoint stays as it is).

Scores are higher-is-better (BLEU, chrF, tree F1, exact match, token accuracy).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Verdict:
    overall_improved: bool
    tasks_improved: list[str]
    selection_score: float
    stop: bool  # patience ran out (the run's, or every task's own)
    tasks_stopped: list[str] = field(default_factory=list)  # tasks whose own patience ran out now


@dataclass
class BestTracker:
    select: str = "mean"  # "mean" or a task name
    weights: dict = field(default_factory=dict)
    patience: int = 0
    best_score: float | None = None
    best_step: int | None = None
    task_best: dict = field(default_factory=dict)  # task -> [score, step]
    bad_checks: int = 0
    task_patience: dict = field(default_factory=dict)  # task -> validations it may go unimproved
    task_bad: dict = field(default_factory=dict)  # task -> validations without a new best
    stopped: list = field(default_factory=list)  # tasks no longer trained, in stopping order

    def selection_score(self, scores: dict[str, float]) -> float:
        if self.select != "mean":
            return scores[self.select]
        weights = {t: float(self.weights.get(t, 1.0)) for t in scores}
        total = sum(weights.values()) or 1.0
        return sum(scores[t] * weights[t] for t in scores) / total

    def update(self, step: int, scores: dict[str, float]) -> Verdict:
        value = self.selection_score(scores)
        improved = self.best_score is None or value > self.best_score
        if improved:
            self.best_score, self.best_step, self.bad_checks = value, step, 0
        else:
            self.bad_checks += 1
        better = [t for t, s in scores.items() if t not in self.stopped
                  and (t not in self.task_best or s > self.task_best[t][0])]
        for task in better:
            self.task_best[task] = [scores[task], step]
        now_stopped = self._task_patience(scores, better)
        stop = (self.patience > 0 and self.bad_checks >= self.patience) or \
            (bool(scores) and all(t in self.stopped for t in scores))
        return Verdict(improved, better, value, stop, now_stopped)

    def _task_patience(self, scores: dict[str, float], better: list[str]) -> list[str]:
        """Count each patient task's validations without a new best; those out of patience."""
        now = []
        for task, patience in self.task_patience.items():
            if task in self.stopped or task not in scores:
                continue
            self.task_bad[task] = 0 if task in better else self.task_bad.get(task, 0) + 1
            if self.task_bad[task] >= patience:
                self.stopped.append(task)
                now.append(task)
        return now

    def state_dict(self) -> dict:
        return {"best_score": self.best_score, "best_step": self.best_step,
                "task_best": {t: list(v) for t, v in self.task_best.items()},
                "bad_checks": self.bad_checks, "task_bad": dict(self.task_bad),
                "stopped": list(self.stopped)}

    def load_state_dict(self, state: dict) -> None:
        self.best_score, self.best_step = state["best_score"], state["best_step"]
        self.task_best = {t: list(v) for t, v in state["task_best"].items()}
        self.bad_checks = int(state["bad_checks"])
        self.task_bad = {t: int(n) for t, n in state.get("task_bad", {}).items()}
        self.stopped = list(state.get("stopped", []))
