"""The tables decode_speed.py prints and records: sentences/s per system and search, ratios
against each peer, the issue targets met or missed, and the peak-RSS notes."""
from __future__ import annotations

import argparse

import ct2_peer
from common import median, spread, table


def report(results: dict, rss: dict, args: argparse.Namespace) -> str:
    rate = {k: median(v) for k, v in results.items()}
    rows = []
    for key, values in results.items():
        name, mode = key.rsplit(" ", 1)
        vs, system = rate.get(f"hf {mode}"), name.split()[0]
        precision = name.split()[1] if system == "ct2" else args.precision
        peak = rss.get(name, {}).get(mode)
        rows.append([system, mode, precision, rate[key], spread(values),
                     f"{rate[key] / vs:.2f}" if vs else "-",
                     "-" if name == "ours" else f"{rate[f'ours {mode}'] / rate[key]:.2f}",
                     f"{peak:,.0f}" if peak else "-"])
    body = table(["system", "search", "precision", "sentences/s (median)", "min-max", "vs HF",
                  "ours / this", "peak RSS MiB"], rows)
    goals = {"greedy": 1.5, f"beam{args.beam}": 2.0}
    checks = [[f"ours / HF {mode}", f"{rate[f'ours {mode}'] / rate[f'hf {mode}']:.2f}", f">= {goal}",
               "met" if rate[f"ours {mode}"] / rate[f"hf {mode}"] >= goal else "MISSED"]
              for mode, goal in goals.items() if f"hf {mode}" in rate]
    ct2_checks, notes = ct2_peer.target(rate, list(goals), args.beam)
    checks += ct2_checks
    checks += [[f"ours / before {mode}", f"{rate[f'ours {mode}'] / rate[f'before {mode}']:.3f}",
                "0.97-1.03", "met" if abs(rate[f"ours {mode}"] / rate[f"before {mode}"] - 1) <= 0.03
                else "MISSED"] for mode in goals if f"before {mode}" in rate]
    if rss:
        notes.append("- peak RSS: a fresh process per system (building it, then decoding every "
                     "batch greedily, then with the beam; the beam row is the peak over both passes); "
                     "the libraries alone, before the model: " + ", ".join(
                         f"{name} {v['libraries']:,.0f}" for name, v in rss.items())
                     + " MiB (torch imported; ct2: ctranslate2 only)")
    ratios = "\n\n" + table(["ratio", "measured", "target", ""], checks) if checks else ""
    return (f"{args.sentences} sentences, batch {args.batch}, {args.steps} decoder steps per sentence "
            f"on every side\n\n{body}{ratios}" + ("\n\n" + "\n".join(notes) if notes else ""))
