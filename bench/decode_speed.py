"""Decoding speed (sentences/s) and peak memory: our greedy and beam search against Hugging Face
``generate`` and CTranslate2 (fp32 and int8).

    python bench/decode_speed.py [--sentences 1000] [--batch 64] [--beam 5] [--steps 26]
                                 [--systems ours hf ct2 | --ctranslate2] [--no-memory]

All are randomly initialised Transformers of the training benchmark's sizes (d_model 256, 3+3
layers, 4 heads, FFN 1024, vocabulary 8000); CT2 is the HF peer's model converted (ct2_peer.py),
decoding the same source ids as token strings. The sources are ``--sentences`` random sentences
of 10-40 words (synthetic.py), sorted by length and cut into batches of ``--batch``.

Fairness: every sentence gets exactly ``--steps`` decoder steps on every side, so no side wins by
stopping early on a random model. HF: ``min_new_tokens = max_new_tokens = steps`` (EOS is banned
until then; no sentence ends early). CT2: ``min_decoding_length = max_decoding_length = steps``
(every output is checked to be ``steps`` words). Ours: ``mtseq2seq.search.decode`` with ``max_len_a = 0``,
``max_len_b = steps - 1`` and the decoder wrapped in ``NoEarlyEOS``, which sets the EOS logit to -inf
before the last step; the last step is the forced EOS, so ours also runs ``steps`` decoder steps
(steps - 1 words + EOS) per hypothesis. All run with the same threads (CT2: ``intra_threads``, one
inter-op thread), interleaved batch by batch (every system decodes batch i before any decodes batch
i + 1), medians of ``--repeats``. ``--before DIR`` adds our previous revision (make_before.py),
loaded with the same weights, and checks that it produces the same outputs.

Memory (``memory``; ``--no-memory`` skips it): the peak RSS of a fresh process per system that
builds only that system and decodes every batch once greedily and once with the beam.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import ct2_peer  # noqa: E402
import systems  # noqa: E402
from common import (  # noqa: E402
    QUIET,
    add_run_flags,
    append_results,
    in_fresh_process,
    interleaved_rounds,
    rss_mib,
    set_threads,
    synchronize,
    version_of,
)
from decode_report import report  # noqa: E402
from synthetic import EOS, PAD, Sizes, pad, sentence_lengths  # noqa: E402


def no_early_eos(package: str, steps: int):
    """A ``Decoder`` of ``package`` wrapping another one: EOS forbidden before step ``steps - 1``."""
    base = importlib.import_module(f"{package}.modules.base")

    class NoEarlyEOS(base.Decoder):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner, self.memory_size, self.words = inner, inner.memory_size, steps - 1

        def forward(self, tgt_in: Tensor, memory) -> Tensor:
            return self.inner(tgt_in, memory)

        def init_state(self, memory):
            return {"inner": self.inner.init_state(memory), "t": 0}

        def step(self, prev: Tensor, memory, state):
            logits, inner = self.inner.step(prev, memory, state["inner"])  # (N, V)
            if state["t"] < self.words:
                logits[:, EOS] = float("-inf")
            return logits, {"inner": inner, "t": state["t"] + 1}

        def reorder_state(self, state, order: Tensor):
            return {"inner": self.inner.reorder_state(state["inner"], order), "t": state["t"]}

    return NoEarlyEOS


def ours(package: str, sizes: Sizes, steps: int, weights: dict | None):
    """Our model (MultiTaskModel of ``package``) and a function decoding one batch with it."""
    model_module = importlib.import_module(f"{package}.model")
    search = importlib.import_module(f"{package}.search")
    seq2seq, _, _ = systems.ours(package, "transformer", sizes)
    if weights is not None:
        seq2seq.load_state_dict(weights)
    decoder = no_early_eos(package, steps)(seq2seq.decoder)
    # revisions before the task-kind redesign took PAD ids per slot, and no src_mask in decode
    old_model = "pad_ids" in inspect.signature(model_module.MultiTaskModel).parameters
    model = model_module.MultiTaskModel({"src": seq2seq.encoder}, {"tgt": decoder},
                                        {"t": ("src", "tgt")},
                                        *([{"src": PAD, "tgt": PAD}] if old_model else [])).eval()
    takes_mask = "src_mask" in inspect.signature(search.decode).parameters

    def run(src: Tensor, beam: int) -> list[list[int]]:
        mask = [src.ne(PAD)] if takes_mask else []
        result = search.decode(model, "t", src, *mask, beam=beam, max_len_a=0.0,
                               max_len_b=steps - 1, max_len_cap=steps)
        return result.best_tokens()
    return seq2seq.state_dict(), run


def hf(sizes: Sizes, steps: int):
    """HF MarianMTModel of the same sizes and a function decoding one batch with ``generate``."""
    model, _ = systems.marian(sizes)
    model.eval()

    def run(src: Tensor, beam: int) -> list[list[int]]:
        out = model.generate(input_ids=src, attention_mask=src.ne(PAD), num_beams=beam,
                             do_sample=False, max_new_tokens=steps, min_new_tokens=steps,
                             early_stopping=False, num_return_sequences=1)
        return out[:, 1:].tolist()  # without the decoder start token
    return model, run


def source_batches(count: int, batch: int, vocab: int, seed: int = 3) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lengths = sorted(s for s, _ in sentence_lengths(count, seed))
    rows = [torch.randint(4, vocab, (n,), generator=gen).tolist() + [EOS] for n in lengths]
    return [pad(rows[i:i + batch], PAD) for i in range(0, len(rows), batch)]


def unit(run, batches: list[Tensor], beam: int, precision: str, device: str):
    """Decoding batch i once, timed: (seconds, sentences), for ``common.interleaved_rounds``."""
    def decode_batch(i: int) -> tuple[float, float]:
        autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16) \
            if precision == "bf16" else nullcontext()
        src = batches[i].to(device)
        synchronize(device)
        start = time.perf_counter()
        with torch.inference_mode(), autocast:
            run(src, beam)
        synchronize(device)
        return time.perf_counter() - start, float(len(src))
    return decode_batch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--steps", type=int, default=26, help="decoder steps per sentence, every side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="ours, before and hf (ct2 always runs fp32 and int8)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--before", default=None, metavar="DIR", help="also our older revision")
    parser.add_argument("--systems", nargs="+", choices=["ours", "hf", "ct2"], default=["ours", "hf"],
                        help="hf needs transformers, ct2 also ctranslate2 (pip install -e '.[bench]'); "
                             "ours always runs")
    parser.add_argument("--ctranslate2", action="store_true",
                        help="add ct2 (CTranslate2 fp32 and int8 rows) to --systems")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak RSS column (one decode pass per system in a child)")
    add_run_flags(parser)
    args = parser.parse_args()
    if args.ctranslate2 and "ct2" not in args.systems:
        args.systems.append("ct2")
    return args


def require(*modules: str) -> None:
    """Stop with the install command when an optional peer's package is missing (imported lazily)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not installed: pip install -e '.[bench]' "
                         "(or leave hf and ct2 out of --systems)")


