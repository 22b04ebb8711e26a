"""Fast paths chosen by measuring on the machine at hand, not by the CPU's vendor.

Two choices, each between paths whose outputs agree up to summation order (tested per path):
- ``linear``: float32 matrix products (forward and both gradients) through oneDNN
  (`modules/linear.py`) or ATen's ``F.linear`` (MKL's sgemm). MKL takes a slow path on AMD CPUs,
  oneDNN's kernels can lose on Intel ones; under bf16 autocast neither is used.
- ``attention``: CPU attention without dropout (validation, decoding, dropout-free training) in
  the run's dtype through PyTorch's fused kernel or written out (two products and a softmax).

Each candidate is timed (forward + backward, the fastest of 5 or more calls interleaved with the
other candidate's, after a warm-up) at the shapes of the model the recipe builds: its distinct
Linear weight shapes and its attention heads, with up to 1,024 token rows. The built-in path stays
unless the other wins by more than 3% (no flapping on noise). The choices are cached in
``fast_paths.json`` under the user's cache directory (``$MTSEQ2SEQ_CACHE_DIR``, else
``$XDG_CACHE_HOME/mtseq2seq``, else ``~/.cache/mtseq2seq``), keyed by CPU model, torch version,
threads, precision and shapes: a new CPU or torch version measures anew, and a corrupt file is
rebuilt with a warning. `train.fast_paths: default` skips all of it and keeps the built-in paths
(oneDNN; the fused kernel in fp32, written out in bf16). Precision is not chosen here: bf16
changes results, so `train.precision` decides.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .modules import attention as attention_module
from .modules import linear as linear_module

log = logging.getLogger(__name__)

CACHE_FILE = "fast_paths.json"
MAX_ROWS = 1024  # token rows per timed product: enough to rank the kernels, quick to measure
LENGTH = 32  # positions per sequence in the timed attention
MARGIN = 1.03  # the other path replaces the built-in one only when more than 3% faster
ROUNDS, MAX_ROUNDS = 5, 200  # timed calls per candidate, interleaved; the fastest counts
BUDGET_S = 0.05  # quick steps repeat (up to MAX_ROUNDS) until each has run this long


@dataclass
class Choice:
    """One measured choice: the path picked, the other one, and how much faster the pick was."""

    knob: str  # linear | attention
    pick: str
    other: str
    margin: float  # the other path's time / the pick's (< 1: the built-in path kept, barely slower)

    def describe(self) -> str:
        if self.margin < 1.0:
            return (f"{self.knob}: {self.pick} (built in; {self.other} only {1 / self.margin:.2f}x "
                    f"faster, within {MARGIN - 1:.0%})")
        return f"{self.knob}: {self.pick} ({self.margin:.2f}x faster than {self.other})"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cache_path() -> Path:
    """Where the measured choices are kept (see the module docstring)."""
    if os.environ.get("MTSEQ2SEQ_CACHE_DIR"):
        return Path(os.environ["MTSEQ2SEQ_CACHE_DIR"]) / CACHE_FILE
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mtseq2seq" / CACHE_FILE


@dataclass(frozen=True)
class Shapes:
    """What the timings depend on: the Linear weight shapes (with counts) and attention heads."""

    linears: tuple[tuple[int, int, int], ...]  # (out, in, how many)
    heads: tuple[tuple[int, int], ...]  # (heads, head dim) of each distinct attention layer
    rows: int

    @classmethod
    def of(cls, model: nn.Module, batch_tokens: int) -> Shapes:
        counts = Counter(tuple(m.weight.shape) for m in model.modules()
                         if isinstance(m, linear_module.Linear))
        heads = {(m.heads, m.out.weight.size(0) // m.heads) for m in model.modules()
                 if isinstance(m, (attention_module.SelfAttention, attention_module.CrossAttention))}
        return cls(tuple(sorted((o, i, n) for (o, i), n in counts.items())), tuple(sorted(heads)),
                   max(LENGTH, min(batch_tokens, MAX_ROWS)))


def cache_key(shapes: Shapes, precision: str) -> str:
    return json.dumps([cpu_model(), torch.__version__, torch.get_num_threads(), precision,
                       shapes.linears, shapes.heads, shapes.rows])


def load_cache(path: Path) -> dict:
    """The cache's entries; a file that is not a valid cache is reported and started afresh."""
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
        if not isinstance(entries, dict):
            raise TypeError("entries is not a mapping")
        return entries
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("fast paths: %s is not a valid cache (%s); measuring again and rewriting it",
                    path, err)
        return {}


def save_cache(path: Path, entries: dict) -> None:
    """Write the cache whole (to a temporary file first, so a crash leaves the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"entries": entries}, indent=1), encoding="utf-8")
    tmp.replace(path)


def _race(steps: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Seconds per call of each step: the fastest call, the steps interleaved round by round (so
    a busy moment of the machine hits both) after one warm-up call each (allocations, oneDNN
    primitives); at least ``ROUNDS`` rounds, more for quick steps (up to ``BUDGET_S`` each)."""
    best = {name: float("inf") for name in steps}
    spent = {name: 0.0 for name in steps}
    for step in steps.values():
        step()
    for round_index in range(MAX_ROUNDS):
        if round_index >= ROUNDS and min(spent.values()) >= BUDGET_S:
            break
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            seconds = time.perf_counter() - start
            best[name], spent[name] = min(best[name], seconds), spent[name] + seconds
    return best


