"""A recipe file (or a checkpoint's stored recipe) to a checked `Recipe`: read, merge the includes,
apply `--set` (`yaml_files.py`), bind the schema (`config.py`), then check types, options, slots,
sections and data files (`topology.py`); one `ConfigError` lists every problem with its YAML path.
Loading builds nothing: modules are tried on the meta device only, to read their sizes."""
from __future__ import annotations

import copy
from pathlib import Path

from ..errors import ConfigError
from ..modules import ENCODERS
from .config import Recipe, parse_recipe
from .curricula import check_curricula
from .data_files import check_data_files
from .sections import check_noise, check_schedule, check_train, check_valid
from .stages import check_init_from, check_stages
from .task_inputs import check_task_inputs
from .topology import (
    apply_module_defaults,
    check_modules,
    check_plugins,
    check_tasks,
    check_vocabs,
    decoder_registries,
)
from .yaml_files import apply_overrides, load_raw


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


def check_recipe(recipe: Recipe, check_files: bool = True) -> list[str]:
    """Every problem of a parsed recipe, each starting with its YAML path (plugins first: they
    register the types the other checks look up)."""
    problems = check_plugins(recipe)
    problems += apply_module_defaults(recipe)
    problems += check_vocabs(recipe)
    enc_sizes = check_modules(recipe.encoders, {s: ENCODERS for s in recipe.encoders},
                              "encoders", "output_size", problems)
    dec_sizes = check_modules(recipe.decoders, decoder_registries(recipe), "decoders",
                              "memory_size", problems)
    problems += check_tasks(recipe, enc_sizes, dec_sizes)
    problems += check_curricula(recipe)
    problems += check_noise(recipe)
    problems += check_task_inputs(recipe)
    problems += check_schedule(recipe)
    problems += check_valid(recipe)
    problems += check_train(recipe)
    problems += check_stages(recipe)
    problems += check_init_from(recipe)
    if check_files:
        problems += check_data_files(recipe)
    return problems
