"""Shared benchmark plumbing: the machine and versions, interleaved timing, tables, RESULTS.md,
peak memory in a fresh process.

Every benchmark measures its peers in one process run (or, for JoeyNMT, in a driver process started
once and driven in the same loop), interleaving repeats (A B C, A B C, ...) so that drifts in the
shared machine's load hit every system alike, and reports medians.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import multiprocessing
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_line(device: str = "cpu", extra: dict[str, str] | None = None) -> str:
    """One line: CPU (or GPU), cores, threads, and the versions that matter."""
    flags = cpu_flags()
    isa = ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags)
    parts = [f"CPU {cpu_model()} ({os.cpu_count()} logical cores visible; {isa or 'no AVX flags'})",
             f"torch threads {torch.get_num_threads()}"]
    if device.startswith("cuda") and torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name()}")
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": version_of("transformers"), **(extra or {})}
    parts.append(", ".join(f"{k} {v}" for k, v in versions.items()))
    return "; ".join(parts)


def command_line() -> str:
    """The command that ran this benchmark, as it could be typed again."""
    script = os.path.relpath(sys.argv[0], Path.cwd()) if sys.argv else "?"
    return " ".join(shlex.quote(a) for a in ["python", script, *sys.argv[1:]])


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; floats get thousands separators or 3 significant digits."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        return str(value)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def append_results(title: str, body: str, device: str = "cpu",
                   versions: dict[str, str] | None = None) -> None:
    """Append one dated section (machine, versions, command, ``body``) to bench/RESULTS.md."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    quiet = (f"- shared machine: waited for a quiet CPU before each measurement ({QUIET['waited']:.0f} s "
             "in all)\n" if QUIET["enabled"] else "")
    section = (f"\n## {title} ({stamp})\n\n- machine: {machine_line(device, versions)}\n"
               f"- command: `{command_line()}`\n{quiet}\n{body.strip()}\n")
    with open(RESULTS, "a", encoding="utf-8") as handle:
        handle.write(section)
    print(f"\nappended to {RESULTS}")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """min-max of repeated measurements, as a compact string."""
    return f"{min(values):,.0f}-{max(values):,.0f}" if values else "-"


def cpu_idle_share(seconds: float = 1.0) -> float:
    """Share of the machine's CPU time that was idle over ``seconds`` (Linux; 1.0 elsewhere)."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total
    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return 1.0
    return (idle1 - idle0) / max(total1 - total0, 1)


QUIET = {"enabled": False, "waited": 0.0}


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """``--quiet-cpu`` and ``--no-record``, which every timing benchmark takes."""
    parser.add_argument("--quiet-cpu", action="store_true",
                        help="shared machine: before each measurement wait until the CPU is idle")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")


def wait_for_quiet_cpu(threshold: float = 0.9, max_wait: float = 300.0) -> None:
    """On a shared machine: wait (at most ``max_wait`` s) until others leave the CPU idle.

    Only when enabled (``QUIET["enabled"]``, the benchmarks' ``--quiet-cpu``); the time waited is
    added to ``QUIET["waited"]`` so the results can say so.
    """
    if not QUIET["enabled"]:
        return
    start = time.perf_counter()
    while cpu_idle_share() < threshold and time.perf_counter() - start < max_wait:
        pass
    QUIET["waited"] += time.perf_counter() - start


def interleaved(runs: dict[str, Callable[[], float]], repeats: int, log: bool = True
                ) -> dict[str, list[float]]:
    """Call every run once per repeat, in turn (A B C, A B C, ...); each returns one figure."""
    results: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats):
        for name, run in runs.items():
            wait_for_quiet_cpu()
            results[name].append(run())
            if log:
                print(f"  repeat {repeat + 1}/{repeats} {name}: {results[name][-1]:,.1f}", flush=True)
    return results


Unit = Callable[[int], tuple[float, float]]  # item index -> (seconds, amount: tokens or sentences)


def interleaved_rounds(units: dict[str, Unit], items: int, repeats: int, log: bool = True
                       ) -> dict[str, list[float]]:
    """Rates (amount / second) per repeat, interleaved item by item: for each item (a training step
    on batch i, a decoded batch i), every system runs it in turn, so a burst of load from other
    processes hits every system alike; a repeat's rate is its summed amount over its summed time.
    The order of the systems is reversed on every other item, so that none always runs right after
    the same other one (warm caches after a run of the same shapes favour the second of a pair)."""
    results: dict[str, list[float]] = {name: [] for name in units}
    for repeat in range(repeats):
        wait_for_quiet_cpu()
        seconds = dict.fromkeys(units, 0.0)
        amount = dict.fromkeys(units, 0.0)
        for item in range(items):
            order = list(units) if item % 2 == 0 else list(reversed(units))
            for name in order:
                took, done = units[name](item)
                seconds[name] += took
                amount[name] += done
        for name in units:
            results[name].append(amount[name] / seconds[name])
        if log:
            print(f"  repeat {repeat + 1}/{repeats}: " + ", ".join(
                f"{name} {values[-1]:,.1f}" for name, values in results.items()), flush=True)
    return results


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _best_time(fn: Callable[[], object], device: str, reps: int) -> float:
    fn()  # warm-up (and kernel selection)
    times = []
    for _ in range(reps):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return median(times)


def matmul_ceiling(dtype: torch.dtype, device: str = "cpu", size: int = 2048, reps: int = 5) -> float:
    """FLOP/s of large square matmuls in ``dtype`` (median of ``reps``): the MFU denominator.

    On the CPU the faster of ``torch.matmul`` (MKL for float32, oneDNN for bf16) and oneDNN's linear
    kernel (what our float32 ``Linear`` uses), so the ceiling is the best this machine offers.
    """
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    seconds = _best_time(lambda: torch.matmul(a, b), device, reps)
    if device == "cpu" and hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        onednn = lambda: torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")  # noqa: E731
        seconds = min(seconds, _best_time(onednn, device, reps))
    return 2 * size**3 / seconds


def set_threads(threads: int | None) -> None:
    """Intra-op threads: ``threads`` or every visible core; one inter-op thread."""
    torch.set_num_threads(threads or os.cpu_count() or 1)


def rss_mib(field: str = "VmRSS", pid: int | str = "self") -> float:
    """A process's resident memory (``VmRSS``) or its peak so far (``VmHWM``), in MiB, from
    /proc/PID/status (this process by default; NaN where there is none, off Linux). ct2_peer.py
    keeps its own copy for its CTranslate2 child, which must not import torch (this module does)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return math.nan


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a new interpreter (a ``spawn`` child, sharing none of this process's memory),
    and its result. Peak RSS (VmHWM) is per process and only grows, so a process that has built
    several systems cannot tell their peaks apart: each one is measured in a child of its own.
    ``fn`` must be importable (a module-level function; the child imports the main script again,
    without running its ``main``)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)
