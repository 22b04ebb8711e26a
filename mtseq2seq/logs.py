"""Logging for the commands: lines on the console that do not break a progress bar, and the run's
`train.log` (a command that writes into a run directory logs there too)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm import tqdm


class TqdmHandler(logging.Handler):
    """Log lines that do not break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


def setup_logging(run_dir: Path | None, verbose: bool = False, rank: int = 0) -> None:
    """Console lines (and ``run_dir``/train.log); the ranks after 0 of a run of several
    processes say only their warnings and errors, marked with their rank."""
    root = logging.getLogger("mtseq2seq")
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if rank else logging.INFO)
    for old in list(root.handlers):  # a file handler left open would keep writing to its file
        root.removeHandler(old)
        old.close()
    console = TqdmHandler()
    console.setFormatter(logging.Formatter(f"%(asctime)s {f'[rank {rank}] ' if rank else ''}"
                                           "%(message)s", "%H:%M:%S"))
    root.addHandler(console)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
        file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file)
