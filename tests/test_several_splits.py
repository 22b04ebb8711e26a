"""Several test (and validation) sets per task: `tasks.<t>.test: [a, b, c]` gives one scores
file per split, named by the split; a second validation set is recorded beside the first,
which alone selects checkpoints."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mtseq2seq.__main__ import main
from tests.conftest import tiny_recipe, write_recipe

pytestmark = pytest.mark.usefixtures("one_thread")


def test_three_test_sets_give_three_scores_files(tiny_corpus: Path, tmp_path: Path,
                                                 capsys) -> None:
    for split in ("test_a", "test_b"):
        for slot in ("en", "de", "parse"):
            lines = (tiny_corpus / f"test.{slot}").read_text().splitlines()
            count = 15 if split == "test_b" else 10
            (tiny_corpus / f"{split}.{slot}").write_text("\n".join(lines[:count]) + "\n")
        shutil.copy(tiny_corpus / "valid.en", tiny_corpus / "valid2.en")
    shutil.copy(tiny_corpus / "valid.de", tiny_corpus / "valid2.de")
    raw = tiny_recipe(tiny_corpus)
    raw["tasks"]["en>de"].update(test=["test", "test_a", "test_b"], valid=["valid", "valid2"])
    raw["train"]["lr"] = 3e-3
    run = tmp_path / "run"
    recipe = write_recipe(tmp_path / "r.yaml", raw)
    assert main(["train", str(recipe), "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "test_a:" in out and "test_b:" in out
    files = {p.name: json.loads(p.read_text()) for p in run.glob("checkpoint_best.*.scores.json")}
    assert sorted(files) == ["checkpoint_best.test.scores.json", "checkpoint_best.test_a.scores.json",
                             "checkpoint_best.test_b.scores.json"]
    assert [s["task"] for s in files["checkpoint_best.test.scores.json"]["scores"]] == \
        ["en>de", "en>parse"]  # en>parse names one test split: "test"
    assert [s["task"] for s in files["checkpoint_best.test_b.scores.json"]["scores"]] == ["en>de"]
    assert files["checkpoint_best.test_a.scores.json"]["split"] == "test_a"
    assert files["checkpoint_best.test_b.scores.json"]["scores"][0]["sentences"] == 15
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    splits = {(r["split"], r.get("task")) for r in records if r["split"].startswith("valid")}
    assert splits == {("valid", "en>de"), ("valid", "en>parse"), ("valid:valid2", "en>de")}


def test_a_missing_file_of_a_later_test_set_is_named_before_training(tiny_corpus: Path,
                                                                    tmp_path: Path,
                                                                    capsys) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["tasks"]["en>de"]["test"] = ["test", "test_2017"]
    run = tmp_path / "run"
    assert main(["train", str(write_recipe(tmp_path / "r.yaml", raw)), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "tasks.en>de.test[1]: source file" in err and "test_2017.en" in err
    assert not (run / "metrics.jsonl").exists()
