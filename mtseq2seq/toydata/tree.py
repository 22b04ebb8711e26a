"""Constituency trees of the toy corpus: `Word` leaves, `Node` constituents, and their linearizations.

A tree is the single source of truth for one example: the English sentence, the `.parse` line, both
synthetic translations and the `.pos` and `.stype` labels are all pure functions of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

# The whole label set of the toy grammar (small on purpose: a tiny model must learn to emit it).
LABELS = ("S", "NP", "VP", "PP", "SBAR")
# Parts of speech carried by leaves; they never appear in `.parse` output (no preterminals there), and
# they are the tags of the `.pos` files.
POS_TAGS = ("DET", "ADJ", "NOUN", "VERB", "PREP", "CONJ", "REL")
MASK_TOKEN = "XX"


@dataclass(frozen=True)
class Word:
    """A leaf: the English surface form and its part of speech (one of `POS_TAGS`)."""

    text: str
    pos: str


@dataclass
class Node:
    """A constituent with a label from `LABELS` and ordered children (nodes or words)."""

    label: str
    children: list[Union["Node", Word]] = field(default_factory=list)

    def words(self) -> list[Word]:
        """All leaves under this node, left to right."""
        leaves: list[Word] = []
        for child in self.children:
            leaves.extend(child.words() if isinstance(child, Node) else [child])
        return leaves

    def text(self) -> str:
        """The English sentence (or phrase) under this node, words joined by single spaces."""
        return " ".join(word.text for word in self.words())

    def subtrees(self) -> Iterator["Node"]:
        """This node and every node below it, in pre-order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.subtrees()

    def child_nodes(self, label: str | None = None) -> list["Node"]:
        """Direct children that are nodes, optionally only those with `label`."""
        return [c for c in self.children if isinstance(c, Node) and (label is None or c.label == label)]

    def child_words(self, pos: str | None = None) -> list[Word]:
        """Direct children that are words, optionally only those with part of speech `pos`."""
        return [c for c in self.children if isinstance(c, Word) and (pos is None or c.pos == pos)]

    def is_coordination(self) -> bool:
        """True for `X -> X and X` (the conjunction is a direct child)."""
        return bool(self.child_words("CONJ"))

    def right_spine(self) -> list["Node"]:
        """Nodes strictly below this one along the rightmost path (where a later word could attach)."""
        spine: list[Node] = []
        node: Node | Word = self
        while isinstance(node, Node) and node.children:
            node = node.children[-1]
            if isinstance(node, Node):
                spine.append(node)
        return spine

    def __str__(self) -> str:
        inner = " ".join(str(c) if isinstance(c, Node) else c.text for c in self.children)
        return f"({self.label} {inner})"


def relative_gap(sbar: Node) -> str:
    """Case of the gap in a relative clause: "acc" when the clause has its own subject, else "nom"."""
    (clause,) = sbar.child_nodes("S")
    return "acc" if clause.child_nodes("NP") else "nom"


def linearize(tree: Node, mask: str = MASK_TOKEN) -> str:
    """Vinyals et al. (2015) style bracket sequence with every word replaced by `mask`.

    Closing brackets carry the label, e.g. ``(S (NP XX XX )NP (VP XX )VP )S``.
    """
    return " ".join(_linear_tokens(tree, mask))


def _linear_tokens(node: Node, mask: str) -> Iterator[str]:
    yield f"({node.label}"
    for child in node.children:
        if isinstance(child, Node):
            yield from _linear_tokens(child, mask)
        else:
            yield mask
    yield f"){node.label}"