def main() -> None:
    args = parse_args()
    require(*(["transformers"] if {"hf", "ct2"} & set(args.systems) else []),
            *(["ctranslate2"] if "ct2" in args.systems else []))
    QUIET["enabled"] = args.quiet_cpu
    set_threads(args.threads)
    torch.manual_seed(1)
    sizes = Sizes()
    batches = source_batches(args.sentences, args.batch, sizes.vocab)
    weights, ours_run = ours("mtseq2seq", sizes, args.steps, None)
    systems_ = {"ours": ours_run}
    with tempfile.TemporaryDirectory(prefix="decode_speed_") as tmp:
        if {"hf", "ct2"} & set(args.systems):
            marian, hf_run = hf(sizes, args.steps)
            if "hf" in args.systems:
                systems_["hf"] = hf_run
            if "ct2" in args.systems:  # the HF peer's model (same weights) converted
                systems_.update(ct2_peer.peers(marian, f"{tmp}/ct2", args.device,
                                               torch.get_num_threads(), args.steps))
        if args.before:
            sys.path.insert(0, args.before)
            systems_["before"] = ours("mtseq2seq_before", sizes, args.steps, weights)[1]
        check = outputs_check(systems_, batches[0], args.beam)
        units = {}
        for beam in (1, args.beam):
            for name, run in systems_.items():
                key = f"{name} {'greedy' if beam == 1 else f'beam{beam}'}"
                units[key] = unit(run, batches, beam, args.precision, args.device)
                with torch.inference_mode():
                    run(batches[0][:8], beam)  # warm-up
        results = interleaved_rounds(units, len(batches), args.repeats)
        rss = {} if args.no_memory else memory(list(systems_), args, batches, tmp)
    body = report(results, rss, args) + "\n\n" + check
    print("\n" + body)
    if not args.no_record:
        extra = {"ctranslate2": version_of("ctranslate2")} if "ct2" in args.systems else None
        append_results("Decoding speed", body, args.device, extra)


