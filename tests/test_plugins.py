"""Plugin files: a failing plugin shows its own traceback; a checkpoint finds its plugin after the
recipe folder moves, warns when the file changed, and says where it looked when it is gone."""
from __future__ import annotations

import hashlib
import io
import logging
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

from mtseq2seq import checkpoint, registry
from mtseq2seq.__main__ import main
from mtseq2seq.modules import ENCODERS
from mtseq2seq.recipe.config import Recipe
from mtseq2seq.recipe.topology import check_plugins
from tests.conftest import conv_plugin, tiny_recipe, write, write_recipe

TYPE = "plugin_move_test"
PLUGIN = conv_plugin(TYPE)


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to forget the plugins loaded since, as a new process would (undone after the test)."""
    known = dict(ENCODERS._classes)

    def forget() -> None:
        monkeypatch.setattr(ENCODERS, "_classes", dict(known))
        monkeypatch.setattr(registry, "_loaded_plugins", {})

    forget()
    return forget


@pytest.fixture
def trained(tiny_corpus: Path, tmp_path: Path, fresh_registry: Callable) -> tuple[Path, Path]:
    """(recipe, best checkpoint) of a 4-step run whose encoder comes from project/my_encoder.py."""
    project = tmp_path / "project"
    write(project / "my_encoder.py", PLUGIN)
    raw = tiny_recipe(tiny_corpus, plugins=["my_encoder.py"])
    raw["encoders"]["en"] = {"type": TYPE, "dim": 16}
    recipe = write_recipe(project / "r.yaml", raw)
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "run")]) == 0
    return recipe, tmp_path / "run" / "checkpoint_best.pt"


def translate(ckpt: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
              ) -> tuple[int, str, str]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a dog runs\nthe cat\n")))
    code = main(["translate", "--checkpoint", str(ckpt), "--task", "en>de", "--beam", "1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failing_plugin_shows_its_own_frames(tmp_path: Path, fresh_registry: Callable,
                                             capsys: pytest.CaptureFixture) -> None:
    raises = write(tmp_path / "raises.py", "import math\n\n\n\nvalue = 1 / 0\n")
    syntax = write(tmp_path / "syntax.py", "x = 1\ndef broken(:\n    pass\n")
    wrong = write(tmp_path / "wrong.py", """
        from mtseq2seq import register_encoder

        @register_encoder("plugin_not_an_encoder")
        class NotAnEncoder:
            pass
    """)
    raw = tiny_recipe(tmp_path / "data", plugins=[raises.name, syntax.name, wrong.name])
    assert main(["graph", str(write_recipe(tmp_path / "r.yaml", raw))]) == 2
    err = capsys.readouterr().err
    assert f'File "{raises}", line 5, in <module>\n        value = 1 / 0' in err
    assert "ZeroDivisionError: division by zero" in err
    assert f'File "{syntax}", line 2\n        def broken(:' in err and "SyntaxError" in err
    assert f'File "{wrong}", line 3, in <module>' in err and "is not a subclass of Encoder" in err
    frames = [line.strip() for line in err.splitlines() if line.strip().startswith('File "')]
    assert len(frames) == 3  # the plugins' own frames only: no importlib, registry or topology
    assert "importlib" not in err and "registry.py" not in err and "topology.py" not in err


def test_check_plugins_reports_each_failure_with_its_index(tmp_path: Path,
                                                           fresh_registry: Callable) -> None:
    good = write(tmp_path / "good.py", "VALUE = 1\n")
    bad = write(tmp_path / "bad.py", "def f():\n    raise KeyError('dim')\n\nf()\n")
    problems = check_plugins(Recipe(plugins=[str(good), str(bad), str(tmp_path / "gone.py")]))
    assert len(problems) == 2
    assert problems[0].startswith(f"plugins[1]: loading '{bad}' failed:")
    assert 'line 4, in <module>' in problems[0] and 'line 2, in f' in problems[0]
    assert "raise KeyError('dim')" in problems[0] and "KeyError: 'dim'" in problems[0]
    assert problems[1].startswith("plugins[2]: ") and "gone.py' not found" in problems[1]


def test_checkpoint_records_plugin_and_resume_accepts_it(trained: tuple[Path, Path]) -> None:
    recipe, ckpt = trained
    plugin = recipe.parent / "my_encoder.py"
    state = checkpoint.load(ckpt)
    assert state["plugins"] == [{"path": "my_encoder.py", "sha256": sha256(plugin)}]
    assert state["recipe"]["plugins"] == [str(plugin.resolve())]
    assert "class ConvEncoder" not in repr(state)  # the path and hash only, never the code
    assert main(["train", str(recipe), "--run-dir", str(ckpt.parent), "--resume",
                 "--set", "train.max_steps=6"]) == 0
    assert checkpoint.load(ckpt.parent / "checkpoint_last.pt")["step"] == 6


def test_translate_after_the_recipe_folder_moved(trained: tuple[Path, Path], tmp_path: Path,
                                                 fresh_registry: Callable,
                                                 capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    recipe, ckpt = trained
    trained_with = sha256(recipe.parent / "my_encoder.py")
    moved = Path(shutil.move(str(recipe.parent), str(tmp_path / "moved")))
    fresh_registry()
    code, _, err = translate(ckpt, capsys, monkeypatch)
    assert code == 2 and "needs the plugin file 'my_encoder.py'" in err
    assert f"{recipe.parent / 'my_encoder.py'} (where training loaded it)" in err
    assert f"{ckpt.parent / 'my_encoder.py'} (next to the checkpoint)" in err
    assert "copy my_encoder.py next to the checkpoint" in err and trained_with in err

    copy = Path(shutil.copy(moved / "my_encoder.py", ckpt.parent))
    fresh_registry()
    with caplog.at_level(logging.WARNING, logger="mtseq2seq"):
        code, out, err = translate(ckpt, capsys, monkeypatch)
    assert code == 0, err
    assert len(out.split("\n")) == 3 and not caplog.records  # two lines out; same file: no warning

    copy.write_text(copy.read_text() + "# fixed a bug\n")
    fresh_registry()
    with caplog.at_level(logging.WARNING, logger="mtseq2seq"):
        code, out, err = translate(ckpt, capsys, monkeypatch)
    assert code == 0, err
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert str(copy) in warning and sha256(copy) in warning and trained_with in warning


def test_old_checkpoint_and_evaluate_with_a_changed_plugin(trained: tuple[Path, Path],
                                                           fresh_registry: Callable,
                                                           capsys: pytest.CaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    recipe, ckpt = trained
    state = checkpoint.load(ckpt)
    del state["plugins"]  # as written before checkpoints recorded their plugins
    old = ckpt.with_name("old.pt")
    torch.save(state, old)
    fresh_registry()
    code, out, err = translate(old, capsys, monkeypatch)
    assert code == 0 and len(out.split("\n")) == 3, err

    plugin = recipe.parent / "my_encoder.py"
    trained_with = sha256(plugin)
    plugin.write_text(plugin.read_text() + "# edited after training\n")
    fresh_registry()
    with caplog.at_level(logging.WARNING, logger="mtseq2seq"):
        assert main(["evaluate", str(recipe), "--checkpoint", str(ckpt), "--split", "test"]) == 0
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert str(plugin) in warning and trained_with in warning and sha256(plugin) in warning
