"""A trained checkpoint back into objects: its recipe, vocabularies, tasks and model.

The checkpoint alone is enough: it stores the resolved recipe and the vocabularies as plain data;
`evaluate` may pass a recipe instead (for its data paths), whose modules must fit the weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checkpoint
from ..errors import CheckpointError, UserError
from ..model import MultiTaskModel
from ..plugins import relocate_plugins, warn_changed_plugins
from ..recipe.config import Recipe
from ..recipe.loader import recipe_from_dict
from ..tasks import Task
from ..vocab import Vocab
from .model import build_model
from .tasks import build_tasks


@dataclass
class Loaded:
    recipe: Recipe
    vocabs: dict[str, Vocab]
    model: MultiTaskModel
    tasks: dict[str, Task]
    step: int


def load_checkpoint(path: str | Path, device: torch.device, recipe: Recipe | None = None) -> Loaded:
    """Model and vocabularies from a checkpoint; ``recipe`` (for its data paths) defaults to the
    checkpoint's own. A CheckpointError if the weights do not fit the recipe's modules."""
    state = checkpoint.load(path)
    missing = [key for key in ("recipe", "vocabs") if not isinstance(state.get(key), dict)]
    if missing:
        raise CheckpointError(f"checkpoint '{path}' lacks its {' and '.join(missing)}; it was not "
                              "written by `mtseq2seq train`")
    own = recipe is None
    if recipe is None:  # its plugins where they are now (never code from the checkpoint)
        raw = relocate_plugins(state, path)
        try:
            recipe = recipe_from_dict(raw, path=str(path))
        except UserError as err:
            raise CheckpointError(err.problems, header=f"{path}: stored recipe") from None
    else:  # the recipe's own plugins are loaded; say if they changed since training
        warn_changed_plugins(state, recipe.plugins, recipe.path, path)
    vocabs = stored_vocabs(state, path, recipe)
    tasks = build_tasks(recipe, vocabs)
    model = build_model(recipe.encoders, recipe.decoders, tasks)
    what = "the model of its own stored recipe" if own else f"the model of recipe '{recipe.path}'"
    checkpoint.check_fits(model.state_dict(), state["model"], path, what,
                          [] if own else module_differences(
                              {**state["recipe"], "plugins": list(recipe.plugins)}, recipe))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:  # e.g. a weight stored as something other than a tensor
        raise CheckpointError(f"checkpoint '{path}': the weights cannot be loaded into {what}: "
                              f"{str(err).splitlines()[0][:300]}") from None
    model.to(device).eval()
    return Loaded(recipe, vocabs, model, tasks, int(state.get("step", 0)))


def module_differences(stored_raw: dict, recipe: Recipe) -> list[str]:
    """How the modules of the checkpoint's own recipe differ from ``recipe``'s (type, options)."""
    try:
        stored = recipe_from_dict(stored_raw)
    except UserError:
        return []  # the weights comparison still says what differs
    lines = []
    for section in ("encoders", "decoders"):
        mine, theirs = getattr(recipe, section), getattr(stored, section)
        for slot in sorted(set(mine) & set(theirs)):
            a, b = theirs[slot], mine[slot]
            if (a.type, a.options) != (b.type, b.options):
                lines.append(f"{section}.{slot}: the checkpoint's recipe has {a.type} "
                             f"{_options(a.options)}, this recipe {b.type} {_options(b.options)}")
    return lines


def _options(options: dict) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(options.items())) + "}"


def stored_vocabs(state: dict, path: str | Path, recipe: Recipe) -> dict[str, Vocab]:
    """The checkpoint's vocabularies; a CheckpointError if one is damaged or a task's is missing."""
    vocabs = {}
    for slot, stored in state["vocabs"].items():
        try:
            vocabs[slot] = Vocab.from_state(stored)
        except Exception as err:
            raise CheckpointError(f"checkpoint '{path}': the vocabulary of slot '{slot}' is "
                                  f"damaged ({type(err).__name__}: {str(err)[:100]})") from None
    used = sorted({slot for task in recipe.tasks.values() for slot in task.slots
                   if slot in recipe.vocabs})  # the slots that read or write tokens
    lacking = [slot for slot in used if slot not in vocabs]
    if lacking:
        raise CheckpointError(f"checkpoint '{path}' has no vocabulary for slot(s) "
                              f"{', '.join(lacking)} that recipe '{recipe.path}' uses (it has: "
                              f"{', '.join(sorted(vocabs))}); was it trained with another recipe?")
    return vocabs
