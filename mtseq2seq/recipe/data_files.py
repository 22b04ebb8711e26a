"""Are a recipe's data files there? Each task's splits, one file per side its kind reads, named
by `data.files` (`<data_dir>/<split>.<slot>`); a missing or empty file is a problem with its path."""
from __future__ import annotations

from ..data.files import relative_hint, task_files
from ..tasks import KINDS
from .config import Recipe


def check_data_files(recipe: Recipe) -> list[str]:
    problems = []
    for name, task in recipe.tasks.items():
        if recipe.toy_data is not None and task.data_dir is None:
            continue  # generated into data_dir before training
        if None in (task.encoder, task.decoder) or task.kind not in KINDS:
            continue
        sides = KINDS.get(task.kind).sides
        slots = tuple(task.file_name(side) for side in sides)
        splits = {"train": task.train, "valid": task.valid, "test": task.test}
        for role, paths in task_files(recipe.task_data_dir(name), splits, slots).items():
            for side, path in zip(sides, paths):
                what = "source" if side == "encoder" else "target"
                split = splits[role]
                if not path.is_file():
                    problems.append(f"tasks.{name}.{role}: {what} file '{path}' not found "
                                    f"(split '{split}' of slot '{getattr(task, side)}'"
                                    f"{relative_hint(path)})")
                elif path.stat().st_size == 0:
                    problems.append(f"tasks.{name}.{role}: {what} file '{path}' is empty "
                                    f"(split '{split}' of slot '{getattr(task, side)}')")
    return problems
