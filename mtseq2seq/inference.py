"""Everything a trained checkpoint needs to translate or be evaluated: recipe, vocabularies, model.

The checkpoint alone is enough: it stores the resolved recipe and the vocabularies as plain data.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from . import checkpoint
from .config import Recipe
from .errors import CheckpointError, UserError, close_match
from .model import MultiTaskModel
from .plugins import relocate_plugins, warn_changed_plugins
from .recipe_loader import recipe_from_dict
from .search import Hypothesis, decode
from .task_names import resolve_task
from .vocab import EOS, Vocab


@dataclass
class Loaded:
    recipe: Recipe
    vocabs: dict[str, Vocab]
    model: MultiTaskModel
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
        warn_changed_plugins(state, recipe, path)
    vocabs = stored_vocabs(state, path, recipe)
    model = MultiTaskModel.build(recipe, vocabs)
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
    return Loaded(recipe, vocabs, model, int(state.get("step", 0)))


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
    used = sorted({slot for task in recipe.tasks.values() for slot in (task.encoder, task.decoder)})
    lacking = [slot for slot in used if slot not in vocabs]
    if lacking:
        raise CheckpointError(f"checkpoint '{path}' has no vocabulary for slot(s) "
                              f"{', '.join(lacking)} that recipe '{recipe.path}' uses (it has: "
                              f"{', '.join(sorted(vocabs))}); was it trained with another recipe?")
    return vocabs


def resolve_pair(loaded: Loaded, task: str | None, encoder: str | None, decoder: str | None
                 ) -> tuple[str | None, tuple[str, str]]:
    """The task whose decoding limits apply and the (encoder slot, decoder slot) pair, from a task
    name (``en-de`` or ``en:de`` for ``en>de``) or an explicit pair (zero-shot allowed). For a
    pair the task is one trained with it, else one with its decoder, else None. The caller has
    checked that exactly one of the two ways was named (`translate_io.check_pair_args`)."""
    model = loaded.model
    if task is not None:
        task = resolve_task(task, model.tasks, "--task", "the checkpoint")
        return task, tuple(model.tasks[task])
    for flag, slot, modules in (("--encoder", encoder, model.encoders),
                                ("--decoder", decoder, model.decoders)):
        if slot not in modules:
            raise UserError(f"{flag}: the checkpoint has no {flag[2:]} for slot '{slot}' "
                            f"({flag[2:]}s: {', '.join(modules)}{close_match(slot, modules)})")
    trained = [t for t, p in model.tasks.items() if tuple(p) == (encoder, decoder)]
    same_decoder = [t for t, p in model.tasks.items() if p[1] == decoder]
    return next(iter(trained + same_decoder), None), (encoder, decoder)


def translate_lines(loaded: Loaded, pair: tuple[str, str], lines: list[str], beam: int,
                    alpha: float, n_best: int, batch_size: int, max_len: tuple[float, int],
                    device: torch.device) -> Iterator[tuple[int, list[Hypothesis]]]:
    """(line number, n-best) for every non-empty line, batched by length; empty lines are skipped."""
    src_vocab = loaded.vocabs[pair[0]]
    ids = src_vocab.encode(lines)
    order = sorted((i for i, line in enumerate(lines) if line.strip()), key=lambda i: len(ids[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        src = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(ids[i] + [EOS]) for i in rows], batch_first=True,
            padding_value=src_vocab.pad_id).to(device)
        result = decode(loaded.model, pair, src, beam=beam, alpha=alpha, n_best=n_best,
                        max_len_a=max_len[0], max_len_b=max_len[1])
        yield from zip(rows, result.hypotheses)
