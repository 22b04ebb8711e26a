"""Stages, freezing and init_from: a two-stage recipe runs both stages from one command and
resumes in the second; frozen parameters stay bitwise unchanged with no optimizer state;
init_from loads exactly the named modules; bad input names its YAML path."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from mtseq2seq import checkpoint
from mtseq2seq.__main__ import main
from mtseq2seq.build.prepare import prepare
from mtseq2seq.build.trainer import build_trainer
from mtseq2seq.errors import UserError
from mtseq2seq.freezing import frozen_parameters, glob_regex
from mtseq2seq.init_from import init_modules
from mtseq2seq.recipe.loader import load_recipe
from tests.conftest import tiny_recipe, write_recipe

STAGES = {"parse_first": {"tasks": ["en-parse"], "max_steps": 6, "lr": 0.004, "warmup": 2},
          "then_de": {"tasks": ["en-de"], "max_steps": 6, "lr": 0.002, "warmup": 1,
                      "freeze": ["encoders.en"]}}


def staged(tiny_corpus: Path, **changes) -> dict:
    raw = tiny_recipe(tiny_corpus, stages=STAGES, **changes)
    del raw["train"]["max_steps"]  # each stage sets its own
    raw["train"].update(keep_last=10)
    raw["valid"].update(every=2, decode_sentences=4)
    return raw


def weights(path: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(path)["model"]


def test_two_stages_run_from_one_command_and_freeze_in_the_second(tiny_corpus: Path,
                                                                  tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "r.yaml", staged(tiny_corpus))
    run = tmp_path / "run"
    assert main(["train", str(path), "--run-dir", str(run)]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    trained = [(r["step"], r["task"]) for r in records
               if r.get("split") == "train" and "loss" in r]
    assert {t for s, t in trained if s <= 6} == {"en>parse"}
    assert {t for s, t in trained if s > 6} == {"en>de"}
    end_of_first = weights(run / "checkpoint_stage_parse_first.pt")
    assert checkpoint.load(run / "checkpoint_stage_parse_first.pt")["step"] == 6
    last = checkpoint.load(run / "checkpoint_last.pt")
    assert last["step"] == 12 and last["stage"] == 1
    encoder = [k for k in end_of_first if k.startswith("encoders.en.")]
    assert encoder and all(torch.equal(end_of_first[k], last["model"][k]) for k in encoder)
    changed = [k for k in end_of_first if k.startswith("decoders.de.")
               and not torch.equal(end_of_first[k], last["model"][k])]
    assert changed  # the second stage trained its decoder
    # the optimizer holds no state for a frozen parameter: only de's decoder has moments
    de = {v.data_ptr() for k, v in last["model"].items() if k.startswith("decoders.de.")}
    assert len(last["optimizer"]["state"]) == len(de)  # tied weights counted once


def test_a_run_stopped_in_the_second_stage_resumes_there_bitwise(tiny_corpus: Path,
                                                                 tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "r.yaml", staged(tiny_corpus))
    whole = tmp_path / "whole"
    assert main(["train", str(path), "--run-dir", str(whole)]) == 0
    part = tmp_path / "part"
    shutil.copytree(whole, part)
    for stale in part.glob("checkpoint_*.pt"):
        if stale.name != "checkpoint_step8.pt":
            stale.unlink()
    (part / "checkpoint_step8.pt").rename(part / "checkpoint_last.pt")  # as if stopped at 8
    assert checkpoint.load(part / "checkpoint_last.pt")["stage"] == 1
    assert main(["train", str(path), "--run-dir", str(part), "--resume"]) == 0
    a, b = checkpoint.load(whole / "checkpoint_last.pt"), checkpoint.load(part / "checkpoint_last.pt")
    assert a["step"] == b["step"] == 12
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    assert a["scheduler"] == b["scheduler"] and a["iterators"] == b["iterators"]


def test_a_finished_run_continues_with_a_longer_last_stage(tiny_corpus: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    """Lengthening the last stage resumes (as a longer train.max_steps does) and gives the run
    that had the longer stage from the start, bit for bit (its learning rate does not depend on
    the stage's length); another change of a stage is still refused."""
    path = write_recipe(tmp_path / "r.yaml", staged(tiny_corpus))
    short, longer = tmp_path / "short", tmp_path / "longer"
    assert main(["train", str(path), "--run-dir", str(short)]) == 0
    more = ["--set", "stages.then_de.max_steps=8"]
    assert main(["train", str(path), "--run-dir", str(short), "--resume", *more]) == 0
    assert main(["train", str(path), "--run-dir", str(longer), *more]) == 0
    a, b = checkpoint.load(short / "checkpoint_last.pt"), checkpoint.load(longer / "checkpoint_last.pt")
    assert a["step"] == b["step"] == 14
    assert all(torch.equal(tensor, b["model"][key]) for key, tensor in a["model"].items())
    capsys.readouterr()
    assert main(["train", str(path), "--run-dir", str(short), "--resume", *more,
                 "--set", "stages.then_de.lr=0.001"]) == 2
    assert "stages.then_de.lr: checkpoint has 0.002, recipe has 0.001" in capsys.readouterr().err


def build(raw: dict, tmp_path: Path, name: str):
    recipe = load_recipe(write_recipe(tmp_path / f"{name}.yaml", raw), run_dir=str(tmp_path / name))
    (tmp_path / name).mkdir(exist_ok=True)
    vocabs = prepare(recipe, tmp_path / name)
    return build_trainer(recipe, tmp_path / name, vocabs), vocabs


def test_frozen_parameters_stay_bitwise_and_get_no_optimizer_state(tiny_corpus: Path,
                                                                   tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update(max_steps=6, freeze=["decoders.*.embed", "encoders.en.layers.0.**"])
    trainer, _ = build(raw, tmp_path, "frozen")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    frozen = {k: v for k, v in before.items() if k.startswith("encoders.en.layers.0.") or
              (k.startswith("decoders.") and ".embed." in k)}
    assert frozen
    trainer.train()
    after = trainer.model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in frozen.items())
    ids = {id(p) for p in trainer.stage.frozen}
    state_params = [p for group in trainer.optimizer.param_groups for p in group["params"]]
    assert ids and not ids & {id(p) for p in state_params}
    assert not any(id(p) in ids for p in trainer.optimizer.state)
    assert not torch.equal(before["encoders.en.embed.weight"], after["encoders.en.embed.weight"])


def test_init_from_loads_exactly_the_named_modules(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    donor_path = write_recipe(tmp_path / "donor.yaml", raw)
    assert main(["train", str(donor_path), "--run-dir", str(tmp_path / "donor"),
                 "--set", "train.max_steps=6"]) == 0
    donor = weights(tmp_path / "donor" / "checkpoint_last.pt")
    fresh, vocabs = build(raw, tmp_path, "fresh")
    initial = {k: v.clone() for k, v in fresh.model.state_dict().items()}
    count = init_modules(fresh.model, str(tmp_path / "donor" / "checkpoint_last.pt"),
                         {"encoders.en": "encoders.en", "decoders.de": "decoders.de"}, vocabs)
    now = fresh.model.state_dict()
    assert count == len([k for k in now if k.startswith(("encoders.en.", "decoders.de."))])
    for key, tensor in now.items():
        source = donor if key.startswith(("encoders.en.", "decoders.de.")) else initial
        assert torch.equal(tensor, source[key]), key
    assert any(not torch.equal(initial[k], donor[k]) for k in initial if k.startswith("decoders.parse"))


def test_init_from_in_a_recipe_applies_when_a_run_starts(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    assert main(["train", str(write_recipe(tmp_path / "d.yaml", raw)), "--run-dir",
                 str(tmp_path / "donor"), "--set", "train.max_steps=6"]) == 0
    donor = weights(tmp_path / "donor" / "checkpoint_last.pt")
    raw["init_from"] = {"checkpoint": str(tmp_path / "donor" / "checkpoint_last.pt"),
                        "modules": ["encoders.en"]}
    raw["train"].update(max_steps=2, freeze=["encoders.en"])
    assert main(["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--run-dir",
                 str(tmp_path / "run")]) == 0
    after = weights(tmp_path / "run" / "checkpoint_last.pt")
    assert all(torch.equal(after[k], donor[k]) for k in donor if k.startswith("encoders.en."))


def test_globs_take_one_component_per_star() -> None:
    assert glob_regex("decoders.*.embed").match("decoders.de.embed")
    assert not glob_regex("decoders.*.embed").match("decoders.de.layers.0.embed")
    assert glob_regex("encoders.**").match("encoders.en.layers.0.ff.weight")


def fails(args: list[str], capsys, *expected: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


def test_bad_stages_freeze_and_init_from_are_clear_errors(tiny_corpus: Path, tmp_path: Path,
                                                          capsys) -> None:
    raw = staged(tiny_corpus)
    raw["stages"]["then_de"]["tasks"] = ["en-fr"]
    raw["stages"]["parse_first"]["schedule"] = {"type": "round_robbin"}
    raw["train"]["max_steps"] = 5
    fails(["train", str(write_recipe(tmp_path / "a.yaml", raw)), "--run-dir", str(tmp_path / "a")],
          capsys, "stages.then_de.tasks[0]: no task 'en-fr'",
          "stages.parse_first.schedule.type: unknown scheduler type 'round_robbin'",
          "train.max_steps: with stages:, each stage sets its own max_steps")
    raw = tiny_recipe(tiny_corpus)
    raw["train"]["freeze"] = ["encoders.fr"]
    fails(["train", str(write_recipe(tmp_path / "b.yaml", raw)), "--run-dir", str(tmp_path / "b")],
          capsys, "train.freeze[0]: 'encoders.fr' matches no module of this model; valid paths "
          "include decoders, decoders.de, decoders.de.embed, decoders.de.layers")
    assert main(["train", str(write_recipe(tmp_path / "d.yaml", tiny_recipe(tiny_corpus))),
                 "--run-dir", str(tmp_path / "donor"), "--set", "train.max_steps=2"]) == 0
    raw = tiny_recipe(tiny_corpus)
    raw["modules"]["transformer"].update(dim=32, heads=4)
    raw["init_from"] = {"checkpoint": str(tmp_path / "donor" / "checkpoint_last.pt"),
                        "modules": {"encoders.en": "encoders.en", "decoders.fr": "decoders.de"}}
    fails(["train", str(write_recipe(tmp_path / "c.yaml", raw)), "--run-dir", str(tmp_path / "c")],
          capsys, "init_from.modules.encoders.en: encoders.en.embed.weight is (",
          "in the checkpoint, encoders.en.embed.weight is (",
          "init_from.modules.decoders.fr: no module 'decoders.fr' in this model")
    raw["init_from"]["checkpoint"] = str(tmp_path / "nothing.pt")
    fails(["train", str(write_recipe(tmp_path / "e.yaml", raw)), "--run-dir", str(tmp_path / "e")],
          capsys, "init_from.checkpoint", "nothing.pt' not found")


def test_frozen_parameters_error_lists_paths(tiny_corpus: Path, tmp_path: Path) -> None:
    trainer, _ = build(tiny_recipe(tiny_corpus), tmp_path, "paths")
    with pytest.raises(UserError, match=r"x\[0\]: 'decoders\.\*\.nothing' matches no module"):
        frozen_parameters(trainer.model, ["decoders.*.nothing"], "x")


def test_a_helper_task_without_valid_and_test_splits_trains_and_is_not_scored(
        tiny_corpus: Path, tmp_path: Path, capsys) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["tasks"]["en>parse"].update(valid=None, test=None)
    path = write_recipe(tmp_path / "r.yaml", raw)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 0
    scores = json.loads((tmp_path / "run" / "checkpoint_best.test.scores.json").read_text())
    assert [s["task"] for s in scores["scores"]] == ["en>de"]
    assert main(["evaluate", str(path), "--checkpoint", str(tmp_path / "run" / "checkpoint_best.pt"),
                 "--split", "valid"]) == 0
    assert "en>parse" not in capsys.readouterr().out.split("teacher-forced on valid")[-1]
    fails(["evaluate", str(path), "--checkpoint", str(tmp_path / "run" / "checkpoint_best.pt"),
           "--tasks", "en-parse"], capsys, "--split test: task 'en>parse' names no test split")
