"""Learning curves of one or more runs, read from their `metrics.jsonl`: `mtseq2seq plot RUN_DIR...`.

What a run writes there (`progress.py`, `trainer.py` `_record`, `validation_round.py`): every
``log_every`` updates a ``split: train`` record per task with ``loss``, the mean training loss of its
updates since the last one; every validation a ``split: valid`` record per task with the
teacher-forced ``loss`` (per target token), ``ppl`` and ``acc``, and, when `valid.decode`, the
task's decoded metrics (its main one first: ``bleu``, ``chrf``, ``tree_f1``, ...). Records of other
splits (``diagnose``) and events (``task_stopped``, ``skipped_update``) are not curves and are left
out.

Layout: one PNG per quantity, ``train_loss.png``, ``valid_loss.png`` and ``valid_<metric>.png``
(``valid_metric.png`` when the tasks' default metrics differ, e.g. BLEU for one and tree F1 for
another), each a grid of one panel per task, x = updates. Every run is one line in every panel
(legend: the run directory's name), so a panel compares the runs on one task and one quantity,
and a file answers one question however many tasks there are (a grid of tasks x quantities grows
unreadable past a few tasks). A quantity no run has records of (no validation yet) is not drawn.

matplotlib (`pip install mtseq2seq[plot]`) is imported only when drawing, and only its Agg canvas
is used (no pyplot, no window, no global backend switch).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import UserError, choices_hint
from .task_names import resolve_task

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
CURVE_SPLITS = ("train", "valid")
# keys of a valid record that are not decoded metrics: the teacher-forced numbers, bookkeeping and
# learned loss weights (`loss_weights.py`); ``acc`` is the fallback when nothing was decoded
NOT_METRICS = frozenset({"step", "time", "split", "task", "loss", "ppl", "acc", "tokens",
                         "sentences", "decoded", "log_variance", "loss_weight", "event"})
FALLBACK_METRIC = "acc"
Curve = list[tuple[int, float]]  # (update, value), by update


@dataclass
class Run:
    """The curve records (train and valid, with a task and a loss) of one run directory."""

    name: str  # the legend entry
    path: Path
    records: list[dict[str, Any]]

    def tasks(self) -> list[str]:
        """Its tasks, in the order their first record came."""
        return list(dict.fromkeys(r["task"] for r in self.records))

    def curve(self, split: str, task: str, key: str) -> Curve:
        """``key`` of ``task``'s ``split`` records by update; the last record of an update wins
        (a resumed run rewrites the updates the crash undid)."""
        points = {r["step"]: float(r[key]) for r in self.records
                  if r["split"] == split and r["task"] == task and _number(r.get(key))}
        return sorted(points.items())

    def metrics(self, task: str) -> list[str]:
        """The decoded metrics of ``task``'s valid records, in the order they were written."""
        return list(dict.fromkeys(key for r in self.records if r["split"] == "valid"
                                  and r["task"] == task for key, value in r.items()
                                  if key not in NOT_METRICS and _number(value)))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_run(path: Path) -> Run:
    """A run directory's curve records; a UserError naming the path when there are none."""
    if not path.is_dir():
        raise UserError(f"{path}: no such run directory (expected a directory of `mtseq2seq "
                        f"train` holding {METRICS_FILE})")
    file = path / METRICS_FILE
    if not any(path.iterdir()):
        raise UserError(f"{path}: the run directory is empty; expected {file}, which `mtseq2seq "
                        "train` writes (has the run started?)")
    if not file.is_file():
        raise UserError(f"{path}: no {METRICS_FILE} in the run directory (expected {file}, "
                        "which `mtseq2seq train` writes)")
    records = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:  # e.g. the last line of a run killed mid-write
            log.warning("%s, line %d: not a JSON record, skipped", file, number)
            continue
        if (isinstance(record, dict) and record.get("split") in CURVE_SPLITS
                and isinstance(record.get("task"), str) and _number(record.get("loss"))
                and isinstance(record.get("step"), int) and "event" not in record):
            records.append(record)
    if not records:
        raise UserError(f"{file}: no training or validation records (JSON lines with split "
                        f"{' or '.join(CURVE_SPLITS)}, a task, a step and a loss)")
    return Run(path.name or str(path), path, records)


def load_runs(paths: Sequence[Path]) -> list[Run]:
    """Every run directory read; legend names made distinct by their parents where needed."""
    runs = [read_run(Path(p)) for p in paths]
    for run in runs:
        if sum(other.name == run.name for other in runs) > 1:
            run.name = str(run.path)
    return runs


def pick_tasks(runs: list[Run], wanted: Sequence[str] | None) -> list[str]:
    """The tasks to draw: every run's (first-seen order), or those of ``--task`` (comma lists
    split; `en-de` names `en>de`), each of which some run must have."""
    known = list(dict.fromkeys(task for run in runs for task in run.tasks()))
    if not wanted:
        return known
    names = [name.strip() for item in wanted for name in item.split(",") if name.strip()]
    place = "the metrics of " + ", ".join(str(run.path / METRICS_FILE) for run in runs)
    return list(dict.fromkeys(resolve_task(name, known, "--task", place) for name in names))


