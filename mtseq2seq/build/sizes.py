"""Parameter counts of a recipe's modules without training anything, for `mtseq2seq graph`.

Every module is built on the meta device (no weights, no memory), with the vocabulary sizes the
run would have where they are known: a vocabulary already in the run directory, else a word list
or label set made from its training files, else the recipe's `size` (an upper bound for
SentencePiece, which is not trained for this).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..modules import ENCODERS
from ..recipe.config import Recipe
from ..tasks import KINDS
from .vocabs import (
    read_vocab_file,
    reserved_symbols,
    train_vocab,
    training_files,
    vocab_owner,
    vocab_path,
)


def vocab_size(recipe: Recipe, slot: str, run_dir: Path) -> int:
    """The size the slot's vocabulary has, or will have (see the module docstring)."""
    owner = vocab_owner(recipe, slot)
    cfg = recipe.vocabs[owner]
    path = vocab_path(run_dir, owner, cfg)
    try:
        if path.is_file():
            return len(read_vocab_file(path, cfg))
        if cfg.type != "sentencepiece":
            return len(train_vocab(owner, cfg, training_files(recipe, owner), frozenset(),
                                   reserved_symbols(recipe, owner)))
    except Exception:  # a damaged vocabulary or unreadable training text: fall back to the size
        pass
    return cfg.size


def parameter_counts(recipe: Recipe, run_dir: Path) -> dict[tuple[str, str], int]:
    """(side, slot) -> parameters of the module the run would build for that slot."""
    counts = {}
    sizes = {slot: vocab_size(recipe, slot, run_dir) for slot in recipe.vocabs}
    with torch.device("meta"):
        for slot in {slot for t in recipe.tasks.values() for slot in t.encoder_slots}:
            cfg = recipe.encoders[slot]
            module = ENCODERS.build(cfg.type, cfg.options, f"encoders.{slot}",
                                    **({"vocab_size": sizes[slot], "pad_id": 0}
                                       if slot in sizes else {}))
            counts["encoder", slot] = sum(p.numel() for p in module.parameters())
        for task in recipe.tasks.values():
            kind, cfg = KINDS.get(task.kind)(), recipe.decoders[task.decoder]
            args = kind.decoder_args(_Sized(sizes[task.decoder]) if task.decoder in sizes else None)
            module = kind.decoder_registry.build(cfg.type, cfg.options, "", **args)
            counts["decoder", task.decoder] = sum(p.numel() for p in module.parameters())
    return counts


class _Sized:
    """Stands in for a vocabulary where only its size matters (a module's constructor)."""

    pad_id = 0

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size
