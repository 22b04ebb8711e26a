"""Task schedulers: which task(s) the next update trains.

The interface is tiny (after jiant): `next_tasks()` returns the task names for one update, and
`state_dict` / `load_state_dict` make a resumed run pick the same sequence. One task per update is the
default (Luong et al. 2016); `every_task` sums one batch of every task into each update.

Curricula (`curriculum.py`): before each draw the trainer calls `draw(step)`, which sets
`self.ratios` to the ratios of that update (0 for a task outside its `start_at`/`stop_at` window)
and keeps out any task whose ratio is 0 there; a scheduler that reads `self.ratios` at each draw
follows ratio schedules. The update number comes from the trainer, so resuming needs no more state.
"""
from __future__ import annotations

import random
from typing import Sequence

from .curriculum import Curriculum
from .errors import TrainingError
from .registry import Registry

MAX_DRAWS = 1_000_000  # draws in a row that name no task to train: the scheduler ignores its ratios


class TaskScheduler:
    """Base class. Toolkit-provided constructor arguments: tasks, ratios, sizes, seed."""

    def __init__(self, tasks: list[str], ratios: list[float], sizes: list[int], seed: int) -> None:
        self.tasks, self.ratios, self.sizes = list(tasks), list(ratios), list(sizes)
        self.rng = random.Random(seed)
        self.curriculum = Curriculum.constant(ratios)  # `build_scheduler` sets the recipe's

    def next_tasks(self) -> list[str]:
        raise NotImplementedError

    def draw(self, step: int, skip: Sequence[str] = ()) -> list[str]:
        """The tasks of update ``step``: `next_tasks()` under that update's ratios, less the tasks
        the curriculum keeps out and those in ``skip`` (drawn again while none is left); an empty
        list when every task the curriculum allows is in ``skip``."""
        self.ratios = self.curriculum.ratios(step)
        allowed = {t for t, r in zip(self.tasks, self.ratios) if r > 0}
        if allowed <= set(skip):
            return []
        for _ in range(MAX_DRAWS):
            tasks = [t for t in self.next_tasks() if t in allowed and t not in skip]
            if tasks:
                return tasks
        raise TrainingError(f"{type(self).__name__}: {MAX_DRAWS} draws in a row at update {step} "
                            f"named no task allowed there ({', '.join(sorted(allowed))}); a "
                            "scheduler must draw by self.ratios, which draw() sets per update")

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate()}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(_as_rng_state(state["rng"]))


def _as_rng_state(state: object) -> tuple:
    """random's state, also after a round trip through lists (checkpoints store plain data)."""
    version, internal, gauss = state  # type: ignore[misc]
    return (version, tuple(internal), gauss)


SCHEDULERS: Registry[TaskScheduler] = Registry(
    "scheduler", TaskScheduler, provided=("tasks", "ratios", "sizes", "seed"))


@SCHEDULERS.register("round_robin")
class RoundRobin(TaskScheduler):
    """Deterministic weighted round-robin: over any window each task gets its share of `ratio`.

    Smooth weighted round-robin: every task earns its ratio in credit each update; the richest task
    trains and pays the total. Ties go to the earlier task, so the order is fixed by the recipe.
    """

    def __init__(self, tasks: list[str], ratios: list[float], sizes: list[int], seed: int) -> None:
        super().__init__(tasks, ratios, sizes, seed)
        self.credit = [0.0] * len(tasks)

    def next_tasks(self) -> list[str]:
        total = sum(self.ratios)
        self.credit = [c + r for c, r in zip(self.credit, self.ratios)]
        ready = [i for i, r in enumerate(self.ratios) if r > 0]  # a task at ratio 0 waits
        best = max(ready, key=lambda i: (self.credit[i], -i))
        self.credit[best] -= total
        return [self.tasks[best]]

    def state_dict(self) -> dict:
        return {**super().state_dict(), "credit": list(self.credit)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.credit = list(state["credit"])


class _Sampling(TaskScheduler):
    """Samples one task per update from fixed probabilities (seeded)."""

    def weights(self) -> list[float]:
        raise NotImplementedError

    def next_tasks(self) -> list[str]:
        return self.rng.choices(self.tasks, weights=self.weights())


@SCHEDULERS.register("proportional")
class Proportional(_Sampling):
    """P(task) proportional to its training-set size times its ratio."""

    def weights(self) -> list[float]:
        return [s * r for s, r in zip(self.sizes, self.ratios)]


@SCHEDULERS.register("temperature")
class Temperature(_Sampling):
    """P(task) proportional to (size * ratio) ** (1 / temperature); temperature 1 is proportional."""

    def __init__(self, tasks: list[str], ratios: list[float], sizes: list[int], seed: int,
                 temperature: float = 5.0) -> None:
        super().__init__(tasks, ratios, sizes, seed)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def weights(self) -> list[float]:
        return [(s * r) ** (1.0 / self.temperature) for s, r in zip(self.sizes, self.ratios)]


@SCHEDULERS.register("every_task")
class EveryTask(TaskScheduler):
    """One batch of every task summed into each update (fairseq-style); never the default.
    Under a curriculum: every task whose ratio is above 0 at the update (its size is not used;
    `loss_weight` weighs a task's loss)."""

    def next_tasks(self) -> list[str]:
        return [t for t, r in zip(self.tasks, self.ratios) if r > 0]


def build_scheduler(type_name: str, options: dict, tasks: list[str],
                    ratios: Sequence[float] | Curriculum, sizes: list[int],
                    seed: int) -> TaskScheduler:
    """Scheduler ``type_name``; ``ratios`` fixed, or a curriculum (constructors get its ratios at
    update 0 and `draw` those of each update)."""
    curriculum = ratios if isinstance(ratios, Curriculum) else Curriculum.constant(ratios)
    scheduler = SCHEDULERS.build(type_name, options, "schedule", tasks=tasks,
                                 ratios=curriculum.ratios(0), sizes=sizes, seed=seed)
    scheduler.curriculum = curriculum
    return scheduler
