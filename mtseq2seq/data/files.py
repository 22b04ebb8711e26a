"""Where a task's data lives (`<data_dir>/<split>.<slot>`) and whether those files are there.

`data_dir` (like `run_dir`) is relative to the working directory, as in other toolkits' configs;
only `include:` and `plugins:` are relative to the recipe file. A missing file's message says so.
"""
from __future__ import annotations

from pathlib import Path

from ..config import Recipe


def data_files(recipe: Recipe, task: str) -> dict[str, tuple[Path, Path]]:
    """Split name -> (source file, target file) for the splits a task names."""
    cfg = recipe.tasks[task]
    folder = recipe.task_data_dir(task)
    splits = {"train": cfg.train, "valid": cfg.valid, "test": cfg.test}
    return {role: (folder / f"{split}.{cfg.encoder}", folder / f"{split}.{cfg.decoder}")
            for role, split in splits.items() if split}


def check_data_files(recipe: Recipe) -> list[str]:
    problems = []
    for name, task in recipe.tasks.items():
        if recipe.toy_data is not None and task.data_dir is None:
            continue  # generated into data_dir before training
        if None in (task.encoder, task.decoder):
            continue
        for role, pair in data_files(recipe, name).items():
            for side, path in zip(("source", "target"), pair):
                split = getattr(task, role)
                if not path.is_file():
                    problems.append(f"tasks.{name}.{role}: {side} file '{path}' not found "
                                    f"(split '{split}' of slot '{path.suffix[1:]}'{base(path)})")
                elif path.stat().st_size == 0:
                    problems.append(f"tasks.{name}.{role}: {side} file '{path}' is empty "
                                    f"(split '{split}' of slot '{path.suffix[1:]}')")
    return problems


def base(path: Path) -> str:
    """'; data_dir is relative to the working directory /x' for a relative path, else ''."""
    if path.is_absolute():
        return ""
    return f"; data_dir is relative to the working directory {Path.cwd()}, not to the recipe"
