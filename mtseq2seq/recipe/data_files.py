"""Are a recipe's data files there? Each task's splits, one file per side its kind reads, named
by `data.files` (`<data_dir>/<split>.<slot>`, `.npy` added for a features slot); a missing or
empty file is a problem with its path. `side_files` is where those names are decided."""
from __future__ import annotations

from ..data.files import relative_hint, split_roles, task_files
from ..data.sources import FILE_SUFFIX
from ..modules import ENCODERS
from ..tasks import KINDS
from .config import Recipe, TaskConfig


def input_kind(recipe: Recipe, slot: str) -> str:
    """What encoder slot ``slot``'s files hold (`Encoder.input_kind`); `tokens` when unknown."""
    module = recipe.encoders.get(slot)
    if module is None or module.type not in ENCODERS:
        return "tokens"
    return ENCODERS.get(module.type).input_kind


def side_files(recipe: Recipe, task: TaskConfig) -> list[tuple[str, str, str]]:
    """(side, slot, file name) of each side the task's kind reads: one per encoder slot (a
    multi-source task reads each slot's own files), then the decoder slot."""
    found = []
    for side in KINDS.get(task.kind).sides:
        if side != "encoder":
            found.append((side, task.decoder, task.file_name(side)))
            continue
        for slot in task.encoder_slots:
            name = slot if isinstance(task.encoder, list) else task.file_name("encoder")
            found.append((side, slot, name + FILE_SUFFIX.get(input_kind(recipe, slot), "")))
    return found


def check_data_files(recipe: Recipe) -> list[str]:
    problems = []
    for name, task in recipe.tasks.items():
        if recipe.toy_data is not None and task.data_dir is None:
            continue  # generated into data_dir before training
        if None in (task.encoder, task.decoder) or task.kind not in KINDS:
            continue
        sides = side_files(recipe, task)
        splits = {"train": task.train, **split_roles("valid", task.valid),
                  **split_roles("test", task.test)}
        for role, paths in task_files(recipe.task_data_dir(name), splits,
                                      tuple(file for _, _, file in sides)).items():
            for (side, slot, _), path in zip(sides, paths):
                what = "source" if side == "encoder" else "target"
                split = splits[role]
                if not path.is_file():
                    problems.append(f"tasks.{name}.{role}: {what} file '{path}' not found "
                                    f"(split '{split}' of slot '{slot}'{relative_hint(path)})")
                elif path.stat().st_size == 0:
                    problems.append(f"tasks.{name}.{role}: {what} file '{path}' is empty "
                                    f"(split '{split}' of slot '{slot}')")
    return problems
