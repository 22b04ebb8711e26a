"""Toy multi-task corpus: English-like sentences, their gold trees, two rule-based translations and labels.

`generate(out_dir)` writes `{train,valid,test}.{en,de,fr,parse,pos,stype}` plus `toy_manifest.json`:
`.pos` has a part-of-speech tag per English word and `.stype` a sentence type (see `labels.py`). Everything
is a deterministic function of the seed: the grammar draws from a private `random.Random`, and the
invented `de` / `fr` lexicons are fixed hashes of the English words.
"""
from .corpus import SLOTS, SPLITS, Example, make_example, sample_splits
from .grammar import Grammar, GrammarProbabilities
from .labels import POS_TAGS, SENTENCE_TYPES, pos_line, sentence_type
from .lexicon import Lexicon, build_lexicon
from .tree import LABELS, Node, Word, linearize
from .writer import (
                     DEFAULT_SIZES,
                     FORMAT_VERSION,
                     MANIFEST_NAME,
                     generate,
                     is_current,
                     read_manifest,
                     resolve_sizes,
)

__all__ = [
    "DEFAULT_SIZES", "Example", "FORMAT_VERSION", "Grammar", "GrammarProbabilities", "LABELS", "Lexicon",
    "MANIFEST_NAME", "Node", "POS_TAGS", "SENTENCE_TYPES", "SLOTS", "SPLITS", "Word", "build_lexicon",
    "generate", "is_current", "linearize", "make_example", "pos_line", "read_manifest", "resolve_sizes",
    "sample_splits", "sentence_type",
]
