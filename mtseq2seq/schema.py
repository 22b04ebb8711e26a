"""Binding raw YAML mappings to dataclasses, collecting every problem with its YAML path.

`bind(SomeConfig, raw, "train", problems)` checks unknown keys (with a close match), missing required
keys, value types (int, float, bool, str, Optional, Literal, list) and returns the dataclass even when
problems were found, so that later checks can still run and report theirs in the same error.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal, Union, get_args, get_origin

from .errors import close_match

_MISSING = dataclasses.MISSING


def describe_type(tp: Any) -> str:
    """Human words for a type annotation: 'an integer', 'one of: adam, adamw'."""
    origin = get_origin(tp)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in get_args(tp))
    if origin is Union:
        inner = [describe_type(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(inner) + " (or null)"
    if origin is list:
        return f"a list of {describe_type(get_args(tp)[0])}" if get_args(tp) else "a list"
    if origin is dict:
        return "a mapping"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """Return (ok, value converted to ``tp``). YAML reads '5e-4' as a string, so floats parse strings."""
    origin = get_origin(tp)
    if tp is Any:
        return True, value
    if origin is Union:
        if value is None and type(None) in get_args(tp):
            return True, None
        for arg in get_args(tp):
            if arg is not type(None):
                ok, out = coerce(value, arg)
                if ok:
                    return True, out
        return False, value
    if origin is Literal:
        return value in get_args(tp), value
    if origin is list:
        if not isinstance(value, list):
            return False, value
        (item_tp,) = get_args(tp) or (Any,)
        results = [coerce(v, item_tp) for v in value]
        return all(ok for ok, _ in results), [v for _, v in results]
    if origin is dict:
        return isinstance(value, dict), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        return _coerce_float(value)
    if tp is str:
        return isinstance(value, str), value
    return isinstance(value, tp), value


def _coerce_float(value: Any) -> tuple[bool, Any]:
    if isinstance(value, bool):
        return False, value
    if isinstance(value, (int, float)):
        return True, float(value)
    if isinstance(value, str):
        try:
            return True, float(value)
        except ValueError:
            return False, value
    return False, value


def bind(cls: type, raw: Any, path: str, problems: list[str], allow_extra: bool = False) -> Any:
    """Build dataclass ``cls`` from mapping ``raw``; append problems (with ``path``) instead of raising.

    With ``allow_extra`` the unknown keys are returned in ``cls.options`` (a dict field) for a
    registry to check against a constructor signature.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{path}: expected a mapping, got {type(raw).__name__} {raw!r}")
        raw = {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "options" or not allow_extra}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if key in fields:
            values[key] = _check_value(key, value, hints[key], path, problems)
        elif allow_extra:
            extra[key] = value
        else:
            hint = close_match(key, fields)
            problems.append(f"{path}.{key}: unknown key (valid: {', '.join(sorted(fields))}{hint})")
    for name, f in fields.items():
        if name not in values and f.default is _MISSING and f.default_factory is _MISSING:
            problems.append(f"{path}.{name}: missing required key ({describe_type(hints[name])})")
            values[name] = None
    if allow_extra:
        values["options"] = extra
    return cls(**values)


def _check_value(key: str, value: Any, tp: Any, path: str, problems: list[str]) -> Any:
    ok, out = coerce(value, tp)
    if not ok:
        bad = value if not isinstance(value, str) else repr(value)
        hint = close_match(value, get_args(tp)) if get_origin(tp) is Literal else ""
        problems.append(f"{path}.{key}: got {bad}, expected {describe_type(tp)}{hint}")
    return out
