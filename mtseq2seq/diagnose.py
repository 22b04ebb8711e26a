"""`mtseq2seq diagnose RUN_DIR`: the task-gradient conflicts a run logged (`train.diagnose_every`,
`gradients.py`), per shared module: the cosine matrix of the last check, each task's gradient
norm, and each pair's trend (its cosine at the first, middle and last check, and the mean)."""
from __future__ import annotations

import json
from pathlib import Path

from .errors import UserError


def read_checks(run_dir: Path) -> dict[str, list[dict]]:
    """Module path -> its `split: diagnose` records in step order."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{path} not found: is {run_dir} a run directory?")
    checks: dict[str, list[dict]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"{path}, line {number}: not a JSON record") from None
        if record.get("split") == "diagnose":
            checks.setdefault(record["module"], []).append(record)
    if not checks:
        raise UserError(f"{path} holds no gradient checks: train with train.diagnose_every: N "
                        "(e.g. 100) on a recipe whose tasks share a module")
    return checks


def matrix(record: dict) -> str:
    """The cosine matrix of one check, tasks in the order of their norms."""
    tasks = list(record["norm"])
    width = max(8, *(len(t) for t in tasks))
    lines = [" " * width + "".join(f"{t:>{width + 1}}" for t in tasks) + f"{'norm':>10}"]
    for a in tasks:
        cells = [1.0 if a == b else record["cosine"].get(f"{a}|{b}", record["cosine"].get(f"{b}|{a}"))
                 for b in tasks]
        lines.append(f"{a:<{width}}" + "".join(f"{c:>{width + 1}.3f}" for c in cells) +
                     f"{record['norm'][a]:>10.3g}")
    return "\n".join(lines)


def trend(records: list[dict]) -> str:
    """Per pair: cosine at the first, middle and last check, and the mean over all."""
    first, middle, last = records[0], records[len(records) // 2], records[-1]
    lines = [f"  {'pair':<30} {'step ' + str(first['step']):>11} {'step ' + str(middle['step']):>11}"
             f" {'step ' + str(last['step']):>11} {'mean':>8}"]
    for pair in last["cosine"]:
        values = [r["cosine"][pair] for r in records if pair in r["cosine"]]
        mean = sum(values) / len(values)
        lines.append(f"  {pair.replace('|', ' vs '):<30} {first['cosine'].get(pair, 0):>11.3f} "
                     f"{middle['cosine'].get(pair, 0):>11.3f} {last['cosine'][pair]:>11.3f} "
                     f"{mean:>8.3f}")
    return "\n".join(lines)


def report(run_dir: Path) -> str:
    """The text `mtseq2seq diagnose` prints."""
    parts = []
    for module, records in read_checks(run_dir).items():
        last = records[-1]
        parts.append(f"{module}: {len(records)} check(s); cosines at step {last['step']} "
                     f"(below 0: the tasks pull apart)\n{matrix(last)}\ntrend:\n{trend(records)}")
    return "\n\n".join(parts)
