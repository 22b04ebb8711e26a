"""JoeyNMT side of the training benchmark; runs in JoeyNMT's own interpreter (its virtual environment).

    /work/joeyvenv/bin/python bench/joeynmt_driver.py --batches FILE --sizes JSON [--threads N]

Builds JoeyNMT 2.3 models with its own ``build_model`` from a config of the benchmark's sizes
(Transformer: pre-norm, 3+3 layers; recurrent: bidirectional LSTM encoder, LSTM decoder with Luong
attention and input feeding), then answers one JSON request per stdin line and one JSON line on
stdout, so the benchmark can interleave JoeyNMT with the in-process systems:

    {"system": "transformer" | "rnn", "steps": N, "first": I, "loss": "own" | "ce",
     "precision": "fp32" | "bf16"}             (updates on batches I, I + 1, ..., cycling)
    -> {"seconds": S, "tokens": T, "params": P, "loss": L}

``loss: own`` is JoeyNMT's training step as its trainer runs it: ``model(return_type="loss")`` (its
XentLoss: KL divergence to a smoothed target distribution), divided by the target tokens. ``ce`` is
the benchmark's common loss (``F.cross_entropy`` with label smoothing 0.1) on its logits.
Then backward, clipping to 1.0 and Adam (lr 5e-4, betas 0.9/0.98), as for every other system.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import logging
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from joeynmt.model import build_model
from joeynmt.vocabulary import Vocabulary

PAD, UNK, BOS, EOS = 1, 0, 2, 3  # JoeyNMT's special ids; the batches' ids 4.. are words in both


def vocabulary(size: int) -> Vocabulary:
    specials = SimpleNamespace(unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                               unk_id=UNK, pad_id=PAD, bos_id=BOS, eos_id=EOS, sep_token=None,
                               sep_id=None, lang_tags=[])
    return Vocabulary([f"w{i}" for i in range(4, size)], specials)


def model_config(family: str, sizes: dict) -> dict:
    drop = sizes["dropout"]
    if family == "transformer":
        side = {"type": "transformer", "num_layers": sizes["layers"], "num_heads": sizes["heads"],
                "hidden_size": sizes["dim"], "ff_size": sizes["ff"], "dropout": drop,
                "layer_norm": "pre", "activation": "relu",
                "embeddings": {"embedding_dim": sizes["dim"], "scale": True, "dropout": drop}}
        return {"encoder": dict(side), "decoder": dict(side), "tied_embeddings": False,
                "tied_softmax": False}
    embed = {"embedding_dim": sizes["rnn_embed"], "scale": True, "dropout": drop}
    encoder = {"type": "recurrent", "rnn_type": "lstm", "hidden_size": sizes["rnn_dim"] // 2,
               "bidirectional": True, "num_layers": sizes["rnn_layers"], "dropout": drop,
               "embeddings": embed}
    decoder = {"type": "recurrent", "rnn_type": "lstm", "hidden_size": sizes["rnn_dim"],
               "attention": "luong", "num_layers": sizes["rnn_layers"], "dropout": drop,
               "hidden_dropout": drop, "input_feeding": True, "init_hidden": "bridge",
               "embeddings": embed}
    return {"encoder": encoder, "decoder": decoder, "tied_embeddings": False, "tied_softmax": False}


def pad(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)


def joey_batch(batch: dict) -> dict:
    """What joeynmt.batch.Batch holds in training: src + EOS, BOS + tgt (input), tgt + EOS (output)."""
    src = pad([s + [EOS] for s in batch["src"]])  # (B, S)
    trg = pad([t + [EOS] for t in batch["tgt"]])  # (B, T)
    return {"src": src, "src_length": src.ne(PAD).sum(1), "src_mask": src.ne(PAD).unsqueeze(1),
            "trg_input": pad([[BOS] + t for t in batch["tgt"]]), "trg": trg,
            "trg_mask": trg.ne(PAD).unsqueeze(1), "tokens": int(trg.ne(PAD).sum())}


class Runner:
    """One JoeyNMT model, its Adam, and a training step on the shared batches."""

    def __init__(self, family: str, sizes: dict, batches: list[dict]) -> None:
        vocab = vocabulary(sizes["vocab"])
        self.model = build_model(model_config(family, sizes), src_vocab=vocab, trg_vocab=vocab)
        self.model.loss_function = ("crossentropy", 0.1)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=5e-4, betas=(0.9, 0.98))
        self.inputs = [joey_batch(b) for b in batches]
        self.params = sum(p.numel() for p in self.model.parameters())

    def step(self, batch: dict, loss_kind: str, precision: str) -> float:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        inputs = {k: v for k, v in batch.items() if k != "tokens"}
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
        with autocast:
            if loss_kind == "own":
                summed = self.model(return_type="loss", **inputs)[0]
            else:
                logits = self.model._encode_decode(**inputs)[0]  # (B, T, V)
        if loss_kind != "own":
            summed = F.cross_entropy(logits.float().flatten(0, 1), batch["trg"].flatten(),
                                     ignore_index=PAD, label_smoothing=0.1, reduction="sum")
        (summed / batch["tokens"]).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return float(summed.detach()) / batch["tokens"]

    def run(self, steps: int, loss_kind: str, precision: str, first: int = 0) -> dict:
        start, tokens, loss = time.perf_counter(), 0, 0.0
        for i in range(first, first + steps):
            batch = self.inputs[i % len(self.inputs)]
            loss = self.step(batch, loss_kind, precision)
            tokens += batch["tokens"]
        return {"seconds": time.perf_counter() - start, "tokens": tokens, "params": self.params,
                "loss": loss}


def keep_freed_cpu_memory() -> bool:
    """mtseq2seq's allocator setting (mtseq2seq/allocator.py, loaded by path: this interpreter does
    not have mtseq2seq installed), so JoeyNMT trains with the same malloc behaviour as ours."""
    path = Path(__file__).resolve().parent.parent / "mtseq2seq" / "allocator.py"
    spec = importlib.util.spec_from_file_location("mtseq2seq_allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.keep_freed_cpu_memory()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", required=True, help="JSON file of synthetic batches")
    parser.add_argument("--sizes", required=True, help="JSON object of model sizes")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    keep_freed_cpu_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.batches, encoding="utf-8") as handle:
        batches = json.load(handle)
    sizes = json.loads(args.sizes)
    runners: dict[str, Runner] = {}
    print(json.dumps({"ready": True, "joeynmt": importlib.metadata.version("joeynmt"),
                      "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        family = request["system"]
        if family not in runners:
            runners[family] = Runner(family, sizes, batches)
        reply = runners[family].run(request["steps"], request.get("loss", "own"),
                                    request.get("precision", "fp32"), request.get("first", 0))
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
