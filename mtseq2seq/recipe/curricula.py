"""Checks of the tasks' training strategies: `ratio` (a number or a schedule), `start_at` /
`stop_at`, `loss_weight`; each problem with its YAML path. The arithmetic is `curriculum.py`'s."""
from __future__ import annotations

from ..curriculum import (
    TaskCurriculum,
    idle_problems,
    never_scheduled,
    parse_ratio,
    window_problems,
)
from .config import Recipe


def check_curricula(recipe: Recipe) -> list[str]:
    """Loss weights above 0, well-formed ratios and windows, no task that can never be
    scheduled, and some task to train at every update before `train.max_steps` (ratios
    converted in place)."""
    problems: list[str] = []
    curricula: dict[str, TaskCurriculum] = {}
    max_steps = recipe.train.max_steps
    for name, task in recipe.tasks.items():
        path = f"tasks.{name}"
        if task.loss_weight is not None and not task.loss_weight > 0:
            problems.append(f"{path}.loss_weight: got {task.loss_weight:g}, expected a number "
                            "above 0 (a task that should not count needs no place in the recipe)")
        if task.ratio is None:
            continue  # the schema reported it
        task.ratio, found = parse_ratio(task.ratio, f"{path}.ratio")
        found += window_problems(task.start_at, task.stop_at, path)
        if not found:
            curricula[name] = TaskCurriculum.of(task.ratio, task.start_at, task.stop_at)
            found += never_scheduled(curricula[name], path)
        problems += found
    if not problems and curricula:
        problems += idle_problems(curricula, max_steps)
    return problems
