"""Module paths of a model and `freeze:` globs over them.

A path names a module or a parameter as the state dict does: `encoders.en`, `decoders.de.embed`,
`encoders.en.layers.0.attn.q.weight`. In a pattern `*` stands for one path component and `**` for
any number (`decoders.*.embed`: every decoder's input embedding). Freezing a module freezes every
parameter in it, tied ones included (a decoder's output projection tied to its embedding is frozen
with it). Frozen parameters get no gradient and stay out of the optimizer, so they keep their
values bit for bit and hold no optimizer state.
"""
from __future__ import annotations

import re
from typing import Iterable

from torch import nn

from .errors import UserError

_MAX_LISTED = 40  # valid paths quoted in an error


def module_paths(model: nn.Module) -> list[str]:
    """Every path of a module with parameters or of a parameter, tied and shared ones under
    each of their names."""
    modules = [name for name, module in model.named_modules(remove_duplicate=False)
               if name and next(module.parameters(), None) is not None]
    params = [name for name, _ in model.named_parameters(remove_duplicate=False)]
    return sorted(set(modules) | set(params))


def glob_regex(pattern: str) -> re.Pattern:
    """``decoders.*.embed`` -> a regex where ``*`` is one path component and ``**`` any."""
    parts = re.split(r"(\*\*|\*)", pattern)
    body = "".join({"**": ".*", "*": "[^.]+"}.get(p, re.escape(p)) for p in parts)
    return re.compile(body + r"\Z")


def matching_paths(model: nn.Module, pattern: str, where: str) -> list[str]:
    """The paths ``pattern`` matches; none is a UserError at ``where`` listing valid paths."""
    paths = module_paths(model)
    regex = glob_regex(pattern)
    found = [p for p in paths if regex.match(p)]
    if not found:
        raise UserError(f"{where}: '{pattern}' matches no module of this model; valid paths "
                        f"include {describe_paths(paths)}")
    return found


def describe_paths(paths: Iterable[str]) -> str:
    """The shallow paths (up to three components) of a model, for an error message."""
    shallow = sorted({".".join(p.split(".")[:3]) for p in paths})
    more = len(shallow) - _MAX_LISTED
    return ", ".join(shallow[:_MAX_LISTED]) + (f" and {more} more" if more > 0 else "") + \
        " (globs: * is one component, ** any number)"


def frozen_parameters(model: nn.Module, patterns: list[str], where: str) -> list[nn.Parameter]:
    """The parameters under any path that a pattern of ``patterns`` matches (each once)."""
    chosen: dict[int, nn.Parameter] = {}
    params = dict(model.named_parameters(remove_duplicate=False))
    for i, pattern in enumerate(patterns):
        for path in matching_paths(model, pattern, f"{where}[{i}]"):
            if path in params:
                chosen[id(params[path])] = params[path]
                continue
            for param in model.get_submodule(path).parameters():
                chosen[id(param)] = param
    return list(chosen.values())


def set_frozen(model: nn.Module, frozen: list[nn.Parameter]) -> None:
    """``frozen`` get no gradient from now on; every other parameter of ``model`` does."""
    ids = {id(p) for p in frozen}
    for param in model.parameters():
        param.requires_grad_(id(param) not in ids)
