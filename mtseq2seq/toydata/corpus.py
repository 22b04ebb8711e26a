"""Examples (one tree and its six line renderings) and deduplicated sampling of the corpus splits.

Slots `en`, `de`, `fr` and `parse` are the sentence, its two translations and its masked tree; `pos` and
`stype` are labels (a tag per English word, a sentence type; see `labels.py`). Every line is a pure
function of the tree, so only drawing the trees consumes the random stream.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Mapping

from ..errors import UserError
from . import french, german
from .grammar import Grammar
from .labels import pos_line, sentence_type
from .tree import Node, linearize

SPLITS = ("train", "valid", "test")
SLOTS = ("en", "de", "fr", "parse", "pos", "stype")
# Held-out splits are drawn first so that they do not change when only the train size changes.
_SAMPLING_ORDER = ("valid", "test", "train")


@dataclass(frozen=True)
class Example:
    """One sentence: its gold tree and the line written to each slot's file."""

    tree: Node
    en: str
    de: str
    fr: str
    parse: str
    pos: str  # a part-of-speech tag per word of `en`
    stype: str  # the sentence type, one of labels.SENTENCE_TYPES

    def line(self, slot: str) -> str:
        """The line for `slot` (one of `SLOTS`)."""
        return getattr(self, slot)


def make_example(tree: Node) -> Example:
    """Render a sentence tree into all slots (draws nothing at random)."""
    return Example(tree=tree, en=tree.text(), de=german.translate(tree), fr=french.translate(tree),
                   parse=linearize(tree), pos=pos_line(tree), stype=sentence_type(tree))


def split_rng(seed: int, split: str) -> random.Random:
    """The private random stream of one split (string seeds are hashed deterministically by `random`)."""
    return random.Random(f"mtseq2seq.toydata:{seed}:{split}")


def sample_splits(seed: int, sizes: Mapping[str, int]) -> dict[str, list[Example]]:
    """Draw every split; no sentence of one split occurs in another, nor twice within a split.

    Within-split duplicates are tolerated only for a train split too large for the grammar to fill
    with distinct sentences; held-out sentences never occur in train.
    """
    seen: set[str] = set()
    splits: dict[str, list[Example]] = {}
    for split in _SAMPLING_ORDER:
        splits[split] = _sample_split(split_rng(seed, split), sizes[split], seen, split)
        seen.update(example.en for example in splits[split])
    return {split: splits[split] for split in SPLITS}


def _sample_split(rng: random.Random, size: int, excluded: set[str], split: str) -> list[Example]:
    grammar = Grammar(rng)
    examples: list[Example] = []
    in_split: set[str] = set()
    distinct_budget = 20 * size + 1000
    give_up = 200 * size + 10000
    for attempt in range(give_up):
        if len(examples) == size:
            return examples
        tree = grammar.sentence()
        text = tree.text()
        if text in excluded or (text in in_split and attempt < distinct_budget):
            continue
        in_split.add(text)
        examples.append(make_example(tree))
    if len(examples) == size:
        return examples
    raise UserError(f"toy corpus: could not draw {size} new sentences for split '{split}' "
                    f"(got {len(examples)}); ask for fewer sentences")
