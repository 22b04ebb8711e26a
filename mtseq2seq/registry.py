"""Registries of pluggable classes (encoders, decoders, schedulers) and the plugin file loader.

A registry maps a YAML ``type:`` name to a class. Built-in types register themselves when their
module is imported explicitly by ``mtseq2seq/modules/__init__.py``; user types come from plugin files
named in a recipe (``plugins: [my_encoder.py]``), each loaded once per resolved path.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import itertools
import sys
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from .errors import ConfigError, unknown

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to classes of one kind, e.g. ``Registry("encoder", Encoder)``.

    Args:
        kind: what the registry holds, used in messages ("encoder").
        base: every registered class must subclass it.
        provided: constructor arguments the toolkit supplies itself (e.g. ``vocab_size``);
            a recipe may not set them.
    """

    def __init__(self, kind: str, base: type, provided: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.base = base
        self.provided = provided
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: ``@ENCODERS.register("transformer")``."""

        def add(cls: type[T]) -> type[T]:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise TypeError(f"{self.kind} type '{name}': {cls!r} is not a subclass of "
                                f"{self.base.__name__}")
            old = self._classes.get(name)
            if old is not None and old is not cls:
                raise ValueError(
                    f"{self.kind} type '{name}' is registered twice: "
                    f"{old.__module__}.{old.__qualname__} and {cls.__module__}.{cls.__qualname__}"
                )
            self._classes[name] = cls
            return cls

        return add

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def get(self, name: str, path: str = "") -> type[T]:
        """The class registered as ``name``; a ConfigError with the known names otherwise."""
        if name not in self._classes:
            where = f"{path}: " if path else ""
            raise ConfigError(f"{where}{unknown(f'{self.kind} type', name, self._classes)}")
        return self._classes[name]

    def options(self, name: str) -> dict[str, inspect.Parameter]:
        """Constructor parameters a recipe may set for type ``name`` (the provided ones excluded)."""
        params = inspect.signature(self.get(name).__init__).parameters
        return {
            key: p
            for key, p in params.items()
            if key != "self" and key not in self.provided
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        }

    def check_kwargs(self, name: str, kwargs: dict[str, Any], path: str) -> list[str]:
        """Problems with binding ``kwargs`` (YAML options) to the constructor of ``name``."""
        options = self.options(name)
        problems = []
        for key in kwargs:
            if key not in options:
                problems.append(f"{path}.{key}: "
                                f"{unknown('option', key, options, f'for {self.kind} type {name!r}')}")
        for key, p in options.items():
            if p.default is inspect.Parameter.empty and key not in kwargs:
                problems.append(f"{path}.{key}: missing required option of {self.kind} type '{name}'")
        return problems

    def build(self, name: str, kwargs: dict[str, Any], path: str = "", **provided: Any) -> T:
        """Construct type ``name`` from YAML options plus toolkit-provided arguments."""
        problems = self.check_kwargs(name, kwargs, path)
        if problems:
            raise ConfigError(problems)
        return self.get(name, path)(**kwargs, **provided)


_loaded_plugins: dict[Path, Any] = {}
_plugin_sha256: dict[Path, str] = {}  # of the bytes that ran, not of the file as it is now
_plugin_count = itertools.count()


def load_plugin(path: str | Path, base_dir: str | Path = ".") -> Any:
    """Import a user's plugin file once per resolved path; its decorators register its types.

    The file's SHA-256 is kept (``loaded_sha256``) so checkpoints can record which code they ran.
    An exception raised by the file propagates unchanged (``plugins.plugin_failure`` formats it).
    """
    resolved = (Path(base_dir) / path).resolve()
    if resolved in _loaded_plugins:
        return _loaded_plugins[resolved]
    if not resolved.is_file():
        raise ConfigError(f"plugins: file '{path}' not found (looked at {resolved})")
    name = f"mtseq2seq_plugin_{next(_plugin_count)}_{resolved.stem}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _loaded_plugins[resolved] = module
    digest = hashlib.sha256(resolved.read_bytes()).hexdigest()
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del _loaded_plugins[resolved]
        del sys.modules[name]
        raise
    _plugin_sha256[resolved] = digest
    return module


def loaded_sha256(path: str | Path) -> str | None:
    """SHA-256 (hex) of the plugin file as ``load_plugin`` read it; None if it was not loaded."""
    return _plugin_sha256.get(Path(path).resolve())
