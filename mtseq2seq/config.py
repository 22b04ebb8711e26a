"""Recipes: YAML -> typed dataclasses, with `include:` of topology files and `--set` overrides.

The dataclasses and the parsing live here; `recipe_loader.load_recipe(path, overrides)` adds the
checks that need the registries (topology) and returns a checked `Recipe` or raises one
`ConfigError` listing every problem with its YAML path.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

from .errors import ConfigError, close_match, short_repr
from .schema import bind, plain_problems, ranged
from .task_names import override_path

SEED_MAX = 2**31 - 1


@dataclass
class VocabConfig:
    type: Literal["sentencepiece", "words"] = "sentencepiece"
    size: int = ranged(8000, 1)
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = ranged(1.0, 0.0, 1.0)
    share: Optional[str] = None  # slot whose vocabulary this slot uses (trained on both slots' text)


@dataclass
class ModuleConfig:
    type: Optional[str] = None  # default: modules.type
    options: dict = field(default_factory=dict)  # everything but `type`; checked by the registry


@dataclass
class TaskConfig:
    kind: str
    encoder: str
    decoder: str
    train: str = "train"
    valid: str = "valid"
    test: Optional[str] = "test"
    ratio: float = 1.0
    data_dir: Optional[str] = None  # overrides the recipe's data_dir for this task
    metric: Optional[str] = None  # overrides the task kind's metric
    max_len_a: Optional[float] = ranged(None, 0.0)  # decoding stops at a * source len + b
    max_len_b: Optional[int] = ranged(None, 0)


@dataclass
class ScheduleConfig:
    type: str = "round_robin"
    options: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    max_steps: int = ranged(10000, 1)
    batch_tokens: int = ranged(4096, 1)
    max_len: int = ranged(128, 1)  # longer sentences (in tokens) are dropped and counted
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = ranged(5e-4, 0.0)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    weight_decay: float = ranged(0.0, 0.0)
    lr_schedule: Literal["inverse_sqrt", "constant", "plateau"] = "inverse_sqrt"
    warmup: int = ranged(4000, 0)
    plateau_factor: float = ranged(0.5, 0.0, 1.0)
    plateau_patience: int = ranged(2, 1)
    clip_norm: float = ranged(1.0, 0.0)  # 0 disables clipping
    label_smoothing: float = ranged(0.1, 0.0, 1.0, high_open=True)
    accumulate: int = ranged(1, 1)  # batches per update
    log_every: int = ranged(100, 1)
    keep_last: int = ranged(0, 0)  # also keep checkpoint_step<N>.pt of the last N validations (0: none)
    max_bad_steps: int = ranged(10, 1)  # updates in a row with a non-finite loss/gradient: stop
    precision: Literal["fp32", "bf16", "auto"] = "fp32"  # bf16 autocast; auto: bf16 if native
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: Optional[int] = ranged(None, 1)  # torch intra-op threads on CPU


@dataclass
class ValidConfig:
    every: int = ranged(1000, 1)
    max_sentences: Optional[int] = ranged(None, 1)  # teacher-forced loss/accuracy: cap per task
    decode: bool = True  # also decode and score each task with its metric
    decode_sentences: Optional[int] = ranged(None, 1)  # cap on decoded sentences per task, for speed
    beam: int = ranged(1, 1)  # beam size for validation decoding and the final test scores
    alpha: float = ranged(0.6, 0.0)  # length penalty (GNMT); 0 ranks by plain log-probability
    select: str = "mean"  # best checkpoint + early stopping: weighted mean of main metrics, or a task
    weights: dict = field(default_factory=dict)  # task -> weight in the mean (default 1)
    patience: int = ranged(0, 0)  # stop after this many validations without a new best (0: never)


@dataclass
class ToyDataConfig:
    seed: int = ranged(1, 0, SEED_MAX)
    train: int = ranged(20000, 1)
    valid: int = ranged(500, 1)
    test: int = ranged(500, 1)


@dataclass
class Recipe:
    name: str = ""
    seed: int = ranged(1, 0, SEED_MAX)
    run_dir: Optional[str] = None  # default: runs/<name>
    data_dir: str = "data"
    toy_data: Optional[dict] = None  # generate the toy corpus into data_dir when missing
    plugins: list[str] = field(default_factory=list)
    vocabs: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)  # {type: default type, <type>: default options}
    encoders: dict = field(default_factory=dict)
    decoders: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=dict)
    schedule: Any = None
    train: Any = None
    valid: Any = None
    path: str = ""  # the recipe file (not a YAML key)
    resolved: dict = field(default_factory=dict)  # the merged YAML, stored in checkpoints

    def task_data_dir(self, task: str) -> Path:
        return Path(self.tasks[task].data_dir or self.data_dir)


_TOP_KEYS = {"include", "name", "seed", "run_dir", "data_dir", "toy_data", "plugins", "vocabs",
             "modules", "encoders", "decoders", "tasks", "schedule", "train", "valid"}


def read_yaml(path: Path, where: str = "") -> Any:
    """Parse one YAML file; a ConfigError naming the file and line on a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}recipe file '{path}' not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}cannot read recipe file '{path}': {err}") from None
    try:
        value = parse_yaml(text)
    except ValueError as err:
        raise ConfigError(f"{path}{err}") from None
    problems = plain_problems(value, "")
    if problems:
        raise ConfigError(problems, header=f"{path}: {len(problems)} problem(s) in the YAML")
    return value


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load``, with every failure as a ValueError whose text starts ' line N: '."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{line}: invalid YAML: {getattr(err, 'problem', None) or err}") from None
    except RecursionError:
        raise ValueError(": invalid YAML: nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as err:  # e.g. the date 2020-13-45
        raise ValueError(f": invalid YAML value: {err}") from None


def find_include(name: str, base: Path) -> Path:
    """Resolve an included file relative to the including file's folder, then its parents."""
    for folder in [base, *base.parents]:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise ConfigError(f"include: '{name}' not found in {base} or any folder above it")


def deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``; mappings merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The recipe with its includes merged under it (later includes over earlier, the file over all)."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigError(f"include: cycle {chain}")
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping, got {type(raw).__name__}")
    includes = raw.pop("include", []) or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(n, str) for n in includes):
        raise ConfigError(f"{path}: include: expected a list of file names, got "
                          f"{short_repr(includes)}")
    merged: dict = {}
    for name in includes:
        merged = deep_merge(merged, load_raw(find_include(name, path.parent), (*seen, path)))
    plugins = raw.get("plugins")
    if isinstance(plugins, list):  # relative to the file naming them (the schema checks the rest)
        raw["plugins"] = [str((path.parent / p).resolve()) if isinstance(p, str) and "\0" not in p
                          else p for p in plugins]
    return deep_merge(merged, raw)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` strings (YAML values: ``3``, ``[a, b]``); ``tasks.en-de`` is ``en>de``."""
    raw = copy.deepcopy(raw)
    problems = []
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(part.strip() for part in parts):
            problems.append(f"--set {short_repr(item)}: expected KEY.PATH=VALUE, e.g. "
                            "train.max_steps=100")
            continue
        if parts[0] == "include":
            problems.append(f"--set {short_repr(item)}: include cannot be overridden; include "
                            "the file in the recipe")
            continue
        try:
            value = parse_yaml(text)
        except ValueError as err:
            problems.append(f"--set {short_repr(item)}: value is not valid YAML ({str(err)[2:]})")
            continue
        parts, bad_name = override_path(parts, raw)  # `tasks.en-de.ratio`: the task en>de
        found = plain_problems(value, key.strip()) + bad_name
        if found:
            problems += [f"--set {short_repr(item)}: {p}" for p in found]
            continue
        node = raw
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    if problems:
        raise ConfigError(problems)
    return raw


def parse_recipe(raw: dict, path: str, problems: list[str]) -> Recipe:
    """Typed recipe from the merged mapping; schema problems are appended to ``problems``."""
    for key in raw:
        if key not in _TOP_KEYS:
            problems.append(f"{key}: unknown top-level key (valid: {', '.join(sorted(_TOP_KEYS))}"
                            f"{close_match(key, _TOP_KEYS)})")
    top = {k: v for k, v in raw.items() if k in _TOP_KEYS and k != "include"}
    recipe = bind(Recipe, top, "", problems)
    recipe.path, recipe.resolved = path, copy.deepcopy(raw)
    recipe.name = recipe.name or Path(path).stem
    recipe.vocabs = _bind_each(VocabConfig, recipe.vocabs, "vocabs", problems)
    recipe.encoders = _bind_each(ModuleConfig, recipe.encoders, "encoders", problems, extra=True)
    recipe.decoders = _bind_each(ModuleConfig, recipe.decoders, "decoders", problems, extra=True)
    recipe.tasks = _bind_each(TaskConfig, recipe.tasks, "tasks", problems)
    recipe.schedule = bind(ScheduleConfig, recipe.schedule, "schedule", problems, allow_extra=True)
    recipe.train = bind(TrainConfig, recipe.train, "train", problems)
    recipe.valid = bind(ValidConfig, recipe.valid, "valid", problems)
    if recipe.toy_data is not None:
        recipe.toy_data = bind(ToyDataConfig, recipe.toy_data, "toy_data", problems)
    return recipe


def _bind_each(cls: type, raw: Any, path: str, problems: list[str], extra: bool = False) -> dict:
    if not isinstance(raw, dict):
        problems.append(f"{path}: expected a mapping of slot or task names, got {short_repr(raw)}")
        return {}
    return {str(k): bind(cls, v, f"{path}.{k}", problems, allow_extra=extra) for k, v in raw.items()}
