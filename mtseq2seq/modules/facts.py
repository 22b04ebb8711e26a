"""The `facts` encoder: a memory of facts, each fact encoded on its own (a memory network, as in
Ghazvininejad et al. 2018's knowledge-grounded conversation model).

A slot of this type reads lines of facts joined by ` ||| ` (`data/sources.py`); a batch is (B, F, L):
F facts of at most L tokens per example. The facts of a batch run through one Transformer encoder
as B*F rows (only real facts: a padding fact is never encoded), and the memory holds either every
fact token's states, (B, F*L, D), or one mean vector per fact (``pool: mean``), (B, F, D).
The caps ``max_facts`` and ``max_fact_tokens`` are read by the data reader: more facts than the
cap on a line is an error naming it, a longer fact keeps its first tokens.
"""
from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from .base import ENCODERS, Encoder, EncoderOutput
from .transformer import TransformerEncoder


@ENCODERS.register("facts")
class FactsEncoder(Encoder):
    """Encodes each fact separately; the memory is every fact token, or one vector per fact.

    Args:
        vocab_size, pad_id: the slot's vocabulary (provided by the toolkit).
        dim, layers, heads, ff, dropout: the Transformer encoder every fact runs through.
        pool: ``none`` (every fact token is a memory position) or ``mean`` (one per fact).
        max_facts: most facts on one line (more is a data error naming the line).
        max_fact_tokens: tokens kept of each fact (the rest is cut, and counted in the log).
    """

    input_kind = "facts"

    def __init__(
        self, vocab_size: int, pad_id: int, dim: int = 256, layers: int = 2, heads: int = 4,
        ff: int = 1024, dropout: float = 0.1, pool: Literal["none", "mean"] = "none",
        max_facts: int = 32, max_fact_tokens: int = 64,
    ) -> None:
        super().__init__()
        if max_facts < 1 or max_fact_tokens < 1:
            raise ValueError(f"max_facts ({max_facts}) and max_fact_tokens ({max_fact_tokens}) "
                             "must be at least 1")
        self.output_size, self.pool = dim, pool
        self.max_facts, self.max_fact_tokens = max_facts, max_fact_tokens
        self.fact = TransformerEncoder(vocab_size, pad_id, dim, layers, heads, ff, dropout)

    def input_layer(self) -> nn.Module:
        """The token embedding of the fact encoder: a task embedding is added to every token
        of every fact."""
        return self.fact.embed

    def forward(self, src: Tensor, src_mask: Tensor) -> EncoderOutput:
        """Args: src (B, F, L) ids; src_mask (B, F, L) bool, True = real token."""
        batch, facts, length = src.shape
        rows, masks = src.reshape(-1, length), src_mask.reshape(-1, length)  # (B*F, L)
        real = masks.any(dim=1)  # (B*F,) a padding fact has no token
        encoded = self.fact(rows[real], masks[real]).states  # (R, L, D)
        states = encoded.new_zeros(batch * facts, length, encoded.size(-1))  # (B*F, L, D)
        states[real] = encoded
        if self.pool == "mean":
            keep = masks[:, :, None]  # (B*F, L, 1)
            pooled = (states * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)  # (B*F, D)
            return EncoderOutput(pooled.view(batch, facts, -1), real.view(batch, facts))
        return EncoderOutput(states.view(batch, facts * length, -1),
                             src_mask.reshape(batch, facts * length))  # (B, F*L, D)


__all__ = ["FactsEncoder"]
