"""Command-line traps: `en-de` for `en>de`, conflicting translate flags, n-best rows for empty
lines, the zero-shot notice, invalid UTF-8 on stdin, --version, and graph without --run-dir."""
from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pytest

import mtseq2seq
from mtseq2seq.__main__ import main
from mtseq2seq.errors import UserError
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.task_names import canonical_task
from tests.conftest import tiny_recipe, write_recipe, write_tiny_corpus

ALIASES = ["en>de", "en-de", "en:de"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A briefly trained en>de + de>parse model: en>parse is a zero-shot pair."""
    root = tmp_path_factory.mktemp("traps")
    data = write_tiny_corpus(root / "data")
    raw = tiny_recipe(data, encoders={"en": {}, "de": {}},
                      tasks={"en>de": {"kind": "translation", "encoder": "en", "decoder": "de"},
                             "de>parse": {"kind": "parsing", "encoder": "de", "decoder": "parse"}})
    raw["train"].update(max_steps=100, lr=3e-3, warmup=5, lr_schedule="constant")
    raw["valid"].update(every=100, decode=False)
    recipe = write_recipe(root / "r.yaml", raw)
    assert main(["train", str(recipe), "--run-dir", str(root / "run")]) == 0
    return recipe, root / "run" / "checkpoint_last.pt"


def translate(args: list[str], stdin: bytes, capsys: pytest.CaptureFixture,
              monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(["translate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_canonical_task_literal_alias_and_ambiguity() -> None:
    assert canonical_task("en-de", ["en>de", "en>parse"]) == "en>de"
    assert canonical_task("en:de", ["en>de"]) == "en>de"
    assert canonical_task("en-de", ["en>de", "en-de"]) == "en-de"  # a literal name wins
    assert canonical_task("en-fr", ["en>de"]) is None
    assert canonical_task("en-US:de", ["en-US>de", "en>US-de"]) == "en-US>de"
    with pytest.raises(UserError, match="ambiguous: it can mean en-US>de, en>US-de"):
        canonical_task("en-US-de", ["en-US>de", "en>US-de"])


def test_set_and_valid_name_tasks_by_alias(trained) -> None:
    recipe, _ = trained
    for alias in ALIASES:
        loaded = load_recipe(recipe, [f"tasks.{alias}.ratio=3", f"valid.select={alias}",
                                      f"valid.weights={{'{alias}': 2}}"])
        assert list(loaded.tasks) == ["en>de", "de>parse"]  # changed, not added
        assert loaded.tasks["en>de"].ratio == 3.0 and loaded.tasks["de>parse"].ratio == 1.0
        assert loaded.valid.select == "en>de" and loaded.valid.weights == {"en>de": 2}
    with pytest.raises(UserError, match="the task en>de has a weight already"):
        load_recipe(recipe, ["valid.weights={en-de: 1, 'en>de': 2}"])
    with pytest.raises(UserError, match=r"valid.select: got 'en-fr'.*en>de can also be written"):
        load_recipe(recipe, ["valid.select=en-fr"])


def test_graph_shows_set_on_alias_and_refuses_run_dir(trained, capsys) -> None:
    recipe, _ = trained
    capsys.readouterr()
    assert main(["graph", str(recipe), "--set", "tasks.en-de.ratio=4"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if "ratio" in line]
    assert [(r[0], r[-1]) for r in rows] == [("en>de", "4"), ("de>parse", "1")]
    with pytest.raises(SystemExit) as exit_:
        main(["graph", str(recipe), "--run-dir", "x"])
    assert exit_.value.code == 2 and "unrecognized arguments: --run-dir" in capsys.readouterr().err


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"mtseq2seq {mtseq2seq.__version__}\n"


def test_translate_task_aliases_agree(trained, capsys, monkeypatch) -> None:
    _, ckpt = trained
    outputs = []
    for alias in ALIASES:
        code, out, err = translate(["--checkpoint", str(ckpt), "--task", alias, "--beam", "2"],
                                   b"a dog runs\nthe cat sees a dog\n", capsys, monkeypatch)
        assert code == 0, err
        outputs.append(out)
    assert len(outputs[0].split("\n")) == 3 and outputs[0] == outputs[1] == outputs[2]
    code, _, err = translate(["--checkpoint", str(ckpt), "--task", "en-fr"], b"x\n", capsys,
                             monkeypatch)
    assert code == 2 and "no task 'en-fr' in the checkpoint (tasks: en>de, de>parse); en>de " \
        "can also be written en-de" in err


def test_evaluate_tasks_alias(trained, capsys) -> None:
    recipe, ckpt = trained
    for alias in ("en-de", "en:de"):
        capsys.readouterr()
        assert main(["evaluate", str(recipe), "--checkpoint", str(ckpt), "--split", "valid",
                     "--tasks", alias]) == 0
        table = capsys.readouterr().out
        assert "en>de" in table and "de>parse" not in table
        report = json.loads(ckpt.with_name("checkpoint_last.valid.scores.json").read_text())
        assert [s["task"] for s in report["scores"]] == ["en>de"]


def test_translate_refuses_task_with_pair(capsys, monkeypatch, tmp_path) -> None:
    missing = str(tmp_path / "none.pt")  # the flags are checked before the checkpoint is read
    code, _, err = translate(["--checkpoint", missing, "--task", "en-de", "--encoder", "en"],
                             b"x\n", capsys, monkeypatch)
    assert code == 2 and "--task en-de --encoder en: name either --task or --encoder/--decoder" \
        in err
    code, _, err = translate(["--checkpoint", missing, "--encoder", "en"], b"x\n", capsys,
                             monkeypatch)
    assert code == 2 and "--encoder en: also name the --decoder slot" in err
    code, _, err = translate(["--checkpoint", missing, "--decoder", "de"], b"x\n", capsys,
                             monkeypatch)
    assert code == 2 and "--decoder de: also name the --encoder slot" in err


def test_n_best_keeps_a_row_for_empty_lines(trained, capsys, monkeypatch) -> None:
    _, ckpt = trained
    stdin = b"a dog runs\n\nthe cat sees a dog\n\n"
    base = ["--checkpoint", str(ckpt), "--task", "en-de", "--beam", "2"]
    code, best, _ = translate(base, stdin, capsys, monkeypatch)
    assert code == 0 and best.split("\n")[1] == best.split("\n")[3] == ""
    code, out, _ = translate([*base, "--n-best", "2"], stdin, capsys, monkeypatch)
    rows = [line.split("\t") for line in out.rstrip("\n").split("\n")]
    assert code == 0 and [r[0] for r in rows] == ["0", "0", "1", "2", "2", "3"]
    assert rows[2] == ["1", "", ""] and rows[5] == ["3", "", ""]
    assert [rows[0][1], rows[3][1]] == [best.split("\n")[0], best.split("\n")[2]]
    assert float(rows[0][2]) >= float(rows[1][2])


def test_zero_shot_notice_once(trained, capsys, monkeypatch, caplog) -> None:
    _, ckpt = trained
    with caplog.at_level(logging.WARNING, logger="mtseq2seq"):
        code, out, _ = translate(["--checkpoint", str(ckpt), "--encoder", "en", "--decoder",
                                  "parse", "--beam", "1"], b"a dog runs\nthe cat\n\n", capsys,
                                 monkeypatch)
    notes = [r.getMessage() for r in caplog.records if "zero-shot" in r.getMessage()]
    assert code == 0 and len(out.split("\n")) == 4
    assert len(notes) == 1 and "no task trained encoder 'en' with decoder 'parse'" in notes[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mtseq2seq"):
        code, _, _ = translate(["--checkpoint", str(ckpt), "--encoder", "en", "--decoder", "de",
                                "--beam", "1"], b"a dog runs\n", capsys, monkeypatch)
    assert code == 0 and not [r for r in caplog.records if "zero-shot" in r.getMessage()]


def test_invalid_utf8_writes_lines_before_then_fails(trained, capsys, monkeypatch, caplog) -> None:
    _, ckpt = trained
    stdin = b"a dog runs\nthe cat sees a dog\nbad \xff line\na bird sings loudly\n\xfe\n"
    base = ["--checkpoint", str(ckpt), "--task", "en>de", "--beam", "1"]
    with caplog.at_level(logging.WARNING, logger="mtseq2seq"):
        code, skipped, _ = translate([*base, "--skip-bad-lines"], stdin, capsys, monkeypatch)
    got = skipped.split("\n")
    assert code == 0 and len(got) == 6 and got[2] == got[4] == "" and got[5] == ""
    assert got[0] and got[1] and got[3]
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "<stdin>, line 3: not valid UTF-8" in warned and "<stdin>, line 5:" in warned
    code, out, err = translate(base, stdin, capsys, monkeypatch)
    assert code == 2 and out == "\n".join(got[:2]) + "\n"
    assert "<stdin>, line 3: not valid UTF-8 (byte 0xff at column 5)" in err
