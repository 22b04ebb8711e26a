"""The in-process systems of the training benchmark, each a model plus its own training step.

Every system runs the same update on the same batches: forward, label-smoothed (0.1) cross-entropy
summed over target tokens and divided by their number, backward, gradient-norm clipping to 1.0, Adam
(lr 5e-4, betas 0.9/0.98; ours with the fused kernel its trainer uses). Ours uses
``mtseq2seq.loss.label_smoothed_loss`` and the trainer's update (only parameters with gradients are
clipped, the norm is checked for finiteness); the others use ``F.cross_entropy(...,
label_smoothing=0.1)`` on their logits. Under ``bf16`` the forward pass runs in ``torch.autocast``
and the loss in float32, as our trainer does.
"""
from __future__ import annotations

import importlib
import math
import time
from contextlib import nullcontext
from typing import Callable

import torch
import torch.nn.functional as F
from common import synchronize
from synthetic import PAD, Sizes, Tensors, tensors
from torch import Tensor, nn

Forward = Callable[[Tensors], Tensor]  # a batch -> logits (B, T, V)


class System:
    """A model, an optimizer and a step over the shared batches; ``run(n)`` times n updates."""

    def __init__(self, name: str, model: nn.Module, forward: Forward, batches: list[dict],
                 device: str, precision: str, ours_loss: Callable | None = None,
                 onednn: bool = True, fused_adam: bool = False) -> None:
        self.name, self.model, self.forward, self.device = name, model.to(device), forward, device
        self.onednn = onednn  # False: our Linear layers fall back to F.linear (MKL) while this runs
        self.inputs = [tensors(b).to(device) for b in batches]
        # fused: the kernel our trainer's optimizer uses (mtseq2seq/optim.py); the peers keep
        # torch's default Adam, which is what their trainers build
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=5e-4, betas=(0.9, 0.98),
                                          fused=fused_adam or None)
        self.precision, self.ours_loss = precision, ours_loss
        self.params = sum(p.numel() for p in self.model.parameters())

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16)
        return nullcontext()

    def step(self, batch: Tensors) -> float:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            logits = self.forward(batch)  # (B, T, V)
        if self.ours_loss is not None:  # the trainer's update, as trainer.py does it
            out = self.ours_loss(logits, batch.tgt_out, 0.1, PAD)
            (out.loss / max(out.tokens, 1)).backward()
            loss = float(out.loss.detach()) / max(out.tokens, 1)
            params = [p for p in self.model.parameters() if p.grad is not None]
            norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            if not (torch.isfinite(norm) and math.isfinite(loss)):
                raise FloatingPointError(f"{self.name}: non-finite loss or gradient")
        else:
            summed = F.cross_entropy(logits.float().flatten(0, 1), batch.tgt_out.flatten(),
                                     ignore_index=PAD, label_smoothing=0.1, reduction="sum")
            (summed / batch.tokens).backward()
            loss = float(summed.detach()) / batch.tokens
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return loss

    def run(self, steps: int, start: int = 0) -> tuple[float, int]:
        """Seconds and target tokens of ``steps`` updates on batches start, start + 1, ... (cycling)."""
        linear = importlib.import_module("mtseq2seq.modules.linear")
        linear.use_onednn(self.onednn)
        try:
            synchronize(self.device)
            begin, tokens = time.perf_counter(), 0
            for i in range(start, start + steps):
                batch = self.inputs[i % len(self.inputs)]
                self.step(batch)
                tokens += batch.tokens
            synchronize(self.device)
        finally:
            linear.use_onednn(True)
        return time.perf_counter() - begin, tokens

    def unit(self, item: int) -> tuple[float, int]:
        """One update on batch ``item`` (for ``common.interleaved_rounds``)."""
        return self.run(1, item)


