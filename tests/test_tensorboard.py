"""`train.tensorboard`: the run's records as TensorBoard scalars, read back with tensorboard's
own event reader; a clear error when asked for without the package."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mtseq2seq.__main__ import main
from tests.conftest import tiny_recipe, write_recipe

pytestmark = pytest.mark.usefixtures("one_thread")


def recipe(tiny_corpus: Path, tmp_path: Path, **train) -> Path:
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update({"log_every": 1, "lr": 3e-3, **train})
    return write_recipe(tmp_path / "r.yaml", raw)


def test_events_hold_each_tasks_training_and_validation_scalars(tiny_corpus: Path,
                                                                tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    assert main(["train", str(recipe(tiny_corpus, tmp_path)), "--run-dir", str(run)]) == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for task, metric in (("en>de", "bleu"), ("en>parse", "tree_f1")):
        for tag in (f"train/{task}/loss", f"train/{task}/lr", f"train/{task}/tokens_per_s",
                    f"valid/{task}/loss", f"valid/{task}/acc", f"valid/{task}/{metric}"):
            assert tag in tags, (tag, sorted(tags))
    valid = events.Scalars("valid/en>de/loss")
    assert [e.step for e in valid] == [2, 4]
    assert all(e.value > 0 for e in valid)


def test_asked_for_without_the_package_is_a_clear_error(tiny_corpus: Path, tmp_path: Path,
                                                        monkeypatch, capsys) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    path = recipe(tiny_corpus, tmp_path, tensorboard=True)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert "pip install 'mtseq2seq[tensorboard]'" in capsys.readouterr().err
    off = recipe(tiny_corpus, tmp_path)  # unset: off without the package, the run goes on
    assert main(["train", str(off), "--run-dir", str(tmp_path / "run2")]) == 0
    assert not (tmp_path / "run2" / "tensorboard").exists()
