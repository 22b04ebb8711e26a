"""Checks of `stages:` and `init_from:` that need the tasks: each stage names defined tasks (task
names canonicalised in place, `en-de` -> `en>de`), builds its schedule, and the `init_from`
module map is well formed. Module paths (`freeze:`, `init_from.modules`) are checked against the
built model (`freezing.py`, `init_from.py`), which is where the valid paths are known."""
from __future__ import annotations

from ..errors import short_repr
from .config import Recipe
from .sections import defined_task, schedule_problems


def check_stages(recipe: Recipe) -> list[str]:
    """Every stage trains at least one defined task, once; its schedule builds."""
    problems: list[str] = []
    for name, stage in (recipe.stages or {}).items():
        path = f"stages.{name}"
        if stage.tasks is not None:
            stage.tasks = _stage_tasks(stage.tasks, recipe, f"{path}.tasks", problems)
        if stage.schedule is not None:
            problems += schedule_problems(stage.schedule, f"{path}.schedule")
    return problems


def _stage_tasks(names: list[str], recipe: Recipe, path: str, problems: list[str]) -> list[str]:
    if not names:
        problems.append(f"{path}: an empty list; name the tasks this stage trains, or leave "
                        "tasks out to train every task")
    tasks = []
    for i, name in enumerate(names):
        task = defined_task(str(name), recipe, f"{path}[{i}]", problems)
        if task is None:
            continue
        if task in tasks:
            problems.append(f"{path}[{i}]: the task {task} is named twice")
        else:
            tasks.append(task)
    return tasks


def check_init_from(recipe: Recipe) -> list[str]:
    """`init_from.modules`: a list of module paths, or a mapping of this model's module paths to
    the checkpoint's; every path a string. The file itself is read when training starts."""
    init = recipe.init_from
    if init is None or init.modules is None:
        return []
    pairs = init.modules.items() if isinstance(init.modules, dict) else \
        [(m, m) for m in init.modules]
    problems = [f"init_from.modules: got {short_repr(k)}: {short_repr(v)}, expected module paths "
                "such as encoders.en: encoders.en" for k, v in pairs
                if not (isinstance(k, str) and isinstance(v, str) and k and v)]
    if not init.modules:
        problems.append("init_from.modules: empty; name the modules to load, e.g. "
                        "[encoders.en] or {encoders.en: encoders.en}")
    if not problems:
        init.modules = dict(pairs)
    return problems
