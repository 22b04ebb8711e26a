"""evaluate and translate from a checkpoint alone: order kept, empty lines kept, zero-shot pairs."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from mtseq2seq.__main__ import main
from tests.conftest import SENTENCES, tiny_recipe, write_recipe, write_tiny_corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny en>de (reversal) + en>parse model, trained until it is right."""
    root = tmp_path_factory.mktemp("trained")
    data = write_tiny_corpus(root / "data")
    raw = tiny_recipe(data)
    raw["train"].update(max_steps=300, lr=3e-3, warmup=10, lr_schedule="constant")
    raw["valid"].update(every=150)
    recipe = write_recipe(root / "r.yaml", raw)
    assert main(["train", str(recipe), "--run-dir", str(root / "run")]) == 0
    return recipe, root / "run" / "checkpoint_best.pt"


def run_translate(args: list[str], stdin: str, capsys: pytest.CaptureFixture,
                  monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8"))))
    code = main(["translate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_translate_keeps_order_and_empty_lines(trained, capsys, monkeypatch) -> None:
    _, ckpt = trained
    lines = [SENTENCES[i % 4] if i % 7 else "" for i in range(1000)]
    code, out, _ = run_translate(["--checkpoint", str(ckpt), "--task", "en>de", "--beam", "2"],
                                 "\n".join(lines) + "\n", capsys, monkeypatch)
    got = out.split("\n")[:-1]
    assert code == 0 and len(got) == 1000
    expected = [" ".join(line.split()[::-1]) for line in lines]
    assert got == expected  # the model learned reversal; every line in its place, blanks blank


def test_translate_any_encoder_with_any_decoder(trained, capsys, monkeypatch) -> None:
    _, ckpt = trained
    code, out, _ = run_translate(["--checkpoint", str(ckpt), "--encoder", "en", "--decoder",
                                  "parse", "--beam", "3", "--n-best", "2"], "a dog runs\n",
                                 capsys, monkeypatch)
    rows = [line.split("\t") for line in out.strip().split("\n")]
    assert code == 0 and len(rows) == 2 and rows[0][1] == "(S XX XX XX )S"
    assert float(rows[0][2]) >= float(rows[1][2])
    code, _, err = run_translate(["--checkpoint", str(ckpt), "--encoder", "de", "--decoder",
                                  "parse"], "x\n", capsys, monkeypatch)
    assert code == 2 and "has no encoder for slot 'de' (encoders: en" in err
    code, _, err = run_translate(["--checkpoint", str(ckpt), "--task", "en>fr"], "x\n",
                                 capsys, monkeypatch)
    assert code == 2 and "no task 'en>fr' in the checkpoint" in err
    code, _, err = run_translate(["--checkpoint", str(ckpt), "--task", "en>de", "--beam", "2",
                                  "--n-best", "3"], "x\n", capsys, monkeypatch)
    assert code == 2 and "need 1 <= n-best <= beam" in err


def test_evaluate_writes_table_and_json(trained, capsys) -> None:
    recipe, ckpt = trained
    assert main(["evaluate", str(recipe), "--checkpoint", str(ckpt), "--split", "test"]) == 0
    table = capsys.readouterr().out
    assert "en>de" in table and "bleu" in table and "tree_f1" in table
    report = json.loads(ckpt.with_name("checkpoint_best.test.scores.json").read_text())
    scores = {s["task"]: s for s in report["scores"]}
    assert scores["en>de"]["score"] == pytest.approx(100.0)
    assert scores["en>parse"]["score"] == pytest.approx(100.0)
    assert scores["en>de"]["sentences"] == 40 and "version:" in scores["en>de"]["signature"]
    assert main(["evaluate", str(recipe), "--checkpoint", str(ckpt), "--tasks", "en>xx"]) == 2
