"""Toy "image" features for captioning: a float array of regions per sentence, computed from its tree.

`{split}.img.npy` holds shape (N, IMG_REGIONS, IMG_DIM) = (N, 10, 32), dtype float16, line-aligned with
`{split}.en` (row i is the "picture" that `.en` line i describes). Each region is one simple noun phrase
of the tree (a coordination "X and Y" gives one region per conjunct), in the order of their nouns in the
sentence; rows after the last noun phrase are exactly zero (padding).

A region is the sum of fixed vectors, each living in its own block of the 32 dims, plus noise:

    dims  0-9    the noun                                  (a random unit vector per noun)
    dims 10-17   its adjectives, summed                    (a random unit vector per adjective)
    dims 18-27   its heads, summed: every verb whose subject or object it is, and the preposition
                 it is the object of                       (a random unit vector per verb / preposition)
    dims 28-30   its role, one-hot: subject / object / other (the object of a preposition)
    dim  31      1 if its determiner is "a"/"an", else 0

so every content word of the caption (nouns, adjectives, verbs, prepositions) is recoverable from the
regions; what is left to the model is the syntax (which clause a verb is in, where a PP attaches). The
NP that a relative clause modifies is the subject ("the dog that slept") or the object ("the dog that
the cat saw") of the clause's verbs, through the gap, and takes them as heads too. Gaussian noise
(std `NOISE_STD` per dim) is added to every used region.

IMG_REGIONS = 10 is the most noun phrases a toy sentence can have: the first two cost at least five words
("the dog saw the cat"), each further one at least three ("with the bird", "and the bird"), and a
sentence has at most `GrammarProbabilities.max_words` = 30 words, so 3 * 10 - 1 = 29 <= 30 < 32. With
the default grammar, 21,000 sentences of seed 1 have 1-8 (mean 2.7). float16 instead of float32 keeps
20,000 sentences at 12.8 MB (float32 would be 25.6 MB); the noise is far above float16's precision.

Everything is a pure function of (tree, seed): the vectors are fixed hashes of the words (like the
invented lexicons, independent of the seed), and the noise of a sentence is drawn from a generator
seeded by a hash of (seed, sentence), so the same seed gives byte-identical files. numpy is needed
(imported only here, when features are made).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import UserError
from .tree import Node

IMG_SLOT = "img"
IMG_SUFFIX = ".npy"
IMG_REGIONS = 10
IMG_DIM = 32
IMG_DTYPE = "float16"
NOISE_STD = 0.05
ROLES = ("subject", "object", "other")
# (first dim, size) of each block of a region; the role and determiner blocks are exact codes.
BLOCKS = {"noun": (0, 10), "adjective": (10, 8), "head": (18, 10), "role": (28, 3), "indefinite": (31, 1)}


@dataclass
class Region:
    """What one region shows: a simple noun phrase, its role and the words that relate it to the rest."""

    noun: str
    adjectives: tuple[str, ...]
    role: str  # one of ROLES
    indefinite: bool
    heads: list[str] = field(default_factory=list)  # verbs and/or a preposition


def numpy_module() -> Any:
    """numpy, or a UserError that says how to install it (numpy is an optional extra of mtseq2seq)."""
    try:
        import numpy
    except ImportError:
        raise UserError("the toy corpus's image features (.img.npy) need numpy: pip install numpy") from None
    return numpy


def regions(tree: Node) -> list[Region]:
    """The regions of a sentence tree (label S), in the order of their nouns in the sentence."""
    found: list[Region] = []
    _clause(tree, None, found)
    assert len(found) <= IMG_REGIONS, tree.text()  # see the module docstring for the bound
    return found


def _clause(clause: Node, modified: Region | None, found: list[Region]) -> None:
    """An S: its subject NP takes its verbs; in a relative clause, so does the NP it modifies (the gap)."""
    (verb_phrase,) = clause.child_nodes("VP")
    verbs = _clause_verbs(verb_phrase)
    subjects = clause.child_nodes("NP")
    assert subjects or modified is not None, clause.text()  # only a relative clause lacks a subject
    if modified is not None:
        modified.heads.extend(verbs)
    if subjects:
        _noun_phrase(subjects[0], "subject", verbs, found)
    _verb_phrase(verb_phrase, found)


def _clause_verbs(verb_phrase: Node) -> list[str]:
    """The verbs of a clause's VP, through VP coordination (not those of nested relative clauses)."""
    if verb_phrase.is_coordination():
        return [verb for child in verb_phrase.child_nodes("VP") for verb in _clause_verbs(child)]
    return [verb_phrase.child_words("VERB")[0].text]


