"""Penn Treebank bracketed trees (``.mrg``): read them, clean them, linearize them Vinyals-style.

A ``.mrg`` file holds trees such as ``( (S (NP-SBJ (NNP Pierre) ) (VP (-NONE- *T*-1) ) (. .) ))``.
`read_trees` parses them into `mtseq2seq.trees.Tree` objects whose preterminals are
``Tree(tag, [word])``. `clean` turns one raw tree into the form used for parsing as translation:

1. the unlabeled outer bracket (or a ``TOP``/``ROOT`` wrapper) is dropped when it has exactly one
   child; with several children it becomes a ``TOP`` constituent;
2. ``-NONE-`` preterminals (traces, null elements) are deleted, then every constituent left empty;
3. phrase labels lose function tags, indices and alternatives (``NP-SBJ-1``, ``NP=2``,
   ``ADVP|PRT`` -> ``NP``, ``NP``, ``ADVP``); POS tags are kept whole, so ``-LRB-`` stays ``-LRB-``.

`to_example` then gives the words, the POS tags, and the linearized tree: each preterminal becomes
``XX`` (or, with ``keep_punct``, its tag when it is punctuation), closing brackets carry their
label, unary chains are kept: ``(S (NP XX XX )NP (VP XX )VP XX )S``.

Trees in the treebank are shallow (tens of levels), so the helpers below recurse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DataError
from ..trees import LEAF, Tree, linearize

EMPTY_TAG = "-NONE-"
WRAPPER_LABELS = frozenset({"", "TOP", "ROOT"})
ROOT_LABEL = "TOP"
# Tags printed instead of XX by ``keep_punct`` (the punctuation of the PTB tag set).
PUNCT_TAGS = frozenset({".", ",", ":", "``", "''", "-LRB-", "-RRB-", "#", "$"})

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_LABEL_CUT = re.compile(r"[-=|]")


@dataclass(frozen=True)
class Example:
    """One cleaned sentence: its tokens, their POS tags and its linearized tree."""

    words: list[str]
    tags: list[str]
    tree: str


def _where(text: str, source: str, match: re.Match[str]) -> str:
    """``file, line N`` for the token ``match`` (computed only when an error is raised)."""
    return f"{source}, line {text.count(chr(10), 0, match.start()) + 1}"


def read_trees(text: str, source: str = "<string>") -> list[Tree]:
    """Parse every bracketed tree of a ``.mrg`` file's text.

    Args:
        text: the file's contents.
        source: the file name, used in error messages.

    Returns:
        The raw trees, labels untouched; the outer bracket of ``( (S ...) )`` has label ``""``.

    Raises:
        DataError: on unbalanced brackets, a word outside every bracket, or a word next to
            sub-trees (a word must be the only child of its POS tag), naming ``source`` and the
            line.
    """
    trees: list[Tree] = []
    stack: list[Tree] = []
    tokens = list(_TOKEN.finditer(text))
    position = 0
    while position < len(tokens):
        match = tokens[position]
        token = match.group()
        if token == "(":
            following = tokens[position + 1].group() if position + 1 < len(tokens) else "("
            labeled = following not in ("(", ")")
            position += labeled  # the label token is consumed here
            node = Tree(following if labeled else "")
            (stack[-1].children if stack else trees).append(node)
            stack.append(node)
        elif token == ")":
            if not stack:
                raise DataError(f"{_where(text, source, match)}: ')' closes nothing "
                                "(unbalanced brackets)")
            node = stack.pop()
            if len(node.children) > 1 and any(isinstance(c, str) for c in node.children):
                _mixed_children(node, _where(text, source, match))
        elif not stack:
            raise DataError(f"{_where(text, source, match)}: word {token!r} is outside every "
                            "bracket")
        else:
            stack[-1].children.append(token)
        position += 1
    if stack:
        raise DataError(f"{source}: {len(stack)} bracket(s) still open at the end of the file "
                        f"(the last one opened is ({stack[-1].label or '<unlabeled>'})")
    return trees


def _mixed_children(node: Tree, where: str) -> None:
    """Raise for a node that holds a word and other children (a word must stand alone)."""
    words = [child for child in node.children if isinstance(child, str)]
    raise DataError(f"{where}: ({node.label} mixes the word {words[0]!r} with other children; "
                        "a word must be the only child of its POS tag")


def is_preterminal(node: Tree) -> bool:
    """True for a POS-tag node such as ``(NN dog)``."""
    return len(node.children) == 1 and isinstance(node.children[0], str)


def strip_label(label: str) -> str:
    """Drop function tags, indices and alternatives: ``NP-SBJ-1`` -> ``NP``, ``PP=2`` -> ``PP``.

    Labels that start with ``-`` (``-NONE-``, ``-LRB-``, ``-RRB-``) are returned unchanged.
    """
    if label.startswith("-"):
        return label
    return _LABEL_CUT.split(label, maxsplit=1)[0]


def _prune(node: Tree) -> Tree | None:
    """Copy of ``node`` without empty elements and with stripped phrase labels; None if empty."""
    if is_preterminal(node):
        return None if node.label == EMPTY_TAG else Tree(node.label, list(node.children))
    children = [kept for kept in map(_prune, node.children) if kept is not None]
    return Tree(strip_label(node.label), children) if children else None


def clean(tree: Tree) -> Tree | None:
    """Apply the cleaning rules of this module to a raw tree; None when nothing but empty elements.

    The returned tree still has its preterminals (``Tree(tag, [word])``).
    """
    if tree.label in WRAPPER_LABELS and not is_preterminal(tree):
        children = [kept for kept in map(_prune, tree.children) if kept is not None]
        if not children:
            return None
        if len(children) == 1 and not is_preterminal(children[0]):
            return children[0]
        return Tree(ROOT_LABEL, children)
    return _prune(tree)


def _to_leaves(node: Tree, words: list[str], tags: list[str], keep_punct: bool) -> Tree | str:
    """Replace every preterminal by its leaf symbol, collecting words and tags in order."""
    if is_preterminal(node):
        words.append(str(node.children[0]))
        tags.append(node.label)
        return node.label if keep_punct and node.label in PUNCT_TAGS else LEAF
    return Tree(node.label, [_to_leaves(child, words, tags, keep_punct) for child in node.children])


def to_example(tree: Tree, keep_punct: bool = False) -> Example:
    """Words, tags and linearized tree of a cleaned tree (see `clean`).

    A cleaned tree that is a single preterminal is wrapped in ``TOP`` so that the output is a tree.
    """
    if is_preterminal(tree):
        tree = Tree(ROOT_LABEL, [tree])
    words: list[str] = []
    tags: list[str] = []
    skeleton = _to_leaves(tree, words, tags, keep_punct)
    assert isinstance(skeleton, Tree)
    return Example(words=words, tags=tags, tree=linearize(skeleton, words=True))


def convert_text(text: str, source: str = "<string>",
                 keep_punct: bool = False) -> list[tuple[int, Example]]:
    """Read, clean and linearize every tree of a ``.mrg`` text.

    Returns:
        ``(index, example)`` pairs; ``index`` is the tree's 0-based position in the file, so trees
        that held only empty elements (dropped) leave a gap.

    Raises:
        DataError: if the text is not well-formed bracketed trees (see `read_trees`).
    """
    examples = []
    for index, raw in enumerate(read_trees(text, source)):
        tree = clean(raw)
        if tree is not None:
            examples.append((index, to_example(tree, keep_punct)))
    return examples
