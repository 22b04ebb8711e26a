"""A small probabilistic grammar of English-like sentences that yields gold constituency trees.

    S    -> NP VP
    NP   -> DET ADJ* NOUN [PP_noun | SBAR]  |  NP_bare and NP
    VP   -> VERB [NP] [PP_verb]             |  VP and VP
    PP   -> PREP NP
    SBAR -> that S        (S -> VP: subject relative; S -> NP_bare VP_gapped: object relative)

Every optional embedding is drawn with a probability that decays with depth, so deep nesting is rare.
The grammar is built so that each sentence has exactly one tree: prepositions are lexically split into
noun-attaching and verb-attaching ones, an NP takes at most one modifier, the first conjunct of a
coordination is never modified, and nothing attaches high when a lower site of the same kind is open.
Without that, the parsing task would have a BLEU ceiling below 100.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from . import lexicon as lex
from .tree import Node, Word


@dataclass(frozen=True)
class GrammarProbabilities:
    """Branching probabilities; the `*_at_root` ones are multiplied by `decay ** depth`."""

    adjective: float = 0.3
    second_adjective: float = 0.15
    indefinite: float = 0.35
    transitive: float = 0.65
    np_modifier_at_root: float = 0.3
    relative_not_pp: float = 0.45
    object_relative: float = 0.35
    np_coordination_at_root: float = 0.08
    vp_pp_at_root: float = 0.25
    vp_coordination_at_root: float = 0.1
    decay: float = 0.4
    min_words: int = 3
    max_words: int = 30


class Grammar:
    """Draws trees from the toy grammar with a private `random.Random` (never the global state)."""

    def __init__(self, rng: random.Random, probs: GrammarProbabilities | None = None) -> None:
        self.rng = rng
        self.probs = probs or GrammarProbabilities()

    def sentence(self) -> Node:
        """One sentence tree whose length is within [min_words, max_words] (resampled otherwise)."""
        while True:
            tree = Node("S", [self.noun_phrase(0), self.verb_phrase(0)])
            if self.probs.min_words <= len(tree.words()) <= self.probs.max_words:
                return tree

    def noun_phrase(self, depth: int, bare: bool = False) -> Node:
        """An NP; a `bare` one has neither a modifier nor a coordination (see the module docstring)."""
        if not bare and self._decaying(self.probs.np_coordination_at_root, depth):
            first = self.noun_phrase(depth + 1, bare=True)
            return Node("NP", [first, Word(lex.CONJUNCTION, "CONJ"), self.noun_phrase(depth + 1)])
        node = Node("NP", self._noun_core())
        if not bare and self._decaying(self.probs.np_modifier_at_root, depth):
            if self._flip(self.probs.relative_not_pp):
                node.children.append(self.relative_clause(depth + 1))
            else:
                node.children.append(self._prepositional(lex.NOUN_PREPOSITIONS, depth + 1))
        return node

    def verb_phrase(self, depth: int, gapped: bool = False) -> Node:
        """A VP; a `gapped` one (inside an object relative) has a transitive verb and no object."""
        first = self._simple_verb_phrase(depth, gapped)
        if gapped or _ends_in_open_vp(first):
            return first
        if self._decaying(self.probs.vp_coordination_at_root, depth):
            return Node("VP", [first, Word(lex.CONJUNCTION, "CONJ"), self.verb_phrase(depth + 1)])
        return first

    def relative_clause(self, depth: int) -> Node:
        """SBAR -> that S, with the gap in subject or (less often) object position."""
        if self._flip(self.probs.object_relative):
            clause = Node("S", [self.noun_phrase(depth + 1, bare=True), self.verb_phrase(depth, gapped=True)])
        else:
            clause = Node("S", [self.verb_phrase(depth)])
        return Node("SBAR", [Word(lex.RELATIVE, "REL"), clause])

    def _simple_verb_phrase(self, depth: int, gapped: bool) -> Node:
        transitive = gapped or self._flip(self.probs.transitive)
        verbs = lex.TRANSITIVE_VERBS if transitive else lex.INTRANSITIVE_VERBS
        node = Node("VP", [Word(self.rng.choice(verbs), "VERB")])
        if transitive and not gapped:
            node.children.append(self.noun_phrase(depth))
        # A verb PP after an object that ends in a relative clause would attach to the inner verb.
        if not _ends_in_open_vp(node) and self._decaying(self.probs.vp_pp_at_root, depth):
            node.children.append(self._prepositional(lex.VERB_PREPOSITIONS, depth + 1))
        return node

    def _prepositional(self, prepositions: tuple[str, ...], depth: int) -> Node:
        return Node("PP", [Word(self.rng.choice(prepositions), "PREP"), self.noun_phrase(depth)])

    def _noun_core(self) -> list[Word]:
        """DET ADJ* NOUN, with "a"/"an" chosen by the sound of the next word."""
        adjectives: list[str] = []
        if self._flip(self.probs.adjective):
            adjectives.append(self.rng.choice(lex.ADJECTIVES))
            if self._flip(self.probs.second_adjective):
                adjectives.append(self.rng.choice([a for a in lex.ADJECTIVES if a != adjectives[0]]))
        noun = self.rng.choice(lex.NOUNS)
        following = adjectives[0] if adjectives else noun
        if self._flip(self.probs.indefinite):
            determiner = lex.INDEFINITE[1] if following[0] in "aeiou" else lex.INDEFINITE[0]
        else:
            determiner = lex.DEFINITE
        words = [Word(determiner, "DET")] + [Word(a, "ADJ") for a in adjectives]
        return words + [Word(noun, "NOUN")]

    def _flip(self, probability: float) -> bool:
        return self.rng.random() < probability

    def _decaying(self, probability_at_root: float, depth: int) -> bool:
        return self._flip(probability_at_root * self.probs.decay ** depth)


def _ends_in_open_vp(node: Node) -> bool:
    """True if a word appended after `node` could attach to a VP nested inside it."""
    return any(below.label == "VP" for below in node.right_spine())
