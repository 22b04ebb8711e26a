"""Where a task's data lives: `<data_dir>/<split>.<slot>`, the one place that names data files.

`data_dir` (like `run_dir`) is relative to the working directory, as in other toolkits' configs;
only `include:` and `plugins:` are relative to the recipe file.
"""
from __future__ import annotations

from pathlib import Path


def split_file(folder: Path, split: str, slot: str) -> Path:
    """The file of one slot's side of a split, e.g. ``data/toy/train.en``."""
    return Path(folder) / f"{split}.{slot}"


def split_roles(role: str, named: str | list[str] | None) -> dict[str, str]:
    """Role key -> split name, for a task's `valid:` or `test:`: one split, or a list of them,
    whose first keeps the role's own key ("test") and the others get "test[1]", "test[2]", ..."""
    if not named:
        return {}
    names = [named] if isinstance(named, str) else list(named)
    return {role if i == 0 else f"{role}[{i}]": name for i, name in enumerate(names)}


def roles_of(role: str, roles) -> list[str]:
    """The keys among ``roles`` that belong to ``role`` ("test", "test[1]", ...), in order."""
    return [key for key in roles if key == role or key.startswith(f"{role}[")]


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
