"""The stages of a run (`stages.py`): for each, its tasks' scheduler (with their curricula), the
parameters its `freeze:` names, an optimizer over the others and its learning-rate schedule.
A recipe without `stages:` is one stage of every task, built exactly as a plain run always was."""
from __future__ import annotations

from torch import nn

from ..curriculum import Curriculum, TaskCurriculum
from ..freezing import frozen_parameters
from ..optim import LRSchedule, build_optimizer
from ..recipe.config import Recipe
from ..scheduler import build_scheduler
from ..stages import Stage
from ..tasks import Task


def build_stages(recipe: Recipe, model: nn.Module, tasks: dict[str, Task], sizes: dict[str, int],
                 extra: list[nn.Parameter]) -> list[Stage]:
    """One `Stage` per entry of `stages:` (in order), or one of everything; ``sizes``: each
    task's training examples (for proportional schedules), ``extra``: learned loss weights."""
    specs = recipe.stages or {"all": None}
    stages = []
    for index, (name, spec) in enumerate(specs.items()):
        cfg = spec.train_config(recipe.train) if spec else recipe.train
        names = list(spec.tasks) if spec and spec.tasks else list(tasks)
        schedule = spec.schedule if spec and spec.schedule else recipe.schedule
        curriculum = Curriculum([TaskCurriculum.of(tasks[t].ratio, tasks[t].start_at,
                                                   tasks[t].stop_at) for t in names])
        scheduler = build_scheduler(schedule.type, schedule.options, names, curriculum,
                                    [sizes[t] for t in names], recipe.seed + index)
        where = f"stages.{name}.freeze" if spec and spec.freeze is not None else "train.freeze"
        frozen = frozen_parameters(model, cfg.freeze, where)
        optimizer = build_optimizer(model, cfg, extra, frozen)
        stages.append(Stage(name, names, cfg, scheduler, optimizer, LRSchedule(optimizer, cfg),
                            frozen))
    return stages
