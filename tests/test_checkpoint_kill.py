"""Crashes lose nothing: a saver killed with SIGKILL at random moments always leaves a complete
checkpoint (the old one or the new one), and a trainer's checkpoint is plain data (weights_only)."""
from __future__ import annotations

import datetime
import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mtseq2seq import checkpoint
from tests.conftest import tiny_recipe, write_recipe

KILLS = 20
SIZE = 1 << 20  # floats per content: a 4 MB checkpoint


def contents() -> list[torch.Tensor]:
    """The two contents the saver alternates between (step parity says which)."""
    base = torch.arange(SIZE, dtype=torch.float32)
    return [base, base.flip(0) * 2 + 1]


def make_state(step: int, blocks: list[torch.Tensor]) -> dict:
    kind = step % 2
    return {"format": checkpoint.FORMAT, "step": step, "kind": kind,
            "model": {"w": blocks[kind], "b": torch.full((7,), float(step))},
            "recipe": {"name": f"step {step}"}}


def saver(folder: str, start: int, blocks: list[torch.Tensor]) -> None:
    """Save forever (the test kills it): checkpoint_last.pt each step, a copy to best every 3rd."""
    step = start
    last, best = Path(folder) / "checkpoint_last.pt", Path(folder) / "checkpoint_best.pt"
    while True:
        step += 1
        checkpoint.save_atomic(make_state(step, blocks), last)
        if step % 3 == 0:
            checkpoint.copy_atomic(last, best)


def check_complete(path: Path, blocks: list[torch.Tensor]) -> int:
    """Load ``path`` as a user would; assert it is whole and one of the valid contents."""
    state = checkpoint.load(path)
    step, kind = state["step"], state["kind"]
    assert kind == step % 2 and state["recipe"] == {"name": f"step {step}"}
    assert torch.equal(state["model"]["w"], blocks[kind])
    assert torch.equal(state["model"]["b"], torch.full((7,), float(step)))
    return step


# A helper process imports torch (and this module) once, then forks one saver per round, so a
# fresh saver is saving within milliseconds; the test SIGKILLs each saver by its pid.
HELPER = """
import os, sys
from tests.test_checkpoint_kill import contents, saver
blocks = contents()
for line in sys.stdin:
    command, number = line.split()
    if command == "start":
        pid = os.fork()
        if pid == 0:
            try:
                saver(sys.argv[1], int(number), blocks)
            finally:
                os._exit(1)
        print(pid, flush=True)
    else:
        print(os.waitpid(int(number), 0)[1], flush=True)
"""


def test_sigkill_while_saving_leaves_a_complete_checkpoint(tmp_path: Path) -> None:
    blocks, rng = contents(), random.Random(20240501)
    last, best = tmp_path / "checkpoint_last.pt", tmp_path / "checkpoint_best.pt"
    checkpoint.save_atomic(make_state(0, blocks), last)
    checkpoint.copy_atomic(last, best)
    root = Path(__file__).resolve().parent.parent
    helper = subprocess.Popen([sys.executable, "-c", HELPER, str(tmp_path)], cwd=root, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(root)})
    step, started, pid = 0, time.monotonic(), 0
    try:
        for _ in range(KILLS):
            helper.stdin.write(f"start {step}\n")
            helper.stdin.flush()
            pid = int(helper.stdout.readline())
            time.sleep(rng.uniform(0.005, 0.15))
            os.kill(pid, signal.SIGKILL)
            helper.stdin.write(f"reap {pid}\n")
            helper.stdin.flush()
            status, pid = int(helper.stdout.readline()), 0
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            newer = check_complete(last, blocks)
            assert newer >= step  # never rolled back
            step = newer
            assert check_complete(best, blocks) <= step
    finally:
        if pid:  # a round that failed half-way must not leave a saver running
            os.kill(pid, signal.SIGKILL)
        helper.stdin.close()
        helper.wait(timeout=10)
    assert step >= KILLS // 2, "the saver hardly ran between kills"
    assert time.monotonic() - started < 30
    check_leftovers(tmp_path, [best, last])


def check_leftovers(folder: Path, checkpoints: list[Path]) -> None:
    """Kills mid-write leave hidden *.tmp files that no checkpoint pattern matches; they go."""
    leftovers = sorted(p for p in folder.iterdir() if p not in checkpoints)
    assert leftovers, "no kill landed mid-write"  # the saver is almost always inside a save
    for tmp in leftovers:
        assert tmp.name.startswith(".") and tmp.name.endswith(".tmp"), tmp
        assert not tmp.match("checkpoint*.pt") and not tmp.match("*.pt")
    assert sorted(folder.glob("checkpoint*.pt")) == sorted(checkpoints)
    assert sorted(checkpoint.remove_stale_tmp(folder)) == leftovers
    assert sorted(folder.iterdir()) == sorted(checkpoints)


def test_trainer_checkpoint_is_plain_data(tiny_corpus: Path, tmp_path: Path) -> None:
    from mtseq2seq.build.prepare import prepare
    from mtseq2seq.build.trainer import build_trainer
    from mtseq2seq.recipe.loader import load_recipe  # here, not above: the savers import this module

    run = tmp_path / "run"
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_recipe(tiny_corpus)),
                         run_dir=str(run))
    run.mkdir()
    trainer = build_trainer(recipe, run, prepare(recipe, run))
    trainer.train()  # 4 updates, validated (and decoded) twice: every part of the state is filled
    state = trainer.state_dict()
    assert checkpoint.not_plain(state) is None
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=True)
    assert set(again) == set(state) and again["best_report"] == state["best_report"]
    for key, value in state["model"].items():
        assert torch.equal(again["model"][key], value)
    on_disk = torch.load(run / "checkpoint_last.pt", weights_only=True)
    assert on_disk["step"] == 4 and set(on_disk) == set(state)
    assert checkpoint.load(run / "checkpoint_best.pt")["step"] in (2, 4)


def test_save_refuses_state_that_is_not_plain_data(tmp_path: Path) -> None:
    state = {"format": checkpoint.FORMAT, "model": {}, "recipe": {"name": datetime.date(2024, 5, 1)}}
    with pytest.raises(TypeError, match=r"not plain data at state\['recipe'\]\['name'\] "
                                        r"\(datetime.date\)"):
        checkpoint.save_atomic(state, tmp_path / "c.pt")
    assert not list(tmp_path.iterdir())  # nothing written, no temporary file left
