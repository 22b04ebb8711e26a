"""A recipe file (or a checkpoint's stored recipe) to a checked `Recipe`: read, merge the includes,
apply `--set`, bind the schema (`config.py`), then check types, options, slots and data files
(`topology.py`); one `ConfigError` lists every problem with its YAML path."""
from __future__ import annotations

import copy
from pathlib import Path

from .config import Recipe, apply_overrides, load_raw, parse_recipe
from .errors import ConfigError
from .topology import check_recipe


def load_recipe(path: str | Path, overrides: list[str] = (), run_dir: str | None = None,
                check_files: bool = True) -> Recipe:
    """Read, merge, override, load plugins, and check a recipe; one ConfigError lists every problem."""
    raw = apply_overrides(load_raw(Path(path)), list(overrides))
    if run_dir is not None:
        raw["run_dir"] = run_dir
    problems: list[str] = []
    recipe = parse_recipe(raw, str(path), problems)
    problems += check_recipe(recipe, check_files=check_files)
    if problems:
        raise ConfigError(problems, header=f"{path}: {len(problems)} problem(s) in the recipe")
    return recipe


def recipe_from_dict(raw: dict, path: str = "<checkpoint>") -> Recipe:
    """Rebuild a recipe stored in a checkpoint (no file checks: the data may be elsewhere now)."""
    problems: list[str] = []
    recipe = parse_recipe(copy.deepcopy(raw), path, problems)
    problems += check_recipe(recipe, check_files=False)
    if problems:
        raise ConfigError(problems, header=f"{path}: the stored recipe has {len(problems)} problem(s)")
    return recipe
