"""Task embeddings (`tasks.<t>.embedding: encoder | decoder | both`): one learned vector per task
and module, added to the vectors that module reads (the output of its input layer: a token
embedding, a feature projection), the "task encoder" of a multi-task Transformer.

The vectors belong to the model (`MultiTaskModel.task_embeddings`, state-dict paths
`task_embeddings.<task>.<side>.<slot>`), so checkpoints keep them, the optimizer trains them and
`freeze:` globs reach them. `TaskEmbeddings.applied` adds a task's vectors only while it is
entered (`MultiTaskModel.task_inputs`): it puts a forward hook on each input layer, so the
teacher-forced forward and search stepping a decoder (`Decoder.step`) see the vector alike, and
a tied output projection (which never calls the embedding) does not. A recipe without
`embedding:` has no vectors and draws no random numbers for them, so its initial weights stay
bit for bit what they were; with it, the vectors are drawn after every module.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import torch
from torch import Tensor, nn

from .errors import UserError

SIDES = {"encoder": ("encoder",), "decoder": ("decoder",), "both": ("encoder", "decoder")}
INIT_STD = 0.1  # small beside token embeddings of unit variance: a nudge, not a new input
Targets = list[tuple[str, str]]  # (side, slot) of each module a task's vectors go to
Modules = dict[str, Mapping[str, nn.Module]]  # side -> slot -> module: the model's


def embedding_targets(choice: str, encoder_slots: tuple[str, ...], decoder: str) -> Targets:
    """(side, slot) of every module that `embedding: <choice>` names: each encoder slot (a
    multi-source task has a vector per slot) and/or the decoder slot."""
    slots = {"encoder": encoder_slots, "decoder": (decoder,)}
    return [(side, slot) for side in SIDES[choice] for slot in slots[side]]


def input_layer(module: nn.Module) -> nn.Module | None:
    """The module's input layer (`Encoder.input_layer`, `Decoder.input_layer`), or None (a
    head, or a plugin module that names none)."""
    find = getattr(module, "input_layer", None)
    return find() if callable(find) else None


def input_width(layer: nn.Module) -> int | None:
    """E, the size of the vectors an input layer gives (an embedding's, a projection's)."""
    for name in ("embedding_dim", "out_features"):
        value = getattr(layer, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _adder(vector: nn.Parameter) -> Any:
    def hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        return output + vector.to(output.dtype)  # (..., E) + (E,)
    return hook


class TaskEmbeddings(nn.ModuleDict):
    """``self[task][side][slot]``: the task's (E,) vector for that module; empty without any."""

    @classmethod
    def build(cls, targets: dict[str, Targets], modules: Modules) -> "TaskEmbeddings":
        """Vectors N(0, INIT_STD^2) from torch's seeded generator, in the order of ``targets``
        (tasks in recipe order); ``modules``: ``{"encoder": encoders, "decoder": decoders}``.

        Raises:
            UserError: a named module has no input layer (`tasks.<t>.embedding` named).
        """
        built = cls()
        for task, wanted in targets.items():
            sides: dict[str, nn.ParameterDict] = {}
            for side, slot in wanted:
                width = _width(task, side, slot, modules[side][slot])
                vector = nn.Parameter(torch.randn(width) * INIT_STD)  # (E,)
                sides.setdefault(side, nn.ParameterDict())[slot] = vector
            built[task] = nn.ModuleDict(sides)
        return built

    @contextmanager
    def applied(self, task: str, modules: Modules) -> Iterator[None]:
        """Within: ``task``'s vectors are added to the outputs of its modules' input layers
        (nothing for a task without vectors)."""
        handles = []
        try:
            for side, vectors in (self[task].items() if task in self else ()):
                for slot, vector in vectors.items():
                    layer = input_layer(modules[side][slot])
                    handles.append(layer.register_forward_hook(_adder(vector)))
            yield
        finally:
            for handle in handles:
                handle.remove()


def _width(task: str, side: str, slot: str, module: nn.Module) -> int:
    layer = input_layer(module)
    width = input_width(layer) if layer is not None else None
    if width is None:
        what = "has no input layer" if layer is None else \
            f"has an input layer ({type(layer).__name__}) of unknown width"
        raise UserError(f"tasks.{task}.embedding: {side} '{slot}' ({type(module).__name__}) "
                        f"{what} to add a task embedding to; name another side (encoder, "
                        "decoder, both) or drop the key. A module type gives its layer through "
                        "`input_layer()` (an embedding or a linear map)")
    return width
