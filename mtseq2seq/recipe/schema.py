"""Binding raw YAML mappings to dataclasses, collecting every problem with its YAML path.

`bind(SomeConfig, raw, "train", problems)` checks unknown keys (with a close match), missing required
keys, value types (int, float, bool, str, Optional, Literal, list) and ranges (`ranged` fields), and
returns the dataclass even when problems were found, so that later checks can still run and report
theirs in the same error. A value with a problem is replaced by the field's default (None when the
field has none), so later checks only ever see values of the declared type.

`plain_problems` checks that parsed YAML is plain data (no dates, sets, binary, cycles or alias bombs),
so that a recipe can be stored in a checkpoint and compared with another.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, Literal, Union, get_args, get_origin

from ..errors import close_match, short_repr, unknown

_MISSING = dataclasses.MISSING
MAX_DEPTH = 24  # nesting of YAML collections; no recipe comes close
MAX_VALUES = 20_000  # scalars and collections after expanding aliases; stops "billion laughs"


def ranged(default: Any, low: float | None = None, high: float | None = None,
           high_open: bool = False) -> Any:
    """A dataclass field whose value must lie in [low, high] (or [low, high) with ``high_open``)."""
    return dataclasses.field(default=default, metadata={"low": low, "high": high,
                                                        "high_open": high_open})


def range_problem(value: Any, meta: typing.Mapping[str, Any]) -> str | None:
    """Why ``value`` is out of the field's range, or None (also for None and non-numbers)."""
    low, high = meta.get("low"), meta.get("high")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    below = low is not None and value < low
    above = high is not None and (value >= high if meta.get("high_open") else value > high)
    if not (below or above):
        return None
    if low is not None and high is not None:
        return f"expected {low} <= value {'<' if meta.get('high_open') else '<='} {high}"
    return f"expected at least {low}" if low is not None else f"expected at most {high}"


def describe_type(tp: Any) -> str:
    """Human words for a type annotation: 'an integer', 'one of: adam, adamw'."""
    origin = get_origin(tp)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in get_args(tp))
    if origin is Union:
        inner = [describe_type(a) for a in get_args(tp) if a is not type(None)]
        return " or ".join(inner) + (" (or null)" if type(None) in get_args(tp) else "")
    if origin is list:
        return f"a list (each {describe_type(get_args(tp)[0])})" if get_args(tp) else "a list"
    if origin is dict:
        return "a mapping"
    names = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false",
             dict: "a mapping", list: "a list"}
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
    if isinstance(value, (int, float, str)):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return False, value
        return math.isfinite(number), number if math.isfinite(number) else value
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
    prefix = f"{path}." if path else ""
    for key, value in raw.items():
        if key in fields:
            ok, out = _check_value(f"{prefix}{key}", value, hints[key], fields[key].metadata,
                                   problems)
            if ok:
                values[key] = out
        elif allow_extra:
            extra[key] = value
        else:
            problems.append(f"{prefix}{key}: {unknown('key', key, fields)}")
    for name, f in fields.items():
        if name in values or f.default is not _MISSING or f.default_factory is not _MISSING:
            continue
        if name not in raw:
            problems.append(f"{prefix}{name}: missing required key ({describe_type(hints[name])})")
        values[name] = None  # required, and missing or bad: later checks skip None
    if allow_extra:
        values["options"] = extra
    return cls(**values)


def _check_value(where: str, value: Any, tp: Any, meta: typing.Mapping[str, Any],
                 problems: list[str]) -> tuple[bool, Any]:
    """(ok, converted value); a problem naming YAML path ``where`` if the type or range is wrong."""
    ok, out = coerce(value, tp)
    if not ok:
        hint = close_match(value, literal_choices(tp))
        problems.append(f"{where}: got {short_repr(value)}, expected {describe_type(tp)}{hint}")
        return False, value
    why = range_problem(out, meta)
    if why:
        problems.append(f"{where}: got {short_repr(value)}, {why}")
        return False, value
    return True, out


def literal_choices(tp: Any) -> tuple:
    """The values a Literal annotation allows, also inside Optional/Union (else none)."""
    if get_origin(tp) is Literal:
        return get_args(tp)
    if get_origin(tp) is Union:
        return tuple(choice for arg in get_args(tp) for choice in literal_choices(arg))
    return ()


def constructor_problems(cls: type, options: dict, path: str) -> list[str]:
    """Check YAML ``options`` against the annotations of ``cls.__init__``, converting them in place
    (a YAML '1e-3' string becomes a float); options without an annotation are left alone."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # a plugin's annotations that do not resolve: leave its options unchecked
        return []
    problems = []
    for key, value in options.items():
        if key in hints:
            ok, converted = coerce(value, hints[key])
            if ok:
                options[key] = converted
            else:
                problems.append(f"{path}.{key}: got {short_repr(value)}, expected "
                                f"{describe_type(hints[key])}")
    return problems


_PLAIN = (str, int, float, bool, type(None))


def plain_problems(value: Any, path: str) -> list[str]:
    """Problems that make parsed YAML more than plain data, each with its YAML path (at most 5)."""
    problems: list[str] = []
    budget = [MAX_VALUES]
    _walk_plain(value, path, (), problems, budget)
    if budget[0] < 0:
        problems.append(f"{path or 'recipe'}: more than {MAX_VALUES} values once YAML aliases are "
                        "expanded; write the values out instead of nesting aliases")
    return problems[:5]


def _walk_plain(value: Any, path: str, stack: tuple[int, ...], problems: list[str],
                budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0 or len(problems) >= 5:
        return
    where = path or "recipe"
    if isinstance(value, _PLAIN):
        return
    if not isinstance(value, (dict, list)):
        problems.append(f"{where}: got {short_repr(value)} ({type(value).__name__}); only strings, "
                        "numbers, true/false, null, lists and mappings are allowed (quote a date)")
        return
    if id(value) in stack:
        problems.append(f"{where}: refers to itself (a YAML alias inside its own anchor)")
        return
    if len(stack) >= MAX_DEPTH:
        problems.append(f"{where}: nested more than {MAX_DEPTH} levels deep")
        return
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        if isinstance(value, dict) and not isinstance(key, _PLAIN):
            problems.append(f"{where}: key {short_repr(key)} is not a string or number")
            continue
        name = f"{path}.{key}" if isinstance(value, dict) else f"{path}[{key}]"
        _walk_plain(child, name.lstrip("."), (*stack, id(value)), problems, budget)
