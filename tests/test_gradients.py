"""Gradient-conflict diagnostics and PCGrad: tasks with identical data agree (cosine ~1), a
constructed conflicting pair disagrees (< 0), PCGrad removes the conflicting component, and
`mtseq2seq diagnose` prints what a run logged."""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from mtseq2seq.__main__ import main
from mtseq2seq.gradients import cosine, pcgrad
from tests.conftest import write, write_recipe


def corpus(folder: Path) -> Path:
    for split in ("train", "valid", "test"):
        write(folder / f"{split}.en", "a b c\n" * 40)
        write(folder / f"{split}.de", "x y\n" * 40)
        write(folder / f"{split}.alt", "p q\n" * 40)  # the same sources, other targets
    return folder


def recipe(data: Path, second_target: str, **extra) -> dict:
    return {
        "data_dir": str(data), "seed": 3,
        "vocabs": {"en": {"type": "words"}, "de": {"type": "words"}},
        "modules": {"type": "transformer",
                    "transformer": {"dim": 16, "layers": 1, "heads": 2, "ff": 32, "dropout": 0.0}},
        "encoders": {"en": {}}, "decoders": {"de": {}},
        "tasks": {"one": {"kind": "translation", "encoder": "en", "decoder": "de"},
                  "two": {"kind": "translation", "encoder": "en", "decoder": "de",
                          "files": {"decoder": second_target}}},
        "train": {"batch_tokens": 200, "warmup": 1, "lr": 0.01, "log_every": 100,
                  "diagnose_every": 2},
        "valid": {"every": 100, "decode": False},
        **extra,
    }


def checks(run: Path) -> list[dict]:
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r.get("split") == "diagnose"]


def test_tasks_with_identical_data_have_cosine_near_one(tmp_path: Path, capsys) -> None:
    raw = recipe(corpus(tmp_path / "data"), "de")
    raw["train"]["max_steps"] = 4
    assert main(["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--run-dir",
                 str(tmp_path / "run")]) == 0
    found = checks(tmp_path / "run")
    assert {r["module"] for r in found} == {"encoders.en", "decoders.de"}
    assert [r["step"] for r in found if r["module"] == "encoders.en"] == [2, 4]
    assert all(r["cosine"]["one|two"] > 0.999 for r in found), found
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "decoders.de: 2 check(s); cosines at step 4" in out and "one vs two" in out


def test_a_conflicting_pair_has_negative_cosine(tmp_path: Path) -> None:
    raw = recipe(corpus(tmp_path / "data"), "alt",
                 stages={"first": {"tasks": ["one"], "max_steps": 30},
                         "both": {"tasks": ["one", "two"], "max_steps": 2}})
    assert main(["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--run-dir",
                 str(tmp_path / "run")]) == 0
    found = {r["module"]: r for r in checks(tmp_path / "run") if r["step"] == 32}
    assert found["decoders.de"]["cosine"]["one|two"] < 0, found


def test_diagnostics_leave_the_run_as_it_would_have_been(tmp_path: Path) -> None:
    data = corpus(tmp_path / "data")
    runs = {}
    for name, every in (("with", 1), ("without", 0)):
        raw = recipe(data, "alt", schedule={"type": "every_task"})
        raw["train"].update(max_steps=4, diagnose_every=every)
        raw["modules"]["transformer"]["dropout"] = 0.1  # the checks must put the RNG back
        assert main(["train", str(write_recipe(tmp_path / f"{name}.yaml", raw)), "--run-dir",
                     str(tmp_path / name)]) == 0
        runs[name] = torch.load(tmp_path / name / "checkpoint_last.pt", weights_only=True)
    assert checks(tmp_path / "with") and not checks(tmp_path / "without")
    for key, tensor in runs["with"]["model"].items():
        assert torch.equal(tensor, runs["without"]["model"][key]), key


def test_pcgrad_removes_the_conflicting_component() -> None:
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    assert cosine(g1, g2) < 0
    combined = pcgrad([g1, g2], random.Random(0))
    # g1 projected off g2: [0.5, 0.5]; g2 projected off g1: [0, 1]; each is orthogonal to the other
    assert torch.allclose(combined, torch.tensor([0.5, 1.5]))
    g1p = g1 - (g1 @ g2) / (g2 @ g2) * g2
    assert abs(float(g1p @ g2)) < 1e-6
    agreeing = [torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.1])]
    assert torch.equal(pcgrad(agreeing, random.Random(0)), agreeing[0] + agreeing[1])


def test_pcgrad_training_runs_every_task_updates(tmp_path: Path) -> None:
    raw = recipe(corpus(tmp_path / "data"), "alt", schedule={"type": "every_task"})
    raw["train"].update(max_steps=6, gradient_surgery="pcgrad", diagnose_every=0, log_every=3)
    assert main(["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--run-dir",
                 str(tmp_path / "run")]) == 0
    losses = [r["loss"] for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl")
                                     .read_text().splitlines())
              if r.get("split") == "train" and r.get("task") == "one" and "loss" in r]
    assert len(losses) == 2 and losses[1] < losses[0]
