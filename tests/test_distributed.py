"""Training in several processes on CPU (gloo, loopback): the ranks stay identical, equal one
process training the union of their batches, leave untouched modules alone, stop together and
resume exactly, and torchrun's several-machine rendezvous trains the same run."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mtseq2seq.distributed import Ranks, backend_for, device_for, ranks_from_env
from mtseq2seq.errors import UserError
from tests.conftest import tiny_recipe, without_key_biases, write_recipe

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("dist_worker.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rank_env(rank: int, world: int, port: int) -> dict[str, str]:
    """What torchrun gives each worker, on this machine."""
    return {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT)}


def start(command: list[str], world: int, cwd: Path) -> list[subprocess.Popen]:
    port = free_port()
    return [subprocess.Popen(command, cwd=cwd, env=rank_env(rank, world, port),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for rank in range(world)]


def finish(procs: list[subprocess.Popen], timeout: float = 240) -> list[tuple[int, str]]:
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout)
        results.append((proc.returncode, out))
    return results


def recipe_file(tmp_path: Path, tiny_corpus: Path, **train) -> Path:
    """Two tasks on one shared encoder (en) and a decoder each; a first stage of en>de alone."""
    raw = tiny_recipe(tiny_corpus)
    raw["train"].update({"max_steps": 8, "batch_tokens": 60, "lr": 3e-3, "log_every": 1,
                         "threads": 1, **train})
    raw["valid"] = {"every": 4, "decode": False}
    raw["stages"] = {"de_only": {"max_steps": 3, "tasks": ["en>de"]},
                     "both": {"max_steps": train.get("max_steps", 8) - 3}}
    del raw["train"]["max_steps"]
    return write_recipe(tmp_path / "dist.yaml", raw)


def worker(recipe: Path, run_dir: Path, out: Path, world: int, union: int = 0):
    command = [sys.executable, str(WORKER), str(recipe), str(run_dir), str(out)]
    if union:
        command += ["--union", str(union)]
    results = finish(start(command, world, ROOT))
    for code, text in results:
        assert code == 0, text[-3000:]
    return [torch.load(out / f"rank{r}.pt") for r in range(world)]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory):
    """A 2-rank run and the one-process run over the union of its batches (same recipe)."""
    from tests.conftest import write_tiny_corpus

    tmp = tmp_path_factory.mktemp("dist")
    recipe = recipe_file(tmp, write_tiny_corpus(tmp / "data"))
    ranks = worker(recipe, tmp / "run2", tmp / "out2", world=2)
    union = worker(recipe, tmp / "run1", tmp / "out1", world=1, union=2)[0]
    return ranks, union, tmp


def test_both_ranks_hold_the_same_parameters_after_training(two_ranks) -> None:
    (rank0, rank1), _, _ = two_ranks
    assert rank0["step"] == rank1["step"] == 8
    for name, value in rank0["after"].items():
        assert torch.equal(value, rank1["after"][name]), name
    assert any(not torch.equal(v, rank0["before"][k]) for k, v in rank0["after"].items())


def test_two_ranks_equal_one_process_over_the_union_of_their_batches(two_ranks) -> None:
    (rank0, _), union, _ = two_ranks
    moved = 0
    for name, value in rank0["after"].items():
        value = without_key_biases(name, value)
        reference = without_key_biases(name, union["after"][name])
        scale = reference.abs().max().clamp_min(1e-12)
        assert float((value - reference).abs().max() / scale) < 1e-5, name
        moved += not torch.equal(reference, without_key_biases(name, union["before"][name]))
    assert moved > 0  # the comparison is over weights that trained


def test_a_module_no_task_touched_stays_bitwise_unchanged(two_ranks) -> None:
    """Stage 1 trains en>de only: the parse decoder takes no part in its updates (no error for
    unused parameters), and is trained in stage 2 identically on both ranks."""
    (rank0, rank1), _, tmp = two_ranks
    stage = torch.load(tmp / "run2" / "checkpoint_stage_de_only.pt", weights_only=False)
    parse = [k for k in rank0["before"] if k.startswith("decoders.parse.")]
    assert parse
    for key in parse:
        assert torch.equal(stage["model"][key], rank0["before"][key]), key
    assert any(not torch.equal(rank0["after"][k], rank0["before"][k]) for k in parse)
    assert any(not torch.equal(stage["model"][k], rank0["before"][k])
               for k in rank0["before"] if k.startswith("decoders.de."))


def wait_for_updates(run: Path, count: int, timeout: float = 120) -> None:
    """Until rank 0 has logged ``count`` updates (loss lines: `log_every` is 1)."""
    metrics, deadline = run / "metrics.jsonl", time.time() + timeout
    while time.time() < deadline and not (metrics.is_file() and
                                          metrics.read_text().count('"split": "train"') >= count):
        time.sleep(0.05)


def train_command(recipe: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mtseq2seq", "train", str(recipe), "--run-dir", str(run_dir),
            *extra]


def weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoint_last.pt", weights_only=False)


def test_stop_on_one_rank_then_resume_equals_an_uninterrupted_run(tiny_corpus: Path,
                                                                  tmp_path: Path) -> None:
    recipe = recipe_file(tmp_path, tiny_corpus, max_steps=400)
    whole = finish(start(train_command(recipe, tmp_path / "whole"), 2, tmp_path))
    assert [code for code, _ in whole] == [0, 0], whole[0][1][-3000:]
    run = tmp_path / "stopped"
    procs = start(train_command(recipe, run), 2, tmp_path)
    wait_for_updates(run, 8)
    procs[1].send_signal(signal.SIGTERM)  # one rank only
    stopped = finish(procs)
    assert [code for code, _ in stopped] == [143, 143], stopped[0][1][-3000:]
    assert "--resume" in stopped[0][1]
    step = weights(run)["step"]
    assert 8 <= step < 400
    resumed = finish(start(train_command(recipe, run, "--resume"), 2, tmp_path))
    assert [code for code, _ in resumed] == [0, 0], resumed[0][1][-3000:]
    assert f"continuing from {run / 'checkpoint_last.pt'} at step {step}" in resumed[0][1]
    a, b = weights(tmp_path / "whole"), weights(run)
    assert a["step"] == b["step"] == 400
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert len(b["ranks"]) == 2


def test_two_single_process_nodes_train_together_through_torchrun(tiny_corpus: Path,
                                                                  tmp_path: Path) -> None:
    recipe = recipe_file(tmp_path, tiny_corpus)
    reference = finish(start(train_command(recipe, tmp_path / "env"), 2, tmp_path))
    assert [code for code, _ in reference] == [0, 0], reference[0][1][-3000:]
    port, run = free_port(), tmp_path / "nodes"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(node),
         "--nproc_per_node", "1", "--master_addr", "127.0.0.1", "--master_port", str(port),
         "-m", "mtseq2seq", "train", str(recipe), "--run-dir", str(run)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for node in range(2)]
    results = finish(nodes)
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:]
    assert "2 processes" in (run / "train.log").read_text()
    a, b = weights(tmp_path / "env"), weights(run)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_a_crashed_rank_makes_the_other_exit_with_a_clear_message(tiny_corpus: Path,
                                                                  tmp_path: Path) -> None:
    recipe = recipe_file(tmp_path, tiny_corpus, max_steps=5000, dist_timeout=60)
    run = tmp_path / "run"
    procs = start(train_command(recipe, run), 2, tmp_path)
    wait_for_updates(run, 4)
    procs[1].kill()
    started = time.time()
    (code, out), _ = finish(procs, timeout=120)
    assert code == 2 and "rank 0 of 2: lost contact with the other ranks" in out, out[-3000:]
    assert time.time() - started < 90


def test_ranks_come_from_torchruns_environment() -> None:
    assert ranks_from_env({}) == Ranks()
    assert ranks_from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Ranks(1, 4, 1)
    with pytest.raises(UserError, match="RANK=4 with WORLD_SIZE=4"):
        ranks_from_env({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(UserError, match="WORLD_SIZE='two'"):
        ranks_from_env({"RANK": "0", "WORLD_SIZE": "two"})


def test_the_gpu_path_picks_nccl_and_the_local_gpu() -> None:
    """What a GPU run would choose, checked without a GPU."""
    assert backend_for("auto", torch.device("cuda", 1)) == "nccl"
    assert backend_for("auto", torch.device("cpu")) == "gloo"
    assert backend_for("gloo", torch.device("cuda", 0)) == "gloo"
    assert device_for("cuda", Ranks(3, 4, 1)) == torch.device("cuda", 1)
    assert device_for("cuda:0", Ranks(3, 4, 1)) == torch.device("cuda", 0)  # as the user said
    assert device_for("cpu", Ranks(3, 4, 1)) == torch.device("cpu")
