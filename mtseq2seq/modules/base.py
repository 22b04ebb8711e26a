"""The Encoder/Decoder contract every module family honours, and the registries that hold them.

Search, the trainer and the model talk to modules only through these methods, never by asking
which family a module belongs to; a contract test runs over every registered type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..registry import Registry

State = Any  # each decoder family defines its own (dict of tensors); search treats it as opaque


@dataclass
class EncoderOutput:
    """What an encoder hands to a decoder."""

    states: Tensor  # (B, S, D)
    mask: Tensor  # (B, S) bool, True = real position

    def index_select(self, order: Tensor) -> "EncoderOutput":
        """Rows picked (and repeated) by ``order`` (N,), e.g. to expand for beam search."""
        return EncoderOutput(self.states.index_select(0, order), self.mask.index_select(0, order))

    @staticmethod
    def concat(outputs: list["EncoderOutput"]) -> "EncoderOutput":
        """One memory of several encoders' outputs (a multi-source task): states and masks side by
        side along the sequence, (B, S1 + S2 + ..., D), so any decoder reads it unchanged."""
        if len(outputs) == 1:
            return outputs[0]
        states = torch.cat([o.states for o in outputs], dim=1)  # (B, S, D)
        return EncoderOutput(states, torch.cat([o.mask for o in outputs], dim=1))  # (B, S)


class Encoder(nn.Module):
    """Maps token ids (or features) to states. Owns its input layer.

    Constructors receive ``vocab_size`` and ``pad_id`` from the toolkit where the slot has a
    vocabulary; every other argument is a recipe option and must be a named parameter with a type
    hint (no ``**kwargs``). ``input_kind`` says what the slot's files hold and so what ``src`` is
    (`data/sources.py` reads each kind):

    - ``tokens``: text through the slot's vocabulary; src (B, S) ids, src_mask (B, S);
    - ``features``: `<split>.<slot>.npy` float vectors, no vocabulary; src (B, K, D_in) float,
      src_mask (B, K);
    - ``facts``: lines of facts joined by `` ||| ``, through the slot's vocabulary; src (B, F, L)
      ids (each fact its own row), src_mask (B, F, L).
    """

    input_kind: str = "tokens"
    output_size: int

    def forward(self, src: Tensor, src_mask: Tensor) -> EncoderOutput:
        raise NotImplementedError

    def input_layer(self) -> nn.Module | None:
        """The layer whose output is the vectors the encoder reads, (B, S, E): a task's
        embedding (`tasks.<t>.embedding`) is added to them. By default ``self.embed``."""
        return _module_or_none(getattr(self, "embed", None))


class Decoder(nn.Module):
    """Maps a target prefix plus encoder memory to next-token logits.

    ``memory_size`` must equal the encoder's ``output_size``; the topology check reports a mismatch.
    """

    memory_size: int

    def forward(self, tgt_in: Tensor, memory: EncoderOutput) -> Tensor:  # (B, T) -> (B, T, V)
        raise NotImplementedError

    def input_layer(self) -> nn.Module | None:
        """The token embedding that ``forward`` and ``step`` both call, (B, T, E): a task's
        embedding is added to its output (never to a tied output projection's weights).
        By default ``self.embed``."""
        return _module_or_none(getattr(self, "embed", None))

    def init_state(self, memory: EncoderOutput) -> State:
        raise NotImplementedError

    def step(self, prev: Tensor, memory: EncoderOutput, state: State) -> tuple[Tensor, State]:
        """One step: ``prev`` (B,) last tokens -> logits (B, V) and the new state."""
        raise NotImplementedError

    def reorder_state(self, state: State, order: Tensor) -> State:
        """Rows of ``state`` picked by ``order`` (N,), as ``EncoderOutput.index_select`` does."""
        raise NotImplementedError

    def cross_attention(self, tgt_in: Tensor, memory: EncoderOutput) -> Tensor:
        """Optional: how much each target position reads each memory position, teacher-forced.

        ``tgt_in`` (B, T) are the ids ``forward`` would take (BOS + tokens), so row t is the
        attention while predicting the t-th output token. Returns (B, T, S) float weights, each
        row summing to 1 over the real memory positions and 0 on padded ones; for a decoder with
        several layers or heads, which ones it shows (and how they are merged) is its own choice,
        said in its docstring. It is for inspection (`attention_plots.py`) and must not change
        what ``forward`` and ``step`` compute; call it in eval mode (no dropout).
        """
        raise NotImplementedError(
            f"decoder type {type(self).__name__} does not provide cross_attention(tgt_in, memory) "
            "-> (B, T, S) weights, so its attention cannot be shown")


class Head(nn.Module):
    """Predicts labels from encoder memory and never generates (a classifier, a tagger).

    The task kinds that use heads look them up in ``HEADS`` (``decoders.<slot>.type``); the
    toolkit gives ``num_labels`` to a constructor that takes it (the size of the slot's label set).
    """

    memory_size: int

    def forward(self, memory: EncoderOutput, positions: Tensor | None = None) -> Tensor:
        """Logits (B, L) of one label per example, or (B, W, L) at ``positions`` (B, W) of the
        memory (e.g. each word's first piece)."""
        raise NotImplementedError


def _module_or_none(found: Any) -> nn.Module | None:
    return found if isinstance(found, nn.Module) else None


PROVIDED_ARGS = ("vocab_size", "pad_id")
ENCODERS: Registry[Encoder] = Registry("encoder", Encoder, provided=PROVIDED_ARGS)
DECODERS: Registry[Decoder] = Registry("decoder", Decoder, provided=PROVIDED_ARGS)
HEADS: Registry[Head] = Registry("head", Head, provided=("num_labels",))


def padding_mask(tokens: Tensor, pad_id: int) -> Tensor:
    """(B, S) bool mask, True = real token."""
    return tokens.ne(pad_id)


def causal_mask(length: int, device: torch.device) -> Tensor:
    """(T, T) bool, True = may attend (position j <= i)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()
