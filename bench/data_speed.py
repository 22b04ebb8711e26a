"""Data preparation speed on Multi30k, and the time from `mtseq2seq train` to its first update.

    python bench/data_speed.py [--repeats 3] [--data /tmp/m30k] [--run-dir /tmp/benchrun]

1. Prepares the corpus once if missing (``data_scripts/multi30k.py --from /work/shared/data/multi30k
   --out DATA``; timed, shown once).
2. Per repeat, interleaved: ``mtseq2seq prepare recipes/multi30k/en_de.yaml --set data_dir=DATA
   --run-dir RUN`` *cold* (cache and vocabularies deleted first) and *warm* (both present), as
   subprocesses; and ``mtseq2seq train`` with a warm cache up to its first update
   (first_step_child.py: the real CLI, ``--set train.max_steps=1 train.log_every=1 --restart``),
   split into torch's import (measured in that process and excluded from the target figure), the
   rest of the start-up, and the first update itself.
3. In process (imports excluded), the cold preparation split into vocabulary training and encoding.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))

from common import QUIET, add_run_flags, append_results, median, table, wait_for_quiet_cpu  # noqa: E402

RECIPE = "recipes/multi30k/en_de.yaml"


def timed_command(command: list[str]) -> float:
    wait_for_quiet_cpu()
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def clear(data: Path, run_dir: Path) -> None:
    shutil.rmtree(data / ".mtseq2seq_cache", ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)


def first_step(args: argparse.Namespace) -> dict[str, float]:
    """Seconds from the command's start to its first update (and parts), warm cache."""
    command = [sys.executable, str(ROOT / "bench/first_step_child.py"), "train", RECIPE,
               "--set", f"data_dir={args.data}", "--set", "train.max_steps=1",
               "--set", "train.log_every=1", "--run-dir", str(args.run_dir), "--restart"]
    wait_for_quiet_cpu()
    start = time.time()
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    info = json.loads(out.strip().splitlines()[-1])
    torch_import = info["torch_import"][1] - info["torch_import"][0]
    to_step = info["step"][0] - start
    return {"start -> first update begins": to_step, "torch import (in that process)": torch_import,
            "start -> first update begins, torch import excluded": to_step - torch_import,
            "first update itself": info["step"][1] - info["step"][0],
            "start -> first update done, torch import excluded": info["step"][1] - start - torch_import}


def breakdown(args: argparse.Namespace) -> dict[str, float]:
    """Cold preparation in this process: vocabulary training, then encoding (imports excluded)."""
    from mtseq2seq.build.tasks import build_tasks
    from mtseq2seq.build.vocabs import load_or_train
    from mtseq2seq.data.binarize import encode_file
    from mtseq2seq.recipe.loader import load_recipe

    clear(args.data, args.run_dir)
    recipe = load_recipe(ROOT / RECIPE, [f"data_dir={args.data}"], run_dir=str(args.run_dir))
    start = time.perf_counter()
    vocabs = load_or_train(recipe, args.run_dir)
    trained = time.perf_counter()
    for task in build_tasks(recipe, vocabs).values():
        for src_path, tgt_path in task.files.values():
            encode_file(src_path, vocabs[task.encoder])
            encode_file(tgt_path, vocabs[task.decoder])
    encoded = time.perf_counter()
    return {"vocabulary training (en, de; 8000 pieces)": trained - start,
            "encoding and caching every split": encoded - trained}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/data/multi30k"))
    parser.add_argument("--data", type=Path, default=Path("/tmp/m30k"))
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp/benchrun"))
    parser.add_argument("--repeats", type=int, default=3)
    add_run_flags(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    QUIET["enabled"] = args.quiet_cpu
    rows = []
    if not (args.data / "train.en").is_file():
        seconds = timed_command([sys.executable, "data_scripts/multi30k.py", "--from", str(args.source),
                                 "--out", str(args.data)])
        rows.append(["data script (once)", seconds, "-"])
    prepare = [sys.executable, "-m", "mtseq2seq", "prepare", RECIPE, "--set", f"data_dir={args.data}",
               "--run-dir", str(args.run_dir)]
    results: dict[str, list[float]] = {}
    for repeat in range(args.repeats):
        clear(args.data, args.run_dir)
        results.setdefault("prepare, cold (vocabularies + encoding), whole command", []).append(
            timed_command(prepare))
        results.setdefault("prepare, warm (cache hit), whole command", []).append(timed_command(prepare))
        for key, value in first_step(args).items():
            results.setdefault(f"train: {key}", []).append(value)
        results.setdefault("python -c 'import torch'", []).append(
            timed_command([sys.executable, "-c", "import torch"]))
        print(f"  repeat {repeat + 1}/{args.repeats}: " + ", ".join(
            f"{k} {v[-1]:.2f}s" for k, v in results.items()), flush=True)
    for key, value in breakdown(args).items():
        results[f"in process, cold: {key}"] = [value]
    timed_command(prepare)  # leave a warm cache behind
    rows += [[key, median(values), f"{min(values):.2f}-{max(values):.2f}"] for key, values in results.items()]
    goal = median(results["train: start -> first update begins, torch import excluded"])
    body = table(["phase", "seconds (median)", "min-max"], rows)
    body += "\n\n" + table(["target", "measured", "goal", ""], [[
        "command start -> first training update, warm cache, torch import excluded", f"{goal:.2f} s",
        "< 3 s", "met" if goal < 3 else "MISSED"]])
    print("\n" + body)
    if not args.no_record:
        append_results("Data preparation and start-up", body)


if __name__ == "__main__":
    main()
