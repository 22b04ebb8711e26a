"""MultiTaskModel: encoders and decoders (or heads) keyed by slot; a task picks one of each.

Two tasks naming the same slot use the same module object, so a shared encoder exists once in
the state dict and every task that names it trains it. What a task computes with its modules is
its kind's business (`tasks/`); `build/model.py` makes the model from a recipe's sections.
"""
from __future__ import annotations

from torch import Tensor, nn

from .modules import EncoderOutput


class MultiTaskModel(nn.Module):
    """``encoders[slot]``, ``decoders[slot]``, and ``tasks[name] = (encoder slot, decoder slot)``."""

    def __init__(self, encoders: dict[str, nn.Module], decoders: dict[str, nn.Module],
                 tasks: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)
        self.decoders = nn.ModuleDict(decoders)
        self.tasks = dict(tasks)

    def encode(self, slot: str, src: Tensor, src_mask: Tensor) -> EncoderOutput:
        """``src`` (B, S) and ``src_mask`` (B, S) bool -> states (B, S, D) and mask (B, S)."""
        return self.encoders[slot](src, src_mask)
