"""The benchmark's handle on ``joeynmt_driver.py``, running in JoeyNMT's own interpreter.

The driver is started once (its import and model building are not timed) and then asked for timed
runs between the in-process systems' runs, so JoeyNMT is interleaved with them like any peer.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from common import BENCH_DIR


class JoeyDriver:
    """A running ``joeynmt_driver.py``; ``run(...)`` returns its JSON reply."""

    def __init__(self, python: str, batches_file: Path, sizes: dict, threads: int | None) -> None:
        command = [python, str(BENCH_DIR / "joeynmt_driver.py"), "--batches", str(batches_file),
                   "--sizes", json.dumps(sizes)]
        if threads:
            command += ["--threads", str(threads)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        self.info = self._reply()

    def _reply(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the JoeyNMT driver stopped (exit code {self.process.wait()}); "
                               "its error is above")
        return json.loads(line)

    def run(self, system: str, steps: int, loss: str, precision: str, first: int = 0) -> dict:
        request = {"system": system, "steps": steps, "loss": loss, "precision": precision,
                   "first": first}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=60)
