#!/usr/bin/env python
"""The FDU-MTL results table: per-domain test accuracy of the multi-task run (each domain's own
best checkpoint) against the 16 single-domain runs, and both averages, from evaluate's JSONs.

    python recipes/fdu_mtl/summarize.py recipes/fdu_mtl/results
reads multi_task.<domain>.test.json and single_<domain>.test.json there and prints Markdown.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DOMAINS = ["apparel", "baby", "books", "camera_photo", "dvd", "electronics", "health_personal_care",
           "imdb", "kitchen_housewares", "magazines", "MR", "music", "software", "sports_outdoors",
           "toys_games", "video"]


def accuracy(path: Path, task: str) -> float:
    scores = json.loads(path.read_text(encoding="utf-8"))["scores"]
    return next(s["score"] for s in scores if s["task"] == task)


def main(folder: Path) -> None:
    rows, multi, single = [], [], []
    for domain in DOMAINS:
        m = accuracy(folder / f"multi_task.{domain}.test.json", domain)
        s = accuracy(folder / f"single_{domain}.test.json", "sentiment")
        multi.append(m)
        single.append(s)
        rows.append(f"| {domain} | {s:.2f} | {m:.2f} | {m - s:+.2f} |")
    mean_m, mean_s = sum(multi) / len(multi), sum(single) / len(single)
    print("| domain | single-task | multi-task | difference |\n|---|---|---|---|")
    print("\n".join(rows))
    print(f"| **average** | **{mean_s:.2f}** | **{mean_m:.2f}** | **{mean_m - mean_s:+.2f}** |")
    better = sum(m > s for m, s in zip(multi, single))
    print(f"\nmulti-task better on {better} of {len(DOMAINS)} domains, "
          f"worse on {sum(m < s for m, s in zip(multi, single))}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "recipes/fdu_mtl/results"))
