"""Interruptions and resume: exact continuation, stop signals, non-finite updates, keep_last."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mtseq2seq.tasks.seq2seq as seq2seq_module
from mtseq2seq import checkpoint
from mtseq2seq.__main__ import main
from mtseq2seq.build.prepare import prepare
from mtseq2seq.build.trainer import build_trainer
from mtseq2seq.errors import TrainingError
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.trainer import Trainer
from tests.conftest import tiny_recipe, write_recipe


def recipe_file(tiny_corpus: Path, tmp_path: Path, **train) -> Path:
    raw = tiny_recipe(tiny_corpus)
    raw["modules"]["transformer"]["dropout"] = 0.2  # dropout draws from the RNG: resume must match
    raw["train"].update(lr=3e-3, warmup=4, **train)
    raw["valid"].update(every=5, decode_sentences=8)
    return write_recipe(tmp_path / "r.yaml", raw)


def test_n_plus_n_steps_equal_2n_steps_bitwise(tiny_corpus: Path, tmp_path: Path) -> None:
    path = recipe_file(tiny_corpus, tmp_path)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "whole"),
                 "--set", "train.max_steps=20"]) == 0
    assert main(["train", str(path), "--run-dir", str(tmp_path / "split"),
                 "--set", "train.max_steps=10"]) == 0
    assert main(["train", str(path), "--run-dir", str(tmp_path / "split"), "--resume",
                 "--set", "train.max_steps=20"]) == 0
    whole = checkpoint.load(tmp_path / "whole" / "checkpoint_last.pt")
    split = checkpoint.load(tmp_path / "split" / "checkpoint_last.pt")
    assert whole["step"] == split["step"] == 20
    assert whole["model"].keys() == split["model"].keys()
    for name, tensor in whole["model"].items():
        assert torch.equal(tensor, split["model"][name]), name
    assert whole["scheduler"] == split["scheduler"] and whole["iterators"] == split["iterators"]


def test_resume_refuses_a_different_recipe_and_a_missing_checkpoint(tiny_corpus: Path,
                                                                    tmp_path: Path, capsys) -> None:
    path = recipe_file(tiny_corpus, tmp_path, max_steps=5)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "new"), "--resume"]) == 2
    assert "--resume: no" in capsys.readouterr().err
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 0
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run"),
                 "--set", "train.lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "written by a different recipe" in err and "train.lr: checkpoint has 0.003" in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_saves_and_says_how_to_resume(sig: int, tiny_corpus: Path,
                                                  tmp_path: Path) -> None:
    path = recipe_file(tiny_corpus, tmp_path, max_steps=100000, log_every=1)
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "mtseq2seq", "train", str(path),
                                "--run-dir", str(run_dir), "--set", "valid.every=1000000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + 60
    while (not metrics.is_file() or metrics.read_text().count("\n") < 6) and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + sig, err  # 130 for SIGINT, 143 for SIGTERM
    assert "Traceback" not in err
    assert "Continue with:" in err and "--resume" in err
    state = checkpoint.load(run_dir / "checkpoint_last.pt")
    assert 3 <= state["step"] < 100000
    logged = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert state["step"] >= max(logged)  # the checkpoint holds every step that was logged


def tiny_trainer(tiny_corpus: Path, tmp_path: Path, **train) -> Trainer:
    recipe = load_recipe(recipe_file(tiny_corpus, tmp_path, **train), run_dir=str(tmp_path / "r"))
    (tmp_path / "r").mkdir(exist_ok=True)
    return build_trainer(recipe, tmp_path / "r", prepare(recipe, tmp_path / "r"))


def test_non_finite_loss_skips_the_update_then_stops(tiny_corpus: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = tiny_trainer(tiny_corpus, tmp_path, max_steps=50, max_bad_steps=3)
    real_loss = seq2seq_module.label_smoothed_loss
    poisoned = {"on": False}

    def loss(*args, **kwargs):
        out = real_loss(*args, **kwargs)
        if poisoned["on"]:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(seq2seq_module, "label_smoothed_loss", loss)
    trainer.train_step(["en>de"])  # a good update
    before = [p.detach().clone() for p in trainer.model.parameters()]
    poisoned["on"] = True
    assert trainer.train_step(["en>de"]) == {}
    assert trainer.skipped == {"en>de": 1}
    assert all(torch.equal(a, p) for a, p in zip(before, trainer.model.parameters()))
    poisoned["on"] = False
    assert "en>parse" in trainer.train_step(["en>parse"])  # recovers; the in-a-row count resets
    poisoned["on"] = True
    trainer.train_step(["en>de"])
    trainer.train_step(["en>de"])
    with pytest.raises(TrainingError, match="3 updates in a row had a non-finite loss"):
        trainer.train_step(["en>parse"])
    assert trainer.skipped == {"en>de": 3, "en>parse": 1}


def test_keep_last_prunes_step_checkpoints(tiny_corpus: Path, tmp_path: Path) -> None:
    path = recipe_file(tiny_corpus, tmp_path, max_steps=20, keep_last=2)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 0
    kept = sorted(p.name for p in (tmp_path / "run").glob("checkpoint_step*.pt"))
    assert kept == ["checkpoint_step15.pt", "checkpoint_step20.pt"]
    assert checkpoint.load(tmp_path / "run" / "checkpoint_step15.pt")["step"] == 15