def _verb_phrase(verb_phrase: Node, found: list[Region]) -> None:
    if verb_phrase.is_coordination():
        for child in verb_phrase.child_nodes("VP"):
            _verb_phrase(child, found)
        return
    verb = verb_phrase.child_words("VERB")[0].text
    for child in verb_phrase.child_nodes():
        if child.label == "NP":
            _noun_phrase(child, "object", [verb], found)
        else:
            _prepositional(child, found)


def _prepositional(phrase: Node, found: list[Region]) -> None:
    (noun_phrase,) = phrase.child_nodes("NP")
    _noun_phrase(noun_phrase, "other", [phrase.child_words("PREP")[0].text], found)


def _noun_phrase(phrase: Node, role: str, heads: list[str], found: list[Region]) -> None:
    """A simple NP adds its region, then its modifier's; each conjunct of a coordination takes the role."""
    if phrase.is_coordination():
        for conjunct in phrase.child_nodes("NP"):
            _noun_phrase(conjunct, role, heads, found)
        return
    region = Region(noun=phrase.child_words("NOUN")[0].text,
                    adjectives=tuple(word.text for word in phrase.child_words("ADJ")), role=role,
                    indefinite=phrase.child_words("DET")[0].text != "the", heads=list(heads))
    found.append(region)
    for modifier in phrase.child_nodes():
        if modifier.label == "PP":
            _prepositional(modifier, found)
        else:  # SBAR -> that S
            _clause(modifier.child_nodes("S")[0], region, found)


def _seed_of(*parts: str) -> int:
    # hashlib, not hash(): str hashes are salted per process, and the features must be reproducible.
    return int.from_bytes(hashlib.sha256(":".join(parts).encode("utf-8")).digest()[:16], "little")


@functools.lru_cache(maxsize=None)
def word_vector(block: str, word: str) -> Any:
    """The fixed unit vector of `word` in `block` ("noun", "adjective" or "head"), zero elsewhere."""
    numpy = numpy_module()
    start, size = BLOCKS[block]
    values = numpy.random.Generator(numpy.random.PCG64(_seed_of("mtseq2seq.toydata.img", block, word)))
    direction = values.standard_normal(size)
    vector = numpy.zeros(IMG_DIM)
    vector[start:start + size] = direction / numpy.linalg.norm(direction)
    vector.flags.writeable = False  # cached and shared: nobody may change it
    return vector  # (D,)


def region_vector(region: Region) -> Any:
    """The noise-free vector of one region, float64 of shape (IMG_DIM,)."""
    vector = word_vector("noun", region.noun).copy()  # (D,)
    for adjective in region.adjectives:
        vector += word_vector("adjective", adjective)
    for head in region.heads:
        vector += word_vector("head", head)
    vector[BLOCKS["role"][0] + ROLES.index(region.role)] = 1.0
    vector[BLOCKS["indefinite"][0]] = float(region.indefinite)
    return vector


def sentence_features(tree: Node, seed: int) -> Any:
    """The (IMG_REGIONS, IMG_DIM) float64 features of one sentence: regions, noise, zero padding."""
    numpy = numpy_module()
    found = regions(tree)
    features = numpy.zeros((IMG_REGIONS, IMG_DIM))  # (K, D)
    for index, region in enumerate(found):
        features[index] = region_vector(region)
    noise = numpy.random.Generator(numpy.random.PCG64(_seed_of("mtseq2seq.toydata.img", str(seed),
                                                                 tree.text())))
    features[:len(found)] += NOISE_STD * noise.standard_normal((len(found), IMG_DIM))
    return features  # (K, D)


def image_features(trees: Iterable[Node], seed: int) -> Any:
    """The `.img.npy` array of a split: one sentence per row, shape (N, IMG_REGIONS, IMG_DIM), float16."""
    numpy = numpy_module()
    rows = [sentence_features(tree, seed) for tree in trees]
    if not rows:
        return numpy.zeros((0, IMG_REGIONS, IMG_DIM), dtype=IMG_DTYPE)
    return numpy.stack(rows).astype(IMG_DTYPE)  # (N, K, D)
