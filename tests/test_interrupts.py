"""Stops and late errors: every split checked before the first update, a stop during validation
saved within one batch, a second signal without a traceback, and no records repeated on resume."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import mtseq2seq.validate as validate_module
from mtseq2seq import checkpoint
from mtseq2seq.__main__ import main
from mtseq2seq.interrupt import StopNow, StopRequest
from tests.conftest import tiny_recipe, write_recipe


def recipe_file(tiny_corpus: Path, tmp_path: Path, train: dict | None = None,
                valid: dict | None = None) -> Path:
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update(lr=3e-3, **(train or {}))
    raw["valid"].update(valid or {})
    return write_recipe(tmp_path / "r.yaml", raw)


def test_a_broken_test_split_fails_before_the_first_update(tiny_corpus: Path, tmp_path: Path,
                                                           capsys) -> None:
    lines = (tiny_corpus / "test.de").read_text().splitlines()
    (tiny_corpus / "test.de").write_text("\n".join(lines[:-1]) + "\n")
    (tiny_corpus / "valid.parse").write_bytes(b"(S XX )S\n\xff\n")
    run = tmp_path / "run"
    assert main(["train", str(recipe_file(tiny_corpus, tmp_path)), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "tasks.en>de.test: parallel files differ in length" in err and "has 39" in err
    assert "tasks.en>parse.valid:" in err and "line 2: not valid UTF-8" in err  # both at once
    assert not (run / "metrics.jsonl").exists() and not list(run.glob("checkpoint*"))


def test_resume_without_a_checkpoint_fails_before_vocabularies(tiny_corpus: Path, tmp_path: Path,
                                                               capsys) -> None:
    run = tmp_path / "run"
    path = recipe_file(tiny_corpus, tmp_path)
    assert main(["train", str(path), "--run-dir", str(run), "--resume"]) == 2
    assert "--resume: no" in capsys.readouterr().err
    assert not (run / "vocab").exists()


def test_a_stop_during_validation_saves_within_one_batch(tiny_corpus: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = recipe_file(tiny_corpus, tmp_path, {"max_steps": 4, "batch_tokens": 60},
                       {"every": 2})
    run, seen = tmp_path / "run", {"batches": 0, "after_stop": 0}
    real_batches = validate_module.bucket_batches

    def batches(*args, **kwargs):  # validation's batches, drawn one at a time
        for rows in real_batches(*args, **kwargs):
            seen["batches"] += 1
            if seen["batches"] == 2:
                os.kill(os.getpid(), signal.SIGINT)  # arrives as this batch is being validated
            elif seen["batches"] > 2:
                seen["after_stop"] += 1
            yield rows

    monkeypatch.setattr(validate_module, "bucket_batches", batches)
    assert main(["train", str(path), "--run-dir", str(run)]) == 130
    assert seen["after_stop"] == 0  # no batch was started once the stop had come
    state = checkpoint.load(run / "checkpoint_last.pt")
    assert state["step"] == 2 and state["pending_validation"]
    assert not list(run.glob("checkpoint_best*.pt"))
    monkeypatch.setattr(validate_module, "bucket_batches", real_batches)
    assert main(["train", str(path), "--run-dir", str(run), "--resume"]) == 0
    valid = [r for r in read_records(run) if r["split"] == "valid"]
    assert sorted({r["step"] for r in valid}) == [2, 4]  # step 2 was validated on resume
    assert checkpoint.load(run / "checkpoint_best.pt")["tracker"]["best_step"] in (2, 4)


def test_second_signal_stops_at_once_without_a_traceback() -> None:
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested == "SIGINT"
        with pytest.raises(StopNow):
            os.kill(os.getpid(), signal.SIGINT)


SLOW_SAVE = """
import sys, time
import mtseq2seq.saving as saving
def slow_save(*args, **kwargs):
    print("SAVING", file=sys.stderr, flush=True)
    time.sleep(60)
saving.save_last = slow_save
from mtseq2seq.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_second_sigint_in_a_process_exits_130_without_a_traceback(tiny_corpus: Path,
                                                                  tmp_path: Path) -> None:
    path = recipe_file(tiny_corpus, tmp_path, {"max_steps": 100000}, {"every": 1000000})
    process = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, "train", str(path),
                                "--run-dir", str(tmp_path / "run")], stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    try:
        err = wait_for(process, "/100000: ")  # a loss line: the updates are under way
        process.send_signal(signal.SIGINT)
        err += wait_for(process, "SAVING")  # the first stop is saving (slowly, on purpose)
        process.send_signal(signal.SIGINT)
        err += process.communicate(timeout=60)[1]
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "stopped at once by SIGINT" in err


def wait_for(process: subprocess.Popen, text: str, timeout: float = 60) -> str:
    """stderr lines up to and including the first that holds ``text``."""
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = process.stderr.readline()
        assert line, f"the process ended before printing {text!r}: {''.join(seen)}"
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no {text!r} within {timeout} s")


def read_records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_redoes_steps_without_repeating_their_records(tiny_corpus: Path,
                                                             tmp_path: Path) -> None:
    path = recipe_file(tiny_corpus, tmp_path, {"max_steps": 10, "log_every": 1, "keep_last": 2},
                       {"every": 5})
    run = tmp_path / "run"
    assert main(["train", str(path), "--run-dir", str(run)]) == 0
    shutil.copy(run / "checkpoint_step5.pt", run / "checkpoint_last.pt")  # a crash lost 6-10
    assert main(["train", str(path), "--run-dir", str(run)]) == 0
    records = read_records(run)
    keys = Counter((r["step"], r["split"], r.get("task"), r.get("event")) for r in records)
    assert [key for key, count in keys.items() if count > 1] == []
    assert {r["step"] for r in records if r["split"] == "train"} == set(range(1, 11))
    assert all(isinstance(r["time"], float) and r["time"] > 1.7e9 for r in records)
    train = [r for r in records if r["split"] == "train"]
    assert all(r["tokens_per_s"] > 0 and r["elapsed_s"] >= 0 for r in train)


def test_a_stop_during_the_test_decoding_lands_between_batches(
        tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import mtseq2seq.evaluate as evaluate_module

    path = recipe_file(tiny_corpus, tmp_path, {"max_steps": 2, "batch_tokens": 60},
                       {"every": 2, "decode": False})  # so only the final test decodes
    seen = {"batches": 0}
    real_batches = evaluate_module.bucket_batches

    def batches(*args, **kwargs):  # the test decoding's batches, drawn one at a time
        for rows in real_batches(*args, **kwargs):
            seen["batches"] += 1
            if seen["batches"] == 1:
                os.kill(os.getpid(), signal.SIGTERM)
            yield rows

    monkeypatch.setattr(evaluate_module, "bucket_batches", batches)
    run = tmp_path / "run"
    assert main(["train", str(path), "--run-dir", str(run)]) == 143
    assert seen["batches"] == 1  # the stop came in the first batch; no second one started
    err = capsys.readouterr().err
    assert "during the test decoding" in err and "mtseq2seq evaluate" in err
    assert checkpoint.load(run / "checkpoint_best.pt")["step"] == 2
    assert not (run / "checkpoint_best.test.scores.json").exists()
