"""Recipe files as plain mappings: read YAML (errors with file and line), merge `include:`d
topology files under the including file, and apply `--set KEY.PATH=VALUE` overrides."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, short_repr
from ..task_names import override_path
from .schema import plain_problems


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
