"""Registry: duplicates, unknown names with a close match, option binding, plugin files."""
from __future__ import annotations

from pathlib import Path

import pytest

from mtseq2seq.errors import ConfigError
from mtseq2seq.modules import ENCODERS, Encoder
from mtseq2seq.registry import Registry, load_plugin
from tests.conftest import write


class Base:
    pass


def test_register_get_and_duplicates() -> None:
    registry: Registry = Registry("widget", Base, provided=("size",))

    @registry.register("round")
    class Round(Base):
        def __init__(self, size: int, radius: float = 1.0) -> None:
            self.size, self.radius = size, radius

    assert registry.get("round") is Round and registry.names() == ["round"]
    with pytest.raises(ValueError, match="registered twice.*Round.*Other"):
        @registry.register("round")
        class Other(Base):
            pass
    with pytest.raises(TypeError, match="not a subclass of Base"):
        registry.register("bad")(int)
    with pytest.raises(ConfigError, match=r"unknown widget type 'rund' \(known: round; did you mean"):
        registry.get("rund")
    assert registry.check_kwargs("round", {"radius": 2.0}, "w") == []
    assert registry.check_kwargs("round", {"radios": 2.0}, "w")[0].startswith(
        "w.radios: unknown option 'radios' for widget type 'round' (known: radius; did you mean")
    assert registry.check_kwargs("round", {"size": 3}, "w")[0].startswith("w.size: unknown option")
    built = registry.build("round", {"radius": 3.0}, "w", size=5)
    assert (built.size, built.radius) == (5, 3.0)


def test_builtin_types_registered() -> None:
    assert {"transformer", "rnn"} <= set(ENCODERS.names())
    assert all(issubclass(ENCODERS.get(n), Encoder) for n in ENCODERS.names())


def test_plugin_loaded_once_per_path(tmp_path: Path) -> None:
    plugin = write(tmp_path / "plug.py", """
        from mtseq2seq import register_encoder
        from mtseq2seq.modules.transformer import TransformerEncoder
        COUNT = [0]
        COUNT[0] += 1

        @register_encoder("plugin_test_once")
        class Once(TransformerEncoder):
            pass
    """)
    first = load_plugin(plugin)
    again = load_plugin(tmp_path / "." / "plug.py")
    assert first is again and first.COUNT == [1]
    assert "plugin_test_once" in ENCODERS
    with pytest.raises(ConfigError, match="plugins: file 'nope.py' not found"):
        load_plugin("nope.py", tmp_path)
