"""Curricula: when each task may be scheduled, and how often, as a function of the update number.

A task trains from update `start_at` up to (not including) `stop_at`; its `ratio` is a number or a
piecewise-linear schedule `[[step, ratio], ...]` (steps strictly increasing): the first ratio before
the first point, the last after the last, linear in between. An update's number is the count of
updates done before it (the first update is update 0), as the trainer's `step` counts them.

The schedulers (`scheduler.py`) read each update's ratios from a `Curriculum`; the recipe checks
(`recipe/sections.py`) use the problem functions below, each problem starting with its YAML path.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Sequence

from .errors import short_repr

Point = tuple[int, float]  # (update number, ratio)
RatioValue = Any  # a recipe's `ratio:`: a number, or a list of [step, ratio] pairs


@dataclass(frozen=True)
class TaskCurriculum:
    """One task's window [start_at, stop_at) and ratio schedule (at least one point)."""

    points: tuple[Point, ...]
    start_at: int = 0
    stop_at: int | None = None  # None: to the end of training

    @classmethod
    def of(cls, ratio: RatioValue, start_at: int = 0,
           stop_at: int | None = None) -> "TaskCurriculum":
        """From a checked recipe's values: a number or [[step, ratio], ...]."""
        if isinstance(ratio, (int, float)):
            return cls(((0, float(ratio)),), start_at or 0, stop_at)
        return cls(tuple((int(s), float(r)) for s, r in ratio), start_at or 0, stop_at)

    def active(self, step: int) -> bool:
        return step >= self.start_at and (self.stop_at is None or step < self.stop_at)

    def ratio_at(self, step: int) -> float:
        """The task's ratio at update ``step``; 0 outside its window."""
        return interpolate(self.points, step) if self.active(step) else 0.0

    def edges(self) -> set[int]:
        """Updates around which the ratio stops being linear: window ends, schedule points."""
        found = {self.start_at - 1, self.start_at}
        if self.stop_at is not None:
            found |= {self.stop_at - 1, self.stop_at}
        for step, _ in self.points:
            found |= {step - 1, step, step + 1}
        return found


def interpolate(points: Sequence[Point], step: int) -> float:
    """Piecewise-linear value at ``step``; constant before the first and after the last point."""
    i = bisect.bisect_right([s for s, _ in points], step)
    if i == 0:
        return points[0][1]
    if i == len(points):
        return points[-1][1]
    (s0, r0), (s1, r1) = points[i - 1], points[i]
    return r0 + (r1 - r0) * (step - s0) / (s1 - s0)


class Curriculum:
    """Every task's curriculum, in the scheduler's task order."""

    def __init__(self, tasks: Sequence[TaskCurriculum]) -> None:
        self.tasks = list(tasks)

    @classmethod
    def constant(cls, ratios: Sequence[float]) -> "Curriculum":
        """Fixed ratios, every task always active (a scheduler built without a curriculum)."""
        return cls([TaskCurriculum(((0, float(r)),)) for r in ratios])

    def ratios(self, step: int) -> list[float]:
        """Each task's ratio at update ``step`` (0 for a task outside its window)."""
        return [t.ratio_at(step) for t in self.tasks]

    def first_idle(self, max_steps: int) -> int | None:
        """The first update before ``max_steps`` at which every ratio is 0, or None.

        Between two consecutive edges every ratio is linear and non-negative, so their sum is 0
        somewhere in between only if it is 0 at both edges: checking the edges is enough.
        """
        edges = {0, max_steps - 1}.union(*(t.edges() for t in self.tasks))
        for step in sorted(s for s in edges if 0 <= s < max_steps):
            if not any(r > 0 for r in self.ratios(step)):
                return step
        return None