def pick_metrics(runs: list[Run], tasks: list[str], metric: str | None) -> dict[str, str]:
    """The validation metric drawn for each task: ``metric`` (some task must have it), or the
    first decoded metric its records hold, else teacher-forced accuracy (nothing decoded)."""
    found = {task: list(dict.fromkeys(m for run in runs for m in run.metrics(task)))
             for task in tasks}
    if metric is None:
        return {task: (names or [FALLBACK_METRIC])[0] for task, names in found.items()}
    every = {m for names in found.values() for m in names} | {FALLBACK_METRIC, "ppl"}
    if metric not in every:
        raise UserError(f"--metric {metric}: no validation record of {', '.join(tasks)} has it"
                        f"{choices_hint(metric, every)}")
    return {task: metric for task in tasks}


def plot_runs(run_dirs: Sequence[Path | str], tasks: Sequence[str] | None = None,
              metric: str | None = None, out_dir: Path | str | None = None) -> list[Path]:
    """Draw the learning curves of ``run_dirs`` into ``out_dir`` (default: the first run's
    ``plots/``); the files written, in order. See the module docstring for the layout."""
    matplotlib_classes()  # before any work: a missing install is the first thing to hear about
    runs = load_runs([Path(p) for p in run_dirs])
    chosen = pick_tasks(runs, tasks)
    metrics = pick_metrics(runs, chosen, metric)
    out = Path(out_dir) if out_dir is not None else runs[0].path / "plots"
    names = set(metrics.values())
    metric_file = f"valid_{file_safe(names.pop())}.png" if len(names) == 1 else "valid_metric.png"
    figures = [("training loss", "train", {t: "loss" for t in chosen}, "train_loss.png"),
               ("validation loss (teacher-forced, per token)", "valid", {t: "loss" for t in chosen},
                "valid_loss.png"),
               ("validation metric (decoded)", "valid", metrics, metric_file)]
    written = []
    for title, split, keys, file in figures:
        panels = [(task, keys[task], {run.name: run.curve(split, task, keys[task]) for run in runs})
                  for task in chosen]
        if not any(curve for _, _, curves in panels for curve in curves.values()):
            log.warning("no %s records of %s in these runs: %s not written", split,
                        ", ".join(chosen), file)
            continue
        out.mkdir(parents=True, exist_ok=True)
        draw_figure(title, panels, out / file)
        written.append(out / file)
    return written


def draw_figure(title: str, panels: list[tuple[str, str, dict[str, Curve]]], path: Path) -> None:
    """One PNG: a grid of panels (task, y label, run name -> curve), the runs overlaid."""
    figure_class, canvas_class = matplotlib_classes()
    from matplotlib.ticker import MaxNLocator

    cols = min(len(panels), 3)
    rows = math.ceil(len(panels) / cols)
    figure = figure_class(figsize=(4.5 * cols, 3.4 * rows), dpi=100, layout="constrained")
    canvas_class(figure)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for ax, (task, ylabel, curves) in zip(axes, panels):
        for name, curve in curves.items():
            if curve:
                steps, values = zip(*curve)
                ax.plot(steps, values, label=name, marker="o" if len(curve) < 30 else None,
                        markersize=3, linewidth=1.3)
        if not any(curves.values()):
            ax.text(0.5, 0.5, f"no {ylabel} records", ha="center", va="center",
                    transform=ax.transAxes, color="gray")
            ax.set_xticks([]), ax.set_yticks([])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # updates are whole numbers
        ax.set_title(task)
        ax.set_xlabel("updates")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if any(curves.values()):
            ax.legend(fontsize="small")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    figure.suptitle(title)
    figure.savefig(path, format="png")


def matplotlib_classes() -> tuple[type, type]:
    """matplotlib's Figure and Agg canvas classes, or a UserError saying how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError("plotting needs matplotlib, which is not installed: "
                        "pip install mtseq2seq[plot]") from None
    return Figure, FigureCanvasAgg


def file_safe(name: str) -> str:
    """A metric or task name fit for a file name (`en>de` -> `en-de`)."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `plot` command's arguments."""
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="run directories (each with the metrics.jsonl of `mtseq2seq train`); "
                             "several are overlaid, named by their directory")
    parser.add_argument("--task", action="append", default=None, metavar="T",
                        help="draw only this task (repeatable, or a comma list; en-de names en>de)")
    parser.add_argument("--metric", default=None, metavar="M",
                        help="the validation metric to draw (default: each task's first decoded "
                             "metric, e.g. bleu or tree_f1; acc when nothing was decoded)")
    parser.add_argument("-o", "--output", default=None, metavar="DIR",
                        help="where the PNG files go (default: the first run directory's plots/)")


def run(args: argparse.Namespace) -> int:
    """`mtseq2seq plot`: draw the curves and print each file written."""
    for path in plot_runs(args.run_dirs, args.task, args.metric, args.output):
        print(path)
    return 0
