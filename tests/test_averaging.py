"""`mtseq2seq average`: the parameter mean of checkpoints of one recipe, usable like any
checkpoint; checkpoints of another recipe are refused."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import torch

from mtseq2seq.__main__ import main
from tests.conftest import tiny_recipe, write_recipe

pytestmark = pytest.mark.usefixtures("one_thread")


def trained_run(tiny_corpus: Path, tmp_path: Path, name: str, **modules) -> tuple[Path, Path]:
    raw = tiny_recipe(tiny_corpus)
    raw["modules"]["transformer"].update(modules)
    raw["train"].update({"keep_last": 3, "lr": 3e-3, "max_steps": 6})
    raw["valid"] = {"every": 2, "decode": False}
    recipe = write_recipe(tmp_path / f"{name}.yaml", raw)
    run = tmp_path / name
    assert main(["train", str(recipe), "--run-dir", str(run)]) == 0
    return recipe, run


def test_the_average_is_the_mean_and_evaluates_like_any_checkpoint(tiny_corpus: Path,
                                                                   tmp_path: Path,
                                                                   capsys, monkeypatch) -> None:
    recipe, run = trained_run(tiny_corpus, tmp_path, "a")
    out = tmp_path / "avg.pt"
    assert main(["average", str(run / "checkpoint_step4.pt"), str(run / "checkpoint_step6.pt"),
                 "-o", str(out)]) == 0
    a, b = (torch.load(run / f"checkpoint_step{s}.pt") for s in (4, 6))
    averaged = torch.load(out)
    for key, value in averaged["model"].items():
        expected = (a["model"][key].double() + b["model"][key].double()) / 2
        assert torch.allclose(value.double(), expected, atol=1e-7), key
    assert any(not torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert [e["step"] for e in averaged["averaged_from"]] == [4, 6]
    assert "optimizer" not in averaged  # not a state to resume from
    capsys.readouterr()
    assert main(["evaluate", str(recipe), "--checkpoint", str(out), "--tasks", "en-de"]) == 0
    assert "en>de" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the cat sees a dog\n")))
    assert main(["translate", "--checkpoint", str(out), "--task", "en-de", "--beam", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    last = tmp_path / "last3.pt"
    assert main(["average", "--last", "3", str(run), "-o", str(last)]) == 0
    assert [e["step"] for e in torch.load(last)["averaged_from"]] == [2, 4, 6]


def test_checkpoints_of_different_recipes_are_refused(tiny_corpus: Path, tmp_path: Path,
                                                      capsys) -> None:
    _, run_a = trained_run(tiny_corpus, tmp_path, "a")
    _, run_b = trained_run(tiny_corpus, tmp_path, "b", ff=48)
    out = tmp_path / "avg.pt"
    assert main(["average", str(run_a / "checkpoint_last.pt"), str(run_b / "checkpoint_last.pt"),
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "come from different recipes" in err and "modules.transformer.ff" in err
    assert not out.exists()
    assert main(["average", "--last", "9", str(run_a), "-o", str(out)]) == 2
    assert "holds 3 checkpoint_step<S>.pt file(s)" in capsys.readouterr().err
