"""The set of checkpoint files stays consistent under a SIGKILL between any two of its writes.

A run is killed (through the checkpoint module's test hook, not timing luck) just before its k-th
checkpoint write, for every k until a run finishes unkilled. After each kill, every best file that
`checkpoint_last.pt` records (overall and per task) holds that step's weights on disk, in place or in
the pending copy that resuming puts in place; the resumed run then ends exactly as an uninterrupted
one, and its final test report names the step whose weights it tested.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import torch

from mtseq2seq import checkpoint, saving
from tests.conftest import tiny_recipe, write_recipe

# One process imports everything once and forks a child per run, so a run starts in milliseconds.
SERVER = """
import os, sys
from mtseq2seq.__main__ import main
import mtseq2seq.commands, mtseq2seq.trainer, mtseq2seq.resume  # loaded before forking
if len(sys.argv) > 1:  # one run here first (one thread): the children start warm
    import contextlib
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        main(sys.argv[1:])
for line in sys.stdin:
    kill_at, log, *argv = line.rstrip("\\n").split("\\t")
    pid = os.fork()
    if pid == 0:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1), os.dup2(out, 2)
        mtseq2seq.checkpoint._writes = 0  # the warm-up run counted its writes
        if kill_at != "0":
            os.environ["MTSEQ2SEQ_TEST_KILL_BEFORE_WRITE"] = kill_at
        code = 1
        try:
            code = main(argv)
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os._exit(code)
    print(os.waitpid(pid, 0)[1], flush=True)
"""


class Runs:
    """Sends `mtseq2seq` command lines to the forking server; returns (wait status, output)."""

    def __init__(self, root: Path, logs: Path, warm_up: list[str]) -> None:
        self.logs, self.count = logs, 0
        self.server = subprocess.Popen([sys.executable, "-c", SERVER, *warm_up], cwd=root,
                                       text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL,
                                       env={**os.environ, "PYTHONPATH": str(root)})

    def __call__(self, argv: list[str], kill_at: int = 0) -> tuple[int, str]:
        self.count += 1
        log = self.logs / f"run{self.count}.log"
        self.server.stdin.write("\t".join([str(kill_at), str(log), *argv]) + "\n")
        self.server.stdin.flush()
        status = int(self.server.stdout.readline())
        return status, log.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(timeout=30)


def claims(run_dir: Path) -> dict[str, int]:
    """File name -> step, for every best file that checkpoint_last.pt's tracker names."""
    record = saving.read_record(run_dir / saving.LAST)
    if record is None:
        return {}
    tracker = record["tracker"]
    named = {saving.best_task_name(task): step for task, (_, step) in tracker["task_best"].items()}
    if tracker["best_step"] is not None:
        named[saving.BEST] = tracker["best_step"]
    return named


def holds(path: Path, step: int, reference: dict[int, dict]) -> bool:
    if not path.is_file():
        return False
    state = checkpoint.load(path)
    return state["step"] == step and all(torch.equal(value, reference[step][key])
                                         for key, value in state["model"].items())


def test_sigkill_between_any_two_checkpoint_writes(tmp_path: Path, tiny_corpus: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update(max_steps=6, lr=3e-3, threads=1, keep_last=10)
    raw["valid"].update(every=2, decode=False)  # token accuracy selects: fast, and it moves
    recipe = str(write_recipe(tmp_path / "r.yaml", raw))
    runs = Runs(Path(__file__).resolve().parent.parent, tmp_path,
                ["train", recipe, "--run-dir", str(tmp_path / "warm")])
    try:
        status, _ = runs(["train", recipe, "--run-dir", str(tmp_path / "ref")])
        assert status == 0
        reference = {s: checkpoint.load(tmp_path / "ref" / f"checkpoint_step{s}.pt")["model"]
                     for s in (2, 4, 6)}
        final = claims(tmp_path / "ref")
        # both tasks and the mean are recorded, and not all at one step: a record older than
        # the last validation (a task that stopped improving) is part of what is checked
        assert len(final) == 3 and len(set(final.values())) >= 2, final
        kills = check_every_kill(runs, recipe, tmp_path, reference, final)
    finally:
        runs.close()
    assert kills >= 15  # 3 validations, each writing several files: every gap was hit


def check_every_kill(runs: Runs, recipe: str, tmp_path: Path, reference: dict[int, dict],
                     final: dict[str, int]) -> int:
    """Kill before write 1, 2, ... until a run finishes unkilled; checks after each; the count."""
    kill_at = 0
    while True:
        kill_at += 1
        run_dir = tmp_path / f"k{kill_at}"
        status, _ = runs(["train", recipe, "--run-dir", str(run_dir)], kill_at)
        if status == 0:
            return kill_at - 1
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        for name, step in claims(run_dir).items():
            path = run_dir / name
            assert holds(path, step, reference) or holds(saving.pending(path), step, reference), \
                f"kill before write {kill_at}: {name} is recorded as step {step}, not on disk"
        status, out = runs(["train", recipe, "--run-dir", str(run_dir)])
        assert status == 0, out
        check_finished(run_dir, reference, final, out, kill_at)


def check_finished(run_dir: Path, reference: dict[int, dict], final: dict[str, int], out: str,
                   kill_at: int) -> None:
    """The resumed run ends as the uninterrupted one and tests the weights it names."""
    assert claims(run_dir) == final, f"kill before write {kill_at}"
    for name, step in final.items():
        assert holds(run_dir / name, step, reference), f"kill before write {kill_at}: {name}"
    assert not list(run_dir.glob(".*.pending")), "a pending copy was left in place"
    named = re.search(r"test scores of the best checkpoint \(.*, step (\d+)\)", out)
    assert named and int(named.group(1)) == final[saving.BEST], out
    report = json.loads((run_dir / "checkpoint_best.test.scores.json").read_text())
    assert report["step"] == final[saving.BEST]
