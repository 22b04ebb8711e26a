"""Training throughput (target tokens/s) of our Transformer and LSTM against Hugging Face Marian,
plain ``torch.nn.Transformer`` and JoeyNMT 2.3, on the same synthetic batches, with MFU.

    python bench/train_speed.py --joey-python /work/joeyvenv/bin/python --precision fp32 bf16

Sizes: d_model 256, 3+3 layers, 4 heads, FFN 1024, vocabulary 8000, dropout 0.1 everywhere
(embeddings, residual branches, attention weights, FFN hidden units); LSTMs: 2 layers, embeddings
256, encoder 2 x 256 (bidirectional), decoder 512 with Luong attention and input feeding.
Batches of about ``--batch-tokens`` target tokens (see synthetic.py). Each measurement is
``--steps`` updates after ``--warmup`` untimed ones, the systems interleaved update by update;
``--repeats`` such measurements per system; the table shows medians. MFU: analytic training FLOPs
of the real tokens (synthetic.py) per second, over the FLOP/s of large matmuls in the same
precision (the best of torch.matmul and oneDNN on this machine), measured in the same run.

Memory (``--no-memory`` skips it): the peak RSS of training, per system and precision, each in a
fresh process that builds only that system and trains one update on every distinct batch (see
``memory``); after the timing, not timed.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ modules
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the mtseq2seq checkout

import systems  # noqa: E402
from common import (  # noqa: E402
    QUIET,
    add_run_flags,
    append_results,
    in_fresh_process,
    interleaved,
    interleaved_rounds,
    matmul_ceiling,
    median,
    rss_mib,
    set_threads,
    spread,
    table,
)
from joey_client import JoeyDriver  # noqa: E402
from synthetic import Sizes, make_batches, rnn_flops, save_batches, transformer_flops  # noqa: E402

from mtseq2seq.allocator import keep_freed_cpu_memory  # noqa: E402

ALL = ["ours", "hf", "torch", "joey", "ours-rnn", "joey-rnn"]
EXTRA = ["before", "before-rnn", "ours-mkl", "ours-rnn-mkl"]
FAMILY = {"ours": "transformer", "hf": "transformer", "torch": "transformer", "joey": "transformer",
          "before": "transformer", "ours-mkl": "transformer", "ours-rnn": "rnn", "joey-rnn": "rnn",
          "before-rnn": "rnn", "ours-rnn-mkl": "rnn"}
LABEL = {"ours": "mtseq2seq Transformer", "hf": "HF MarianMTModel", "torch": "torch.nn.Transformer",
         "joey": "JoeyNMT Transformer", "before": "mtseq2seq Transformer (before)",
         "ours-mkl": "mtseq2seq Transformer, F.linear (MKL)", "ours-rnn": "mtseq2seq LSTM",
         "joey-rnn": "JoeyNMT LSTM", "before-rnn": "mtseq2seq LSTM (before)",
         "ours-rnn-mkl": "mtseq2seq LSTM, F.linear (MKL)"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32"])
    parser.add_argument("--systems", nargs="+", choices=ALL + EXTRA, default=ALL,
                        help="ours-mkl: ours with our Linear layers on F.linear (MKL), to isolate oneDNN")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=6, help="timed updates per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed updates first")
    parser.add_argument("--batches", type=int, default=6, help="distinct batches, cycled")
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--joey-python", default=None, help="JoeyNMT's interpreter (its venv)")
    parser.add_argument("--joey-loss", choices=["own", "ce"], default="own")
    parser.add_argument("--before", default=None, metavar="DIR",
                        help="folder holding mtseq2seq_before (bench/make_before.py) for 'before'")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak RSS column (a fresh process per system and precision)")
    add_run_flags(parser)
    return parser.parse_args()


def in_process(name: str, batches: list[dict], sizes: Sizes, args: argparse.Namespace,
               precision: str) -> systems.System:
    torch.manual_seed(1)
    family = FAMILY[name]
    if name.startswith(("ours", "before")):
        package = "mtseq2seq_before" if name.startswith("before") else "mtseq2seq"
        model, forward, loss = systems.ours(package, family, sizes)
        return systems.System(name, model, forward, batches, args.device, precision, loss,
                              onednn=not name.endswith("-mkl"),
                              fused_adam=name.startswith("ours"))  # as mtseq2seq/optim.py builds it
    model, forward = systems.marian(sizes) if name == "hf" else systems.torch_baseline(sizes)
    return systems.System(name, model, forward, batches, args.device, precision)


def build_units(args: argparse.Namespace, batches: list[dict], sizes: Sizes, workdir: Path
                ) -> tuple[dict, dict]:
    """name -> unit(i) (one timed update on batch i: seconds, tokens), and extras (parameters,
    the JoeyNMT driver). Every system runs ``--warmup`` untimed updates first."""
    units, params, joey = {}, {}, None
    if any(s.startswith("joey") for s in args.systems):
        if not args.joey_python:
            sys.exit("--joey-python is needed for the joey systems (or leave them out with --systems)")
        save_batches(batches, workdir / "batches.json")
        joey = JoeyDriver(args.joey_python, workdir / "batches.json", dataclasses.asdict(sizes),
                          args.threads)
    for precision in args.precision:
        for name in args.systems:
            key = f"{name} {precision}"
            if name.startswith("joey"):
                def unit(i: int, family=FAMILY[name], precision=precision, key=key
                         ) -> tuple[float, int]:
                    reply = joey.run(family, 1 if i >= 0 else args.warmup, args.joey_loss, precision,
                                     max(i, 0))
                    params[key] = reply["params"]
                    return reply["seconds"], reply["tokens"]
                unit(-1)  # warm-up
            else:
                system = in_process(name, batches, sizes, args, precision)
                params[key] = system.params
                system.run(args.warmup)
                unit = system.unit
            units[key] = unit
    return units, {"params": params, "joey": joey}


MEMORY_STEPS = 3  # at least this many updates per memory child (Adam's state exists after the first)


def memory(args: argparse.Namespace, batches: list[dict], workdir: Path) -> dict[str, dict]:
    """Peak RSS (MiB) of training per system and precision: {key: {"libraries": MiB, "peak": MiB}}.

    VmHWM is per process and only grows, so this process (which holds every system) cannot tell
    them apart: each system and precision gets a fresh process that imports its libraries (its RSS
    then: "libraries"), builds only that system and trains one update on every distinct batch (at
    least ``MEMORY_STEPS``), the largest batch included; "peak" is its VmHWM after them. In-process
    systems: a ``spawn`` child of this script (torch and the bench's modules imported). JoeyNMT: a
    fresh ``joeynmt_driver.py`` in its own interpreter (torch and joeynmt imported, the batches
    loaded, before it says it is ready), its /proc/PID/status read here, as the driver does not
    report memory itself. Host memory only (``--device cuda``: not the GPU's)."""
    steps, threads, out = max(MEMORY_STEPS, len(batches)), torch.get_num_threads(), {}
    for precision in args.precision:
        for name in args.systems:
            key = f"{name} {precision}"
            if name.startswith("joey"):
                joey = JoeyDriver(args.joey_python, workdir / "batches.json",
                                  dataclasses.asdict(Sizes()), args.threads)
                try:
                    out[key] = {"libraries": rss_mib("VmRSS", joey.process.pid)}
                    joey.run(FAMILY[name], steps, args.joey_loss, precision)
                    out[key]["peak"] = rss_mib("VmHWM", joey.process.pid)
                finally:
                    joey.close()
            else:
                out[key] = in_fresh_process(memory_child, name, precision, steps, args, threads)
            print(f"  peak RSS {key}: libraries {out[key]['libraries']:,.0f} MiB, training "
                  f"{out[key]['peak']:,.0f} MiB", flush=True)
    return out


def memory_child(name: str, precision: str, steps: int, args: argparse.Namespace, threads: int
                 ) -> dict[str, float]:
    """In a fresh process: system ``name`` alone, built and trained ``steps`` updates; see ``memory``."""
    set_threads(threads)
    keep_freed_cpu_memory()  # as main does: the same malloc settings as the timed run
    if args.before:
        sys.path.insert(0, args.before)
    if name == "hf":
        from transformers import MarianMTModel  # noqa: F401  (transformers is lazy: load the model's code)
    elif name != "torch":
        package = "mtseq2seq_before" if name.startswith("before") else "mtseq2seq"
        for module in ("loss", "modules.linear", f"modules.{FAMILY[name]}"):
            importlib.import_module(f"{package}.{module}")
    libraries = rss_mib()  # the libraries alone, before the model
    sizes = Sizes()
    batches = make_batches(args.batches, args.batch_tokens, sizes.vocab)  # the same (seeded) batches
    in_process(name, batches, sizes, args, precision).run(steps)
    return {"libraries": libraries, "peak": rss_mib("VmHWM")}


def report(args, results: dict, extra: dict, batches: list[dict], sizes: Sizes, ceilings: dict,
           rss: dict) -> str:
    used = [batches[i % len(batches)] for i in range(args.steps)]
    tokens = sum(sum(len(t) + 1 for t in b["tgt"]) for b in used)
    per_token = {"transformer": sum(transformer_flops(b, sizes) for b in used) / tokens,
                 "rnn": sum(rnn_flops(b, sizes) for b in used) / tokens}
    rate = {k: median(v) for k, v in results.items()}
    rows = []
    for key, values in results.items():
        name, precision = key.split()
        family = FAMILY[name]
        achieved = rate[key] * per_token[family]
        peer = "hf" if family == "transformer" else "joey-rnn"
        vs = rate.get(f"{peer} {precision}")
        rows.append([LABEL[name], precision, f"{extra['params'].get(key, 0) / 1e6:.1f}M", rate[key],
                     spread(values), f"{rate[key] / vs:.2f}" if vs else "-",
                     f"{achieved / 1e9:.1f}", f"{100 * achieved / ceilings[precision]:.1f}%",
                     f"{rss[key]['peak']:,.0f}" if key in rss else "-"])
    headers = ["system", "precision", "params", "target tok/s (median)", "min-max",
               "vs HF (rnn: vs Joey)", "GFLOP/s", "MFU", "peak RSS MiB"]
    body = (f"{len(batches)} synthetic batches, {tokens / len(used):,.0f} target tokens per update on "
            f"average; {args.steps} updates per repeat, interleaved update by update; medians of "
            f"{args.repeats} repeats\n\n" + table(headers, rows))
    body += "\n\nmatmul ceilings (2048^3, best of torch.matmul and oneDNN, median): " + ", ".join(
        f"{p} {c / 1e9:.0f} GFLOP/s" for p, c in ceilings.items())
    if rss:
        libraries = {key.split()[0]: v["libraries"] for key, v in rss.items()}
        body += (f"\n\npeak RSS: a fresh process per system and precision, building only that "
                 f"system and training {max(MEMORY_STEPS, len(batches))} updates (one per distinct "
                 f"batch, at least {MEMORY_STEPS}); the libraries alone, before the model: "
                 + ", ".join(f"{name} {v:,.0f}" for name, v in libraries.items())
                 + " MiB (torch imported; JoeyNMT: its driver with torch and joeynmt)")
    return body + "\n\n" + targets(rate)


def targets(rate: dict) -> str:
    checks = [("ours fp32 / HF fp32", "ours fp32", "hf fp32", 1.2),
              ("ours fp32 / JoeyNMT fp32", "ours fp32", "joey fp32", 1.5),
              ("ours bf16 / ours fp32", "ours bf16", "ours fp32", 1.5),
              ("ours fp32 / torch.nn.Transformer fp32", "ours fp32", "torch fp32", None),
              ("ours fp32 / ours before fp32", "ours fp32", "before fp32", None),
              ("ours bf16 / ours before bf16", "ours bf16", "before bf16", None),
              ("ours LSTM fp32 / ours LSTM before fp32", "ours-rnn fp32", "before-rnn fp32", None),
              ("ours fp32 / ours with F.linear (MKL) fp32", "ours fp32", "ours-mkl fp32", None),
              ("ours LSTM fp32 / JoeyNMT LSTM fp32", "ours-rnn fp32", "joey-rnn fp32", None)]
    rows = []
    for label, a, b, goal in checks:
        if a in rate and b in rate:
            ratio = rate[a] / rate[b]
            verdict = "-" if goal is None else ("met" if ratio >= goal else "MISSED")
            rows.append([label, f"{ratio:.2f}", f">= {goal}" if goal else "-", verdict])
    return table(["ratio", "measured", "target", ""], rows) if rows else ""


def main() -> None:
    args = parse_args()
    QUIET["enabled"] = args.quiet_cpu
    set_threads(args.threads)
    keep_freed_cpu_memory()  # what our trainer does on the CPU; every system here (and JoeyNMT's) gets it
    if args.before:
        sys.path.insert(0, args.before)
    sizes = Sizes()
    batches = make_batches(args.batches, args.batch_tokens, sizes.vocab)
    print(f"{len(batches)} batches, {sum(len(b['tgt']) for b in batches) / len(batches):.0f} "
          f"sentences and {sum(sum(len(t) + 1 for t in b['tgt']) for b in batches) / len(batches):.0f} "
          "target tokens on average", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        units, extra = build_units(args, batches, sizes, Path(tmp))
        results = interleaved_rounds(units, args.steps, args.repeats)
        ceilings = {p: median(values) for p, values in interleaved({p: (lambda p=p: matmul_ceiling(
            torch.float32 if p == "fp32" else torch.bfloat16, args.device)) for p in args.precision},
            args.repeats, log=False).items()}
        if extra["joey"]:
            extra["joey"].close()
        rss = {} if args.no_memory else memory(args, batches, Path(tmp))
    body = report(args, results, extra, batches, sizes, ceilings, rss)
    print("\n" + body)
    if not args.no_record:
        versions = {"joeynmt": extra["joey"].info["joeynmt"]} if extra["joey"] else {}
        append_results("Training speed", body, args.device, versions)


if __name__ == "__main__":
    main()