def _number(value: Any) -> float | None:
    """A finite number from YAML (which reads `5e-4` as a string), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def parse_ratio(value: RatioValue, path: str) -> tuple[RatioValue, list[str]]:
    """(the ratio with its numbers converted, problems): a positive number, or a schedule."""
    if not isinstance(value, list):
        number = _number(value)
        if number is not None and number > 0:
            return number, []
        shown = f"{number:g}" if number is not None else short_repr(value)
        return value, [f"{path}: got {shown}, expected a positive number or a "
                       "schedule [[step, ratio], ...] (ratio 0 would never schedule the task)"]
    if not value:
        return value, [f"{path}: an empty schedule; give [[step, ratio], ...] or a number"]
    points, problems = [], []
    for i, item in enumerate(value):
        point, problem = _point(item, f"{path}[{i}]")
        if problem:
            problems.append(problem)
        elif points and point[0] <= points[-1][0]:
            problems.append(f"{path}[{i}]: step {point[0]} is not after step {points[-1][0]} "
                            "(the steps of a ratio schedule must increase)")
        else:
            points.append(point)
    return ([list(p) for p in points] if not problems else value), problems


def _point(item: Any, where: str) -> tuple[Point, str | None]:
    """One [step, ratio] pair of a schedule, or the problem with it."""
    if not (isinstance(item, list) and len(item) == 2):
        return (0, 0.0), f"{where}: got {short_repr(item)}, expected a pair [step, ratio]"
    step, ratio = _number(item[0]), _number(item[1])
    if step is None or step < 0 or step != int(step):
        return (0, 0.0), (f"{where}: step {short_repr(item[0])} is not an update number "
                          "(a whole number of at least 0)")
    if ratio is None or ratio < 0:
        return (0, 0.0), (f"{where}: ratio {short_repr(item[1])} is not a number of at least 0 "
                          "(0 pauses the task)")
    return (item[0] if isinstance(item[0], int) else int(step), ratio), None


def window_problems(start_at: int, stop_at: int | None, path: str) -> list[str]:
    """A window [start_at, stop_at) that holds no update."""
    if stop_at is not None and start_at >= stop_at:
        return [f"{path}.stop_at: {stop_at} is not after start_at {start_at} (the task trains "
                "from update start_at up to, not including, stop_at)"]
    return []


def never_scheduled(task: TaskCurriculum, path: str) -> list[str]:
    """The problem of a task whose ratio is 0 throughout its window (checking the window's ends
    and the schedule points inside it is enough: the ratio is linear between them)."""
    steps = {task.start_at} | {s for s, _ in task.points if task.active(s)}
    if task.stop_at is not None:
        steps.add(task.stop_at - 1)
    if any(task.ratio_at(s) > 0 for s in steps):
        return []
    end = f"to {task.stop_at - 1}" if task.stop_at is not None else "on"
    return [f"{path}: can never be scheduled: its ratio is 0 at every update from "
            f"{task.start_at} {end}"]


def idle_problems(tasks: dict[str, TaskCurriculum], max_steps: int) -> list[str]:
    """A problem if some update before ``max_steps`` has no task to train, naming why."""
    step = Curriculum(list(tasks.values())).first_idle(max_steps)
    if step is None:
        return []
    why = []
    for name, task in tasks.items():
        if step < task.start_at:
            why.append(f"{name} starts at {task.start_at}")
        elif task.stop_at is not None and step >= task.stop_at:
            why.append(f"{name} stopped at {task.stop_at}")
        else:
            why.append(f"{name} has ratio 0 there")
    return [f"tasks: no task can be scheduled at update {step} (train.max_steps {max_steps}): "
            f"{'; '.join(why)}"]


def describe(ratio: RatioValue, start_at: int, stop_at: int | None) -> str:
    """`ratio 1` or `updates 50..99, ratio [[0, 1], [5000, 0.1]]` for `mtseq2seq graph`."""
    if isinstance(ratio, list):
        shown = "[" + ", ".join(f"[{s}, {r:g}]" for s, r in ratio) + "]"
    else:
        shown = f"{ratio:g}"
    if start_at or stop_at is not None:
        end = "" if stop_at is None else str(stop_at - 1)
        return f"updates {start_at}..{end}, ratio {shown}"
    return f"ratio {shown}"
