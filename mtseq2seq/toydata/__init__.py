"""Toy multi-task corpus: English-like sentences, their gold trees, two rule-based translations and labels.

`generate(out_dir)` writes `{train,valid,test}.{en,de,fr,parse,pos,stype}`, `{train,valid,test}.img.npy`
plus `toy_manifest.json`: `.pos` has a part-of-speech tag per English word, `.stype` a sentence type (see
`labels.py`) and `.img.npy` toy image features of each sentence for captioning, (N, 10, 32) float16 (see
`images.py`; needs numpy). Everything is a deterministic function of the seed: the grammar draws from a
private `random.Random`, and the invented `de` / `fr` lexicons and the image vectors are fixed hashes of
the English words.

`generate_dialogue(out_dir)` writes a separate toy knowledge-grounded dialogue,
`{train,valid,test}.{hist,facts,resp}` plus `dialogue_manifest.json` (see `dialogue.py`).
"""
from .corpus import SLOTS, SPLITS, Example, make_example, sample_splits
from .dialogue import (
                       DIALOGUE_DEFAULT_SIZES,
                       DIALOGUE_MANIFEST_NAME,
                       DIALOGUE_SLOTS,
                       FACT_SEPARATOR,
                       TURN_SEPARATOR,
                       generate_dialogue,
                       is_dialogue_current,
)
from .grammar import Grammar, GrammarProbabilities
from .images import IMG_DIM, IMG_DTYPE, IMG_REGIONS, IMG_SLOT, image_features
from .labels import POS_TAGS, SENTENCE_TYPES, pos_line, sentence_type
from .lexicon import Lexicon, build_lexicon
from .tree import LABELS, Node, Word, linearize
from .writer import (
                     ARRAYS,
                     DEFAULT_SIZES,
                     FORMAT_VERSION,
                     MANIFEST_NAME,
                     generate,
                     is_current,
                     read_manifest,
                     resolve_sizes,
)

__all__ = [
    "ARRAYS", "DEFAULT_SIZES", "DIALOGUE_DEFAULT_SIZES", "DIALOGUE_MANIFEST_NAME", "DIALOGUE_SLOTS",
    "Example", "FACT_SEPARATOR", "FORMAT_VERSION", "Grammar", "GrammarProbabilities", "IMG_DIM", "IMG_DTYPE",
    "IMG_REGIONS", "IMG_SLOT", "LABELS", "Lexicon", "MANIFEST_NAME", "Node", "POS_TAGS", "SENTENCE_TYPES",
    "SLOTS", "SPLITS", "TURN_SEPARATOR", "Word", "build_lexicon", "generate", "generate_dialogue",
    "image_features", "is_current", "is_dialogue_current", "linearize", "make_example", "pos_line",
    "read_manifest", "resolve_sizes", "sample_splits", "sentence_type",
]
