"""MultiTaskModel: encoders and decoders (or heads) keyed by slot; a task picks one of each.

Two tasks naming the same slot use the same module object, so a shared encoder exists once in
the state dict and every task that names it trains it. What a task computes with its modules is
its kind's business (`tasks/`); `build/model.py` makes the model from a recipe's sections.
A task's learned vectors (`tasks.<t>.embedding`, `task_embeddings.py`) are held here too, and
added to its modules' inputs inside `task_inputs(task)`, which every forward of a task enters.
"""
from __future__ import annotations

from typing import ContextManager

from torch import Tensor, nn

from .modules import EncoderOutput
from .task_embeddings import TaskEmbeddings

Slots = str | tuple[str, ...]  # a task's encoder slot, or its encoder slots (a multi-source task)
Source = Tensor | tuple[Tensor, ...]  # the input of each encoder slot, in the same order


class MultiTaskModel(nn.Module):
    """``encoders[slot]``, ``decoders[slot]``, and ``tasks[name] = (encoder slot(s), decoder slot)``."""

    def __init__(self, encoders: dict[str, nn.Module], decoders: dict[str, nn.Module],
                 tasks: dict[str, tuple[Slots, str]],
                 task_embeddings: TaskEmbeddings | None = None) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)
        self.decoders = nn.ModuleDict(decoders)
        self.tasks = dict(tasks)
        self.task_embeddings = task_embeddings if task_embeddings is not None else TaskEmbeddings()

    def task_inputs(self, task: str) -> ContextManager[None]:
        """Within it, ``task``'s embeddings (if it has any) are added to the input vectors of
        its modules: wrap every forward, loss and search of a task in it."""
        return self.task_embeddings.applied(task, {"encoder": self.encoders,
                                                   "decoder": self.decoders})

    def encode(self, slots: Slots, src: Source, src_mask: Source) -> EncoderOutput:
        """``src`` (B, S) and ``src_mask`` (B, S) bool -> states (B, S, D) and mask (B, S).

        For several slots, ``src`` and ``src_mask`` hold one input per slot, and the memory is
        their outputs side by side (`EncoderOutput.concat`)."""
        if isinstance(slots, str):
            return self.encoders[slots](src, src_mask)
        return EncoderOutput.concat([self.encoders[slot](x, mask)
                                     for slot, x, mask in zip(slots, src, src_mask, strict=True)])
