"""What a run reports as it goes: `metrics.jsonl` records and the periodic loss line.

Every record carries its step and a timestamp. On resume the records past the resumed step (written
by updates the crash undid, and which will be redone) are dropped, so each (step, split, task) record
appears once. Loss lines carry tokens/s, the elapsed time and an ETA, so a log read from a file (no
progress bar) still shows how fast the run goes.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


def format_duration(seconds: float) -> str:
    """'1:02:03' or '2:03' for a number of seconds."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class MetricsLog:
    """Appends one JSON line per record to ``path``, and hands each record to ``mirror`` (the
    TensorBoard log, `tensorboard_log.py`) when there is one."""

    def __init__(self, path: Path, mirror=None) -> None:
        self.path, self.mirror = path, mirror

    def write(self, step: int, record: dict) -> None:
        line = json.dumps({"step": step, "time": round(time.time(), 3), **record})
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        if self.mirror is not None:
            self.mirror.write(step, record)

    def drop_after(self, step: int) -> int:
        """Remove the records of steps after ``step`` (rewritten atomically); how many went."""
        if not self.path.is_file():
            return 0
        kept, dropped = [], 0
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                late = int(json.loads(line).get("step", 0)) > step
            except (ValueError, AttributeError, TypeError):
                late = False  # not ours to judge: keep it
            if late:
                dropped += 1
            else:
                kept.append(line)
        if dropped:
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            os.replace(tmp, self.path)
        return dropped


class Progress:
    """Running per-task losses and throughput between two loss lines."""

    def __init__(self, tasks: list[str], start_step: int, max_steps: int) -> None:
        self.tasks, self.max_steps = tasks, max_steps
        self.start_step, self.started = start_step, time.monotonic()
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self.losses = {t: [0.0, 0] for t in self.tasks}
        self.tokens, self.since = 0, now

    def add(self, stats: dict[str, tuple[float, int]]) -> None:
        for task, (loss, tokens) in stats.items():
            running = self.losses[task]
            running[0], running[1] = running[0] + loss, running[1] + 1
            self.tokens += tokens

    def means(self) -> dict[str, float]:
        return {t: total / count for t, (total, count) in self.losses.items() if count}

    def report(self, step: int) -> tuple[str, dict]:
        """The loss line and the numbers behind it; starts a new interval."""
        now = time.monotonic()
        speed = self.tokens / max(now - self.since, 1e-9)
        elapsed = now - self.started
        done = step - self.start_step
        eta = elapsed / done * (self.max_steps - step) if done > 0 else 0.0
        losses = ", ".join(f"{t} {loss:.3f}" for t, loss in self.means().items())
        line = (f"step {step}/{self.max_steps}: {losses} | {speed:,.0f} tok/s | "
                f"{format_duration(elapsed)} elapsed | ETA {format_duration(eta)}")
        numbers = {"tokens_per_s": round(speed, 1), "elapsed_s": round(elapsed, 1),
                   "updates": dict((t, c) for t, (_, c) in self.losses.items() if c)}
        self._reset(now)
        return line, numbers
