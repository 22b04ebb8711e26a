"""Training speed in one process and in several (torchrun, gloo on CPU or NCCL on GPUs), and the
share of a step spent in collectives.

    python bench/distributed_speed.py [--steps 300] [--recipe recipes/toy/one_to_many.yaml]
                                      [--device cpu|cuda] [--no-record]

Runs the recipe's training for ``--steps`` updates (validation only at the end, without decoding)
as: one process on one thread, one process on every core, and torchrun with one process per core
(one thread each); on a GPU machine: one process on one GPU and one per GPU. Reads tokens/s and
the collectives' seconds (`comm_s`, rank 0's, waiting for slower ranks included) from each run's
metrics.jsonl, between the first and the last loss line, so start-up and the final validation
are left out. Appends the table to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import append_results, table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(recipe: str, steps: int, run_dir: Path, procs: int, threads: int, device: str) -> dict:
    """One training run; its throughput and communication share from metrics.jsonl."""
    train = ["-m", "mtseq2seq", "train", recipe, "--run-dir", str(run_dir),
             "--set", f"train.max_steps={steps}", "--set", f"train.log_every={max(steps // 10, 1)}",
             "--set", f"valid.every={steps}", "--set", "valid.decode=false",
             "--set", "valid.max_sentences=50", "--set", f"train.device={device}",
             "--set", f"train.threads={threads}"]
    launcher = [sys.executable] if procs == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(launcher + train, cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(launcher + train)} failed:\n{done.stdout[-3000:]}")
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logs = {r["step"]: r for r in lines if r.get("split") == "train" and "elapsed_s" in r}
    first, last = logs[min(logs)], logs[max(logs)]
    seconds = last["elapsed_s"] - first["elapsed_s"]
    tokens = sum(r["tokens_per_s"] for s, r in logs.items() if s != min(logs)) / (len(logs) - 1)
    comm = (last.get("comm_s", 0.0) - first.get("comm_s", 0.0)) / seconds if seconds else 0.0
    return {"tokens_per_s": tokens, "comm_share": comm, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="recipes/toy/one_to_many.yaml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    if args.device == "cuda":
        gpus = torch.cuda.device_count()
        setups = [("1 process, 1 GPU", 1, 1)] + ([(f"{gpus} processes, 1 GPU each", gpus, 1)]
                                                 if gpus > 1 else [])
    else:
        setups = [("1 process, 1 thread", 1, 1), (f"1 process, {cores} threads", 1, cores),
                  (f"{cores} processes, 1 thread each", cores, 1)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, procs, threads in setups:
            found = run(args.recipe, args.steps, Path(tmp) / f"run{len(rows)}", procs, threads,
                        args.device)
            rows.append((name, found["tokens_per_s"], found["comm_share"] * 100))
            print(f"{name}: {found['tokens_per_s']:,.0f} target tokens/s, "
                  f"collectives {found['comm_share']:.1%} of the time")
    base = rows[0][1]
    body = table(["setup", "target tokens/s", "vs the first", "collectives, % of step time"],
                 [(n, t, f"{t / base:.2f}x", f"{c:.1f}" if c else "-") for n, t, c in rows])
    body += (f"\n\n{args.steps} updates of `{args.recipe}` each (tokens/s: the mean of the loss "
             "lines after the first); collectives: rank 0's seconds in them over the wall clock "
             "between the first and the last loss line, waiting for the slower rank included.")
    print("\n" + body)
    if not args.no_record:
        append_results("Distributed training speed", body, args.device)


if __name__ == "__main__":
    main()