class Seq2Seq(nn.Module):
    """An encoder and a decoder of the mtseq2seq module contract (what MultiTaskModel runs per task)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        return self.decoder(tgt_in, self.encoder(src, src.ne(PAD)))  # (B, T, V)


def ours(package: str, family: str, sizes: Sizes) -> tuple[nn.Module, Forward, Callable]:
    """Our modules (from ``package``: mtseq2seq, or a copy of an older revision) and our loss."""
    modules = importlib.import_module(f"{package}.modules.{family}")
    loss = importlib.import_module(f"{package}.loss").label_smoothed_loss
    if family == "transformer":
        options = dict(dim=sizes.dim, layers=sizes.layers, heads=sizes.heads, ff=sizes.ff,
                       dropout=sizes.dropout)
        pair = modules.TransformerEncoder, modules.TransformerDecoder
    else:
        options = dict(dim=sizes.rnn_dim, embed_dim=sizes.rnn_embed, layers=sizes.rnn_layers,
                       dropout=sizes.dropout)
        pair = modules.RNNEncoder, modules.RNNDecoder
    model = Seq2Seq(pair[0](sizes.vocab, PAD, **options), pair[1](sizes.vocab, PAD, **options))
    return model, lambda b: model(b.src, b.tgt_in), loss


def marian(sizes: Sizes) -> tuple[nn.Module, Forward]:
    """Hugging Face MarianMTModel from a MarianConfig of the same sizes (random init, no download):
    separate source/target embeddings and output layer like ours, ReLU, the same dropouts."""
    from transformers import MarianConfig, MarianMTModel

    config = MarianConfig(
        vocab_size=sizes.vocab, decoder_vocab_size=sizes.vocab, d_model=sizes.dim,
        encoder_layers=sizes.layers, decoder_layers=sizes.layers,
        encoder_attention_heads=sizes.heads, decoder_attention_heads=sizes.heads,
        encoder_ffn_dim=sizes.ff, decoder_ffn_dim=sizes.ff, activation_function="relu",
        dropout=sizes.dropout, attention_dropout=sizes.dropout, activation_dropout=sizes.dropout,
        max_position_embeddings=512, scale_embedding=True, pad_token_id=PAD, eos_token_id=3,
        bos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=None,
        share_encoder_decoder_embeddings=False, tie_word_embeddings=False)
    model = MarianMTModel(config)

    def forward(b: Tensors) -> Tensor:
        return model(input_ids=b.src, attention_mask=b.src.ne(PAD), decoder_input_ids=b.tgt_in,
                     use_cache=False).logits  # (B, T, V)
    return model, forward


def _sinusoids(length: int, dim: int) -> Tensor:
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2], table[:, 1::2] = torch.sin(position * freq), torch.cos(position * freq)
    return table  # (L, D)


class TorchTransformer(nn.Module):
    """Plain ``torch.nn.Transformer`` (pre-norm, batch-first) with scaled embeddings, sinusoidal
    positions, embedding dropout and an output projection: the PyTorch-only baseline."""

    def __init__(self, sizes: Sizes) -> None:
        super().__init__()
        d = sizes.dim
        self.scale = math.sqrt(d)
        self.src_embed = nn.Embedding(sizes.vocab, d, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(sizes.vocab, d, padding_idx=PAD)
        self.register_buffer("positions", _sinusoids(1024, d), persistent=False)
        self.drop = nn.Dropout(sizes.dropout)
        self.core = nn.Transformer(d, sizes.heads, sizes.layers, sizes.layers, sizes.ff, sizes.dropout,
                                   batch_first=True, norm_first=True)
        self.output = nn.Linear(d, sizes.vocab, bias=False)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        s = self.drop(self.src_embed(src) * self.scale + self.positions[: src.size(1)])  # (B, S, D)
        t = self.drop(self.tgt_embed(tgt_in) * self.scale + self.positions[: tgt_in.size(1)])  # (B, T, D)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1), device=src.device)
        pad = src.eq(PAD)  # (B, S) True = padding
        h = self.core(s, t, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad,
                      tgt_is_causal=True)  # (B, T, D)
        return self.output(h)  # (B, T, V)


def torch_baseline(sizes: Sizes) -> tuple[nn.Module, Forward]:
    model = TorchTransformer(sizes)
    return model, lambda b: model(b.src, b.tgt_in)
