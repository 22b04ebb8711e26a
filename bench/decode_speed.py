"""Decoding speed (sentences/s): our greedy and beam search against Hugging Face ``generate``.

    python bench/decode_speed.py [--sentences 1000] [--batch 64] [--beam 5] [--steps 26]

Both sides are randomly initialised Transformers of the training benchmark's sizes (d_model 256,
3+3 layers, 4 heads, FFN 1024, vocabulary 8000); the sources are ``--sentences`` random sentences
of 10-40 words (synthetic.py), sorted by length and cut into batches of ``--batch``.

Fairness: every sentence gets exactly ``--steps`` decoder steps on both sides, so neither side wins
by stopping early on a random model. HF: ``min_new_tokens = max_new_tokens = steps`` (EOS is banned
until then; no sentence ends early). Ours: ``mtseq2seq.search.decode`` with ``max_len_a = 0``,
``max_len_b = steps - 1`` and the decoder wrapped in ``NoEarlyEOS``, which sets the EOS logit to -inf
before the last step; the last step is the forced EOS, so ours also runs ``steps`` decoder steps
(steps - 1 words + EOS) per hypothesis. Both run under ``torch.inference_mode``, with the same threads,
interleaved batch by batch (every system decodes batch i before any decodes batch i + 1), medians of
``--repeats``. ``--before DIR`` adds our previous revision (make_before.py),
loaded with the same weights, and checks that it produces the same outputs.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import systems  # noqa: E402
from common import (  # noqa: E402
    QUIET,
    add_run_flags,
    append_results,
    interleaved_rounds,
    median,
    set_threads,
    spread,
    synchronize,
    table,
)
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
    model, _ = systems.marian(sizes)
    model.eval()

    def run(src: Tensor, beam: int) -> list[list[int]]:
        out = model.generate(input_ids=src, attention_mask=src.ne(PAD), num_beams=beam,
                             do_sample=False, max_new_tokens=steps, min_new_tokens=steps,
                             early_stopping=False, num_return_sequences=1)
        return out[:, 1:].tolist()  # without the decoder start token
    return run


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
    parser.add_argument("--steps", type=int, default=26, help="decoder steps per sentence, both sides")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--before", default=None, metavar="DIR", help="also our older revision")
    parser.add_argument("--systems", nargs="+", choices=["ours", "hf"], default=["ours", "hf"],
                        help="leave out hf where transformers is not installed (ours always runs)")
    add_run_flags(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    QUIET["enabled"] = args.quiet_cpu
    set_threads(args.threads)
    torch.manual_seed(1)
    sizes = Sizes()
    batches = source_batches(args.sentences, args.batch, sizes.vocab)
    weights, ours_run = ours("mtseq2seq", sizes, args.steps, None)
    systems_ = {"ours": ours_run}
    if "hf" in args.systems:
        systems_["hf"] = hf(sizes, args.steps)
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
    body = report(results, args) + "\n\n" + check
    print("\n" + body)
    if not args.no_record:
        append_results("Decoding speed", body, args.device)


def outputs_check(systems_: dict, src: Tensor, beam: int) -> str:
    """Lengths of every side's outputs (all must be steps - 1 or steps words), and before == after."""
    lines = []
    with torch.inference_mode():
        outs = {name: run(src, beam) for name, run in systems_.items()}
    for name, out in outs.items():
        lengths = sorted({len([t for t in row if t != PAD]) for row in out})
        lines.append(f"{name}: output lengths (words, EOS excluded) {lengths}")
    if "before" in outs:
        lines.append(f"ours == before (same weights, beam {beam}): {outs['ours'] == outs['before']}")
    return "\n".join(f"- {line}" for line in lines)


def report(results: dict, args: argparse.Namespace) -> str:
    rate = {k: median(v) for k, v in results.items()}
    rows = []
    for key, values in results.items():
        name, mode = key.split()
        vs = rate.get(f"hf {mode}")
        rows.append([name, mode, args.precision, rate[key], spread(values),
                     f"{rate[key] / vs:.2f}" if vs else "-"])
    body = table(["system", "search", "precision", "sentences/s (median)", "min-max", "vs HF"], rows)
    goals = {"greedy": 1.5, f"beam{args.beam}": 2.0}
    checks = [[f"ours / HF {mode}", f"{rate[f'ours {mode}'] / rate[f'hf {mode}']:.2f}", f">= {goal}",
               "met" if rate[f"ours {mode}"] / rate[f"hf {mode}"] >= goal else "MISSED"]
              for mode, goal in goals.items() if f"hf {mode}" in rate]
    checks += [[f"ours / before {mode}", f"{rate[f'ours {mode}'] / rate[f'before {mode}']:.3f}",
                "0.97-1.03", "met" if abs(rate[f"ours {mode}"] / rate[f"before {mode}"] - 1) <= 0.03
                else "MISSED"] for mode in goals if f"before {mode}" in rate]
    return (f"{args.sentences} sentences, batch {args.batch}, {args.steps} decoder steps per sentence "
            f"on both sides\n\n{body}\n\n" + table(["ratio", "measured", "target", ""], checks))


if __name__ == "__main__":
    main()
