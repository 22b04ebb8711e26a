"""Linearized constituency trees (Vinyals et al. 2015): parse, linearize, repair, score spans.

A linearized tree is a token sequence such as ``(S (NP XX XX )NP (VP XX )VP )S``: an opening
bracket ``(LABEL``, a closing bracket ``)LABEL`` (a bare ``)`` is accepted too and closes the
innermost open constituent), and ``XX`` for every word. There are no POS preterminals: words are
plain leaves of their constituent. Data prepared with ``data_scripts/ptb.py --keep-punct`` writes
the POS tag of a punctuation word (``.``, ``,``, ``-LRB-``, ...) instead of its ``XX``; those tags
(`PUNCT_LEAVES`) are leaf symbols too, so that repair keeps them.

The pipeline for scoring a model's output is ``repair`` (make any token sequence a tree),
``put_words_back`` (make the yield equal the gold sentence) and ``spans`` (every bracket, the
strict score); `hypothesis_tree` chains the first two. The EVALB rules live in `mtseq2seq.evalb`.
Everything walks trees iteratively, so a degenerate prediction nested thousands deep cannot hit
Python's recursion limit.
"""
from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

LEAF = "XX"
ROOT_LABEL = "TOP"
# The tags ``ptb.py --keep-punct`` writes in place of XX (the same set as `data.ptb.PUNCT_TAGS`,
# which cannot be imported here: data.ptb imports this module).
PUNCT_LEAVES = frozenset({".", ",", ":", "``", "''", "-LRB-", "-RRB-", "#", "$"})
# Every token a model may emit as a leaf; any other non-bracket token is junk to repair.
LEAF_SYMBOLS = PUNCT_LEAVES | {LEAF}

# Labels may hold anything but whitespace and brackets ("NP-SBJ", "WHNP", "S1"); a lone "(" is junk.
_OPEN = re.compile(r"\(([^()\s]+)")
_CLOSE = re.compile(r"\)([^()\s]*)")

Tokens = Sequence[str] | str


@dataclass
class Tree:
    """A constituent: a label and an ordered list of children (sub-trees or word strings)."""

    label: str
    children: list[Tree | str] = field(default_factory=list)

    def leaves(self) -> list[str]:
        """The words (or ``XX`` placeholders) under this constituent, left to right."""
        return [node.children[i] for kind, node, i in walk(self) if kind == "leaf"]

    def __str__(self) -> str:
        return linearize(self, words=True)


def _as_tokens(tokens: Tokens) -> list[str]:
    """Accept either a whitespace-separated line or an already split token list."""
    return tokens.split() if isinstance(tokens, str) else list(tokens)


def _classify(token: str) -> tuple[str, str]:
    """Return ``(kind, value)``: kind is open / close / leaf / junk, value the label or the word."""
    match = _OPEN.fullmatch(token)
    if match:
        return "open", match.group(1)
    match = _CLOSE.fullmatch(token)
    if match:
        return "close", match.group(1)
    if not token or "(" in token or ")" in token or token != token.strip():
        return "junk", token
    return "leaf", token


def walk(tree: Tree) -> Iterator[tuple[str, Tree, int]]:
    """Yield ``("open", node, -1)``, ``("leaf", parent, index)``, ``("close", node, -1)`` in order.

    Leaves are reported as (parent, index) rather than as strings so that callers can rewrite them
    in place (``put_words_back``).
    """
    stack: list[tuple[str, Tree, int]] = [("open", tree, -1)]
    while stack:
        kind, node, index = stack.pop()
        yield kind, node, index
        if kind != "open":
            continue
        stack.append(("close", node, -1))
        for i in range(len(node.children) - 1, -1, -1):
            child = node.children[i]
            stack.append(("open", child, -1) if isinstance(child, Tree) else ("leaf", node, i))


def parse_linearized(tokens: Tokens) -> Tree:
    """Build the tree of a well-formed linearized sequence.

    Any token that is not a bracket is a leaf, so lines with real words parse as well as ``XX`` lines.

    Raises:
        ValueError: on an unknown token, a closing bracket that closes nothing or has the wrong label,
            a leaf outside every constituent, unclosed brackets, or not exactly one root constituent.
    """
    tokens = _as_tokens(tokens)
    stack: list[Tree] = []
    roots: list[Tree] = []
    for position, token in enumerate(tokens):
        kind, value = _classify(token)
        if kind == "open":
            node = Tree(value)
            (stack[-1].children if stack else roots).append(node)
            stack.append(node)
        elif kind == "close":
            if not stack:
                raise ValueError(f"token {position} {token!r} closes nothing")
            if value and value != stack[-1].label:
                raise ValueError(f"token {position} {token!r} closes ({stack[-1].label}")
            stack.pop()
        elif kind == "leaf" and stack:
            stack[-1].children.append(value)
        else:
            raise ValueError(f"token {position} {token!r} is not allowed here")
    if stack:
        raise ValueError(f"{len(stack)} bracket(s) left open at the end")
    if len(roots) != 1:
        raise ValueError(f"expected exactly one root constituent, found {len(roots)}")
    return roots[0]


def linearize(tree: Tree, words: bool = False) -> str:
    """Write a tree as one line, every closing bracket labeled; words become ``XX`` unless ``words``."""
    out: list[str] = []
    for kind, node, index in walk(tree):
        if kind == "open":
            out.append("(" + node.label)
        elif kind == "close":
            out.append(")" + node.label)
        else:
            out.append(node.children[index] if words else LEAF)
    return " ".join(out)