def memory(names: list[str], args: argparse.Namespace, batches: list[Tensor], tmp: str
           ) -> dict[str, dict[str, float]]:
    """Peak RSS (MiB) per system and search: {name: {"libraries": MiB, "greedy": MiB, "beam5": MiB}}.

    ru_maxrss and VmHWM are per process and only grow, so this process (which holds every system)
    cannot tell them apart: each system gets a fresh process that imports its libraries (RSS
    "libraries"), builds only that system, decodes every batch once greedily (peak: the greedy
    figure) and then once with the beam (peak so far: the beam figure, the larger working set).
    Ours, before and hf: a ``spawn`` child of this script (torch and the bench's modules imported);
    CT2: ``python bench/ct2_peer.py rss`` on the converted model, without torch, as a CTranslate2
    deployment runs. Not timed: the children run one after another, after the timing."""
    threads = torch.get_num_threads()
    rows_file = f"{tmp}/rows.json"
    Path(rows_file).write_text(json.dumps([[[i for i in row if i != PAD] for row in b.tolist()]
                                           for b in batches]))
    out = {}
    for name in names:
        if name.startswith("ct2"):
            out[name] = ct2_peer.measure_rss(f"{tmp}/ct2", name.split()[1], args.device, threads,
                                             args.steps, args.beam, rows_file)
        else:
            out[name] = in_fresh_process(memory_child, name, args, threads)
        print(f"  peak RSS {name}: " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in out[name].items()),
              flush=True)
    return out


def memory_child(name: str, args: argparse.Namespace, threads: int) -> dict[str, float]:
    """In a fresh process: build system ``name`` (ours, before or hf), decode once; see ``memory``."""
    set_threads(threads)
    if args.before:
        sys.path.insert(0, args.before)
    package = "mtseq2seq_before" if name == "before" else "mtseq2seq"
    if name == "hf":
        from transformers import MarianMTModel  # noqa: F401  (transformers is lazy: load the model's code)
    for module in ("model", "search", "modules.transformer"):
        importlib.import_module(f"{package}.{module}")
    out = {"libraries": rss_mib()}  # the libraries alone, before the model
    sizes = Sizes()
    run = hf(sizes, args.steps)[1] if name == "hf" else ours(package, sizes, args.steps, None)[1]
    batches = source_batches(args.sentences, args.batch, sizes.vocab)
    for beam in (1, args.beam):
        decode_batch = unit(run, batches, beam, args.precision, args.device)
        for i in range(len(batches)):
            decode_batch(i)
        out["greedy" if beam == 1 else f"beam{beam}"] = rss_mib("VmHWM")
    return out


def outputs_check(systems_: dict, src: Tensor, beam: int) -> str:
    """Lengths of every side's outputs (all must be steps - 1 or steps words), before == after, and
    how many of CT2 fp32's outputs are the HF peer's (the same model converted)."""
    lines = []
    with torch.inference_mode():
        outs = {name: run(src, beam) for name, run in systems_.items()}
    for name, out in outs.items():
        lengths = sorted({len([t for t in row if t != PAD]) for row in out})
        lines.append(f"{name}: output lengths (words, EOS excluded) {lengths}")
    if "before" in outs:
        lines.append(f"ours == before (same weights, beam {beam}): {outs['ours'] == outs['before']}")
    lines += ct2_peer.agreement(outs, beam)
    return "\n".join(f"- {line}" for line in lines)


if __name__ == "__main__":
    main()
