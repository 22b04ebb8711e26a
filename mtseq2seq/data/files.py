"""Where a task's data lives: `<data_dir>/<split>.<slot>`, the one place that names data files.

`data_dir` (like `run_dir`) is relative to the working directory, as in other toolkits' configs;
only `include:` and `plugins:` are relative to the recipe file.
"""
from __future__ import annotations

from pathlib import Path


def split_file(folder: Path, split: str, slot: str) -> Path:
    """The file of one slot's side of a split, e.g. ``data/toy/train.en``."""
    return Path(folder) / f"{split}.{slot}"


def task_files(folder: Path, splits: dict[str, str | None], slots: tuple[str, ...]
               ) -> dict[str, tuple[Path, ...]]:
    """Role ('train', 'valid', 'test') -> one file per slot (source first), for the named splits."""
    return {role: tuple(split_file(folder, split, slot) for slot in slots)
            for role, split in splits.items() if split}


def relative_hint(path: Path) -> str:
    """'; data_dir is relative to the working directory /x' for a relative path, else ''."""
    if path.is_absolute():
        return ""
    return f"; data_dir is relative to the working directory {Path.cwd()}, not to the recipe"
