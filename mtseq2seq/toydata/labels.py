"""Label lines of the toy corpus, for classification and sequence-labelling heads: `.pos` and `.stype`.

Both are pure functions of an example's tree: they draw nothing from the random stream, so adding them
left every `.en`, `.de`, `.fr` and `.parse` file byte-for-byte as it was.

`.pos`: one tag per whitespace-separated word of the `.en` line, space-separated, the leaf's own part
of speech (`POS_TAGS`: DET ADJ NOUN VERB PREP CONJ REL; in Universal Dependencies terms PREP is ADP,
CONJ is CCONJ and REL, the relative "that", is PRON).

`.stype`: one label per sentence from `SENTENCE_TYPES`, the first rule that matches the tree:

    relative       it has a relative clause (an SBAR anywhere; the English says "that")
    coordination   else it coordinates two NPs or two VPs anywhere ("and")
    prepositional  else it has a prepositional phrase anywhere (one of the prepositions)
    transitive     else the main verb has an object: (S NP (VP VERB NP))
    intransitive   else: (S NP (VP VERB))

Each rule has a surface cue (the words "that", "and", a preposition, a transitive verb), so a model can
learn the label from the English alone. With the default grammar, 20,000 sentences of seed 1 split
about 24 / 19 / 27 / 19 / 12 per cent (relative / coordination / prepositional / transitive /
intransitive).
"""
from __future__ import annotations

from .tree import POS_TAGS, Node

SENTENCE_TYPES = ("intransitive", "transitive", "prepositional", "coordination", "relative")

__all__ = ["POS_TAGS", "SENTENCE_TYPES", "pos_line", "sentence_type"]


def pos_line(tree: Node) -> str:
    """The `.pos` line: the part of speech of every word of `tree.text()`, in order, space-separated."""
    return " ".join(word.pos for word in tree.words())


def sentence_type(tree: Node) -> str:
    """The `.stype` label of a sentence tree (label S): the first matching rule of the module docstring."""
    nodes = list(tree.subtrees())
    if any(node.label == "SBAR" for node in nodes):
        return "relative"
    if any(node.is_coordination() for node in nodes):
        return "coordination"
    if any(node.label == "PP" for node in nodes):
        return "prepositional"
    (verb_phrase,) = tree.child_nodes("VP")
    return "transitive" if verb_phrase.child_nodes("NP") else "intransitive"
