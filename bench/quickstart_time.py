"""Where the quickstart's time goes: README's first command, run as a new user runs it.

    python bench/quickstart_time.py [--keep DIR] [--no-record]

Clones the repository's HEAD into a fresh folder, runs the first command of README.md there (a
new virtual environment, the install, the toy recipe's training, validation and test) under a
wall clock, then splits the time into phases by the timestamps of the run's `train.log`: install
(up to the first log line), toy corpus, vocabularies, encoding and the start of training, the
updates, validations and the final test. Appends the table and the test scores to
bench/RESULTS.md with the CPU model, since the figures differ between CPU kinds.
"""
from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import append_results, table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$")


def readme_command() -> str:
    """The first command in README.md's first bash block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"```bash\n(.+?)\n```", text, re.S).group(1).strip()


def run_quickstart(folder: Path) -> tuple[float, float, str]:
    """(start time, wall seconds, stdout) of README's command in a fresh clone inside ``folder``."""
    clone = folder / "mtseq2seq"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    started = time.time()
    done = subprocess.run(["bash", "-c", readme_command()], cwd=clone, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"the quickstart failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
    return started, wall, done.stdout


def log_events(log: Path) -> list[tuple[float, str]]:
    """(unix time, message) of each train.log line that starts a record."""
    events = []
    for line in log.read_text(encoding="utf-8").splitlines():
        match = STAMP.match(line)
        if match:
            when = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            events.append((when.timestamp(), match.group(2)))
    return events


def phases(started: float, wall: float, events: list[tuple[float, str]]) -> list[tuple[str, float]]:
    """Seconds per phase, cut at the first log line of each (phases in the order they run)."""
    marks = [("install and start-up (venv, pip, imports)", started)]
    firsts = [("toy corpus generation", "generating the toy corpus"),
              ("vocabularies, encoding, model build", "training sentencepiece"),
              ("training updates and validations", "training from step"),
              ("final test decoding and scoring", "best checkpoint:")]
    for name, text in firsts:
        found = next((t for t, message in events if message.startswith(text)), None)
        if found is not None:
            marks.append((name, found))
    marks.append(("end", started + wall))
    return [(name, marks[i + 1][1] - when) for i, (name, when) in enumerate(marks[:-1])]


def validation_seconds(events: list[tuple[float, str]]) -> float:
    """Time spent in validations: from each validating step's loss line to its report."""
    total, previous = 0.0, None
    for when, message in events:
        if re.match(r"step \d+ validation", message) and previous is not None:
            total += when - previous
        previous = when
    return total


def first_updates_seconds(events: list[tuple[float, str]], updates: int) -> float:
    """From the start of training to the loss line of step ``updates`` (0 if it is not logged)."""
    start = next((t for t, m in events if m.startswith("training from step")), None)
    end = next((t for t, m in events if m.startswith(f"step {updates}/")), None)
    return end - start if start is not None and end is not None else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="run in DIR and keep it")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="quickstart_"))
    folder.mkdir(parents=True, exist_ok=True)
    started, wall, out = run_quickstart(folder)
    events = log_events(folder / "mtseq2seq" / "runs" / "toy_one_to_many" / "train.log")
    rows = [(name, f"{seconds:.1f}") for name, seconds in phases(started, wall, events)]
    rows.append(("(of the training phase: validations)", f"{validation_seconds(events):.1f}"))
    rows.append(("(of the training phase: the first 100 updates)",
                 f"{first_updates_seconds(events, 100):.1f}"))
    rows.append(("total wall clock", f"{wall:.1f} ({wall // 60:.0f} min {wall % 60:.0f} s)"))
    scores = out[out.index("test scores of the best checkpoint"):].strip()
    body = (f"README's first command, `{readme_command()}`, in a fresh clone of HEAD\n\n"
            f"{table(['phase', 'seconds'], rows)}\n\n```\n{scores}\n```\n")
    print(body)
    if not args.no_record:
        append_results("Quickstart wall clock", body)


if __name__ == "__main__":
    main()
