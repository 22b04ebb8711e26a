"""Does a refactoring change what is computed? Record a fixed set of numbers, then compare.

    python bench/same_numbers.py record OUT [--code DIR] [--threads 2]
    python bench/same_numbers.py compare BEFORE AFTER

`record` trains the toy one-to-many recipe and `recipes/toy/many_to_many.yaml` with the rnn family
(300 updates each, validation every 100), with the code of checkout DIR (default: this one), and
writes into OUT: each run's metrics.jsonl without its clock fields (time, tokens/s, elapsed), its
test scores JSON, and `mtseq2seq translate` output of its best checkpoint for every task on the toy
test source. `compare` says which of those files differ (it exits 1 if one does). On CPU with the
same thread count the numbers are expected to be equal bit for bit, so any difference is a change
of computation. Record the "before" from a checkout of the previous commit (`git worktree add`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_FIELDS = ("time", "tokens_per_s", "elapsed_s")
RUNS = {  # name -> (recipe, extra --set overrides)
    "one_to_many": ("recipes/toy/one_to_many.yaml", []),
    "many_to_many_rnn": ("recipes/toy/many_to_many.yaml", ["modules.type=rnn"]),
}


# `python -m` would put the working directory (this checkout) first on the path, whatever
# PYTHONPATH says: the runner puts ``code`` first itself and says which package it imported.
RUNNER = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import mtseq2seq; "
          "print('package:', mtseq2seq.__file__, file=sys.stderr); "
          "from mtseq2seq.__main__ import main; sys.exit(main(sys.argv[1:]))")


def mtseq2seq(code: Path, args: list[str], stdin: str | None = None) -> str:
    """Run the command line of checkout ``code`` (its package first on the path); its stdout."""
    done = subprocess.run([sys.executable, "-c", RUNNER, str(code.resolve()), *args], cwd=ROOT,
                          env=dict(os.environ), input=stdin, text=True, capture_output=True)
    package = done.stderr.partition("package: ")[2].partition("\n")[0]
    if not Path(package).resolve().is_relative_to(code.resolve()):
        raise SystemExit(f"ran the package at {package!r}, not the one of {code}")
    if done.returncode != 0:
        raise SystemExit(f"mtseq2seq {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def record_run(code: Path, name: str, out: Path, threads: int) -> None:
    recipe, extra = RUNS[name]
    run_dir = out / "runs" / name
    sets = ["train.max_steps=300", "valid.every=100", f"train.threads={threads}", *extra]
    mtseq2seq(code, ["train", recipe, "--run-dir", str(run_dir), "--restart",
                     *[arg for s in sets for arg in ("--set", s)]])
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    clean = [{k: v for k, v in r.items() if k not in CLOCK_FIELDS} for r in records]
    (out / f"{name}.metrics.json").write_text(json.dumps(clean, indent=1, sort_keys=True))
    scores = json.loads((run_dir / "checkpoint_best.test.scores.json").read_text())
    scores.pop("checkpoint", None)  # a path: differs between OUT folders
    (out / f"{name}.test_scores.json").write_text(json.dumps(scores, indent=1, sort_keys=True))
    stored = json.loads((run_dir / "checkpoint_best.test.scores.json").read_text())
    for task in [s["task"] for s in stored["scores"]]:
        source = task.split(">")[0]
        text = (ROOT / "data" / "toy" / f"test.{source}").read_text(encoding="utf-8")
        translated = mtseq2seq(code, ["translate", "--checkpoint", str(run_dir /
                                                                      "checkpoint_best.pt"),
                                      "--task", task.replace(">", "-"), "--beam", "2"], text)
        (out / f"{name}.translate.{task.replace('>', '-')}.txt").write_text(translated)


def compare(before: Path, after: Path) -> int:
    names = sorted({p.name for p in before.glob("*.*")} | {p.name for p in after.glob("*.*")})
    different = [n for n in names if not (before / n).is_file() or not (after / n).is_file()
                 or (before / n).read_bytes() != (after / n).read_bytes()]
    for name in names:
        print(f"{'DIFFERENT' if name in different else 'same     '}  {name}")
    print(f"{len(names) - len(different)} of {len(names)} files equal")
    return 1 if different else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record")
    record.add_argument("out", type=Path)
    record.add_argument("--code", type=Path, default=ROOT, help="checkout whose code runs")
    record.add_argument("--threads", type=int, default=2)
    check = commands.add_parser("compare")
    check.add_argument("before", type=Path)
    check.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "compare":
        return compare(args.before, args.after)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in RUNS:
        record_run(args.code.resolve(), name, args.out.resolve(), args.threads)
        print(f"recorded {name} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
