"""`init_from:`: start chosen modules from another run's checkpoint.

```yaml
init_from:
  checkpoint: runs/pretrain/checkpoint_best.pt
  modules: {encoders.en: encoders.en, decoders.en: decoders.en}   # this model's: the checkpoint's
```
Only the named modules are loaded (every weight under each path); all others keep their fresh
initialisation. Each weight must exist in the checkpoint with the same shape, and a module of a
slot with a vocabulary must come from a slot with the same vocabulary (the rows of an embedding
mean tokens); each mismatch is an error naming the module. It applies when a run starts, not when
it resumes (the run's own checkpoint holds those weights by then).
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from . import checkpoint
from .errors import CheckpointError, UserError
from .freezing import describe_paths
from .vocab import Vocab, vocab_problems

log = logging.getLogger(__name__)


def init_modules(model: nn.Module, path: str, modules: dict[str, str],
                 vocabs: dict[str, Vocab]) -> int:
    """Copy the weights of each checkpoint module ``modules[ours]`` into ``ours``; the number of
    tensors copied. Every problem is collected before anything is copied."""
    try:
        state = checkpoint.load(path)
    except CheckpointError as err:
        raise UserError(err.problems, header="init_from.checkpoint") from None
    stored, own = state["model"], model.state_dict()
    problems, pairs = [], []
    for ours, theirs in modules.items():
        where = f"init_from.modules.{ours}"
        found, wrong = _weight_pairs(own, stored, ours, theirs, where)
        problems += wrong + _vocab_mismatch(state.get("vocabs") or {}, vocabs, ours, theirs, where)
        pairs += found
    if problems:
        raise CheckpointError(problems, header=f"init_from: {path} does not fit")
    with torch.no_grad():
        for key, source in pairs:
            own[key].copy_(stored[source])
    log.info("init_from: %d weights of %s loaded from %s", len(pairs), ", ".join(modules), path)
    return len(pairs)


def _weight_pairs(own: dict, stored: dict, ours: str, theirs: str,
                  where: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(this model's key, the checkpoint's key) of every weight under ``ours``; problems."""
    keys = [k for k in own if k == ours or k.startswith(ours + ".")]
    if not keys:
        return [], [f"{where}: no module '{ours}' in this model; valid paths include "
                    f"{describe_paths(own)}"]
    if not any(k == theirs or k.startswith(theirs + ".") for k in stored):
        return [], [f"{where}: no module '{theirs}' in the checkpoint; it has "
                    f"{describe_paths(stored)}"]
    pairs, problems = [], []
    for key in keys:
        source = theirs + key[len(ours):]
        if source not in stored:
            problems.append(f"{where}: the checkpoint's '{theirs}' has no weight {source} (a "
                            "module of another type or size?)")
        elif tuple(stored[source].shape) != tuple(own[key].shape):
            problems.append(f"{where}: {source} is {tuple(stored[source].shape)} in the "
                            f"checkpoint, {key} is {tuple(own[key].shape)} in this model")
        else:
            pairs.append((key, source))
    return pairs, problems


def _vocab_mismatch(stored: dict, vocabs: dict[str, Vocab], ours: str, theirs: str,
                    where: str) -> list[str]:
    """A module of a slot with a vocabulary (`encoders.en...`) needs the same vocabulary."""
    ours_slot, theirs_slot = _slot(ours), _slot(theirs)
    if ours_slot not in vocabs or theirs_slot is None:
        return []
    if theirs_slot not in stored:
        return [f"{where}: the checkpoint has no vocabulary for slot '{theirs_slot}'"]
    found = vocab_problems({ours_slot: stored[theirs_slot]}, {ours_slot: vocabs[ours_slot]})
    return [f"{where}: {p}; token ids would mean other tokens (train both runs with the same "
            "vocabulary, or use stages: in one recipe)" for p in found]


def _slot(path: str) -> str | None:
    parts = path.split(".")
    return parts[1] if len(parts) >= 2 and parts[0] in ("encoders", "decoders") else None