def _linear_race(shapes: Shapes) -> dict[str, float]:
    """Forward + backward of every Linear shape (weighted by its count) in fp32, per path."""
    before = linear_module.onednn_wanted()
    total = {"onednn": 0.0, "aten": 0.0}
    try:
        for out, inp, count in shapes.linears:
            gen = torch.Generator().manual_seed(out * 7919 + inp)
            x = torch.randn(shapes.rows, inp, generator=gen, requires_grad=True)  # (N, in)
            w = torch.randn(out, inp, generator=gen, requires_grad=True)  # (out, in)
            grad = torch.randn(shapes.rows, out, generator=gen)  # (N, out)

            def step(onednn: bool, x=x, w=w, grad=grad) -> None:
                linear_module.use_onednn(onednn)
                linear_module.linear(x, w).backward(grad)
            times = _race({"onednn": lambda: step(True), "aten": lambda: step(False)})
            for name in total:
                total[name] += count * times[name]
        return total
    finally:
        linear_module.use_onednn(before)


def _attention_race(shapes: Shapes, dtype: torch.dtype) -> dict[str, float]:
    """Forward + backward of one attention per distinct (heads, head dim) without dropout, per
    path (fused kernel or written out)."""
    before = attention_module.fused_attention(dtype)
    total = {"fused": 0.0, "written": 0.0}
    batch = max(1, shapes.rows // LENGTH)
    try:
        for heads, dim in shapes.heads:
            gen = torch.Generator().manual_seed(heads * 131 + dim)
            q, k, v = (torch.randn(batch, heads, LENGTH, dim, generator=gen).to(dtype)
                       .requires_grad_() for _ in range(3))  # (B, H, T, dh)
            mask = torch.ones(batch, 1, 1, LENGTH, dtype=torch.bool)
            grad = torch.randn(batch, heads, LENGTH, dim, generator=gen).to(dtype)

            def step(fused: bool, q=q, k=k, v=v, mask=mask, grad=grad) -> None:
                attention_module.use_fused_attention(dtype, fused)
                attention_module.attend(q, k, v, mask, False, 0.0, True).backward(grad)
            times = _race({"fused": lambda: step(True), "written": lambda: step(False)})
            for name in total:
                total[name] += times[name]
        return total
    finally:
        attention_module.use_fused_attention(dtype, before)


def default_path(knob: str, dtype: torch.dtype) -> str:
    """The built-in path of ``knob`` (what `train.fast_paths: default` keeps)."""
    if knob == "linear":
        return "onednn"
    return "fused" if dtype != torch.bfloat16 else "written"


def _pick(knob: str, times: dict[str, float], default: str) -> Choice:
    """The faster path, unless it beats ``default`` by ``MARGIN`` or less."""
    (pick, fast), (other, slow) = sorted(times.items(), key=lambda item: item[1])
    margin = slow / fast if fast > 0 else 1.0
    if pick != default and margin <= MARGIN:
        return Choice(knob, default, pick, 1.0 / margin)
    return Choice(knob, pick, other, margin)


def measure(shapes: Shapes, precision: str) -> list[Choice]:
    """Time each candidate path at ``shapes``; the winners, fastest first per knob."""
    choices = []
    if precision == "fp32" and shapes.linears and linear_module.onednn_works():
        choices.append(_pick("linear", _linear_race(shapes), "onednn"))
    if shapes.heads:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        choices.append(_pick("attention", _attention_race(shapes, dtype),
                             default_path("attention", dtype)))
    return choices


def apply(choices: list[Choice], precision: str) -> None:
    """Make ``choices`` the paths every Linear and attention layer takes from now on."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    for choice in choices:
        if choice.knob == "linear":
            linear_module.use_onednn(choice.pick == "onednn")
        elif choice.knob == "attention":
            attention_module.use_fused_attention(dtype, choice.pick == "fused")


def restore_defaults() -> None:
    """The built-in paths, as `train.fast_paths: default` has them."""
    linear_module.use_onednn(True)
    for dtype in (torch.float32, torch.bfloat16):
        attention_module.use_fused_attention(dtype, default_path("attention", dtype) == "fused")


def choose(model: nn.Module, batch_tokens: int, precision: str, *, remeasure: bool = False
           ) -> tuple[list[Choice], bool]:
    """The cached choice for this machine and model, or a fresh measurement (then cached);
    applied. Returns the choices and whether they were measured now."""
    shapes = Shapes.of(model, batch_tokens)
    path, key = cache_path(), cache_key(shapes, precision)
    entries = load_cache(path)
    cached = entries.get(key)
    if cached is not None and not remeasure:
        try:
            choices = [Choice(**c) for c in cached]
            apply(choices, precision)
            return choices, False
        except TypeError:
            log.warning("fast paths: a malformed entry in %s; measuring again", path)
    choices = measure(shapes, precision)
    apply(choices, precision)
    entries[key] = [vars(c) for c in choices]
    try:
        save_cache(path, entries)
    except OSError as err:
        log.warning("fast paths: could not write %s (%s); measuring again next time", path, err)
    return choices, True


def report(choices: list[Choice], measured: bool, seconds: float) -> str:
    """One line for train.log: what was picked, by how much, and whether it was measured now."""
    how = f"measured now in {seconds:.1f} s" if measured else f"cached in {cache_path()}"
    picks = "; ".join(c.describe() for c in choices) or "nothing to choose"
    return f"fast paths ({cpu_model()}, torch {torch.__version__}; {how}): {picks}"


def choose_for_run(model: nn.Module, batch_tokens: int, precision: str, device: torch.device,
                   mode: str) -> list[Choice] | None:
    """`train.fast_paths` for a run: ``tune`` measures (or reads the cache) on the CPU and logs
    the choice; ``default`` keeps the built-in paths; other devices have nothing to choose."""
    if mode == "default" or device.type != "cpu":
        return None
    start = time.perf_counter()
    choices, measured = choose(model, batch_tokens, precision)
    log.info(report(choices, measured, time.perf_counter() - start))
    return choices