def is_well_formed(tokens: Tokens, allow_words: bool = False) -> bool:
    """True when ``tokens`` is exactly one balanced tree with matching labels.

    Bare ``)`` closers are accepted. Leaves must be leaf symbols (``XX`` or a punctuation tag of
    `PUNCT_LEAVES`) unless ``allow_words``. An empty constituent such as ``(VP )VP`` is
    well-formed (its span is empty, so ``spans`` skips it).
    """
    try:
        tree = parse_linearized(tokens)
    except ValueError:
        return False
    return allow_words or all(leaf in LEAF_SYMBOLS for leaf in tree.leaves())


def _close(stack: list[Tree], label: str) -> None:
    """Apply one closing bracket to the stack of open constituents, following the repair rule."""
    if not stack:
        return  # closes nothing: dropped
    if not label:
        stack.pop()
        return
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth].label == label:
            # The constituents opened inside the matching one lost their own closers: close them here.
            del stack[depth:]
            return
    # No open constituent carries this label, so there is nothing sensible for it to close: dropped.


def repair(tokens: Tokens, root_label: str = ROOT_LABEL) -> list[str]:
    """Turn any token sequence (typically model output) into a well-formed linearized tree.

    The rule, applied left to right with a stack of open constituents:

    - ``(LABEL`` opens a constituent inside the innermost open one (or at the top level).
    - ``XX`` or a punctuation tag (`LEAF_SYMBOLS`) becomes a leaf of the innermost open
      constituent (or a top-level leaf).
    - a bare ``)`` closes the innermost open constituent.
    - ``)LABEL`` closes the innermost open constituent labeled LABEL together with every constituent
      opened inside it (their closers were skipped); if no open constituent has that label, or nothing
      is open, the token is dropped. A label mismatch is thus read as "missing inner closers" when
      the label is open further out and as noise otherwise.
    - any other token (real words, ``<unk>``, a lone ``(``) is dropped.
    - constituents still open at the end are closed there.
    - unless exactly one top-level constituent remains, all top-level items (constituents and stray
      leaves) are wrapped in ``(root_label ... )root_label``; an empty result becomes an empty root.

    The output always satisfies ``is_well_formed``, keeps every leaf symbol of the input in order
    (dropping a ``.`` would shift every later word of ``put_words_back`` by one), uses
    labeled closers only, and is unchanged by a second ``repair``.
    """
    top: list[Tree | str] = []
    stack: list[Tree] = []
    for token in _as_tokens(tokens):
        kind, value = _classify(token)
        if kind == "open":
            node = Tree(value)
            (stack[-1].children if stack else top).append(node)
            stack.append(node)
        elif kind == "close":
            _close(stack, value)
        elif kind == "leaf" and value in LEAF_SYMBOLS:
            (stack[-1].children if stack else top).append(value)
    # Constituents are attached when opened, so whatever is still on the stack is closed implicitly.
    if len(top) == 1 and isinstance(top[0], Tree):
        tree = top[0]
    else:
        tree = Tree(root_label, top)
    return linearize(tree, words=True).split()  # every leaf is a leaf symbol: keep ``.`` as ``.``


def _last_constituent(tree: Tree) -> Tree:
    """The deepest constituent on the right spine: the last one to end at the end of the sentence."""
    node = tree
    while node.children and isinstance(node.children[-1], Tree):
        node = node.children[-1]
    return node


def put_words_back(tokens: Tokens, words: Tokens) -> Tree:
    """Replace the leaves of a well-formed tree with ``words`` in order, so its yield is ``words``.

    EVALB compares brackets over the gold words, so the yield must match the sentence exactly:
    surplus leaves (beyond ``len(words)``) are dropped from the end, and missing words are appended
    to the last constituent (the deepest one on the right spine, at worst the root), which keeps the
    words in order. A constituent left empty by dropping keeps its place but spans nothing.

    Raises:
        ValueError: if ``tokens`` is not a well-formed tree (``repair`` it first).
    """
    tree = parse_linearized(tokens)
    words = _as_tokens(words)
    slots = [(node, index) for kind, node, index in walk(tree) if kind == "leaf"]
    for (node, index), word in zip(slots, words):
        node.children[index] = word
    # Delete right to left so that earlier indices in the same parent stay valid.
    for node, index in reversed(slots[len(words):]):
        del node.children[index]
    _last_constituent(tree).children.extend(words[len(slots):])
    return tree


@dataclass
class Hypothesis:
    """A model's output as it is scored: the tree with the gold words as its leaves, whether the
    output was already well-formed, and how many leaves it had (before the words went back)."""

    tree: Tree
    well_formed: bool
    leaves: int


def hypothesis_tree(tokens: Tokens, words: Tokens) -> Hypothesis:
    """`repair` a predicted linearization unless it is well-formed, then `put_words_back`."""
    tokens = _as_tokens(tokens)
    well_formed = is_well_formed(tokens)
    if not well_formed:
        tokens = repair(tokens)
    leaves = sum(_classify(token)[0] == "leaf" for token in tokens)
    return Hypothesis(put_words_back(tokens, words), well_formed, leaves)


def spans(tree: Tree) -> collections.Counter[tuple[str, int, int]]:
    """Labeled constituent spans ``(label, start, end)`` over word positions, end exclusive.

    The strict definition behind ``tree_f1_strict`` (`mtseq2seq.evalb` has EVALB's): every bracket
    counts with its label as written, the root (``TOP`` too) included, and every word, punctuation
    included, is a position. Constituents spanning no words are skipped. A Counter, because unary
    chains such as ``(NP (NP XX )NP )NP`` repeat a span.
    """
    found: collections.Counter[tuple[str, int, int]] = collections.Counter()
    starts: list[int] = []
    position = 0
    for kind, node, _ in walk(tree):
        if kind == "open":
            starts.append(position)
        elif kind == "leaf":
            position += 1
        else:
            start = starts.pop()
            if position > start:
                found[(node.label, start, position)] += 1
    return found
