"""EVALB-compatible labeled bracketing F1 of linearized trees (COLLINS.prm): the metric ``tree_f1``.

EVALB (Sekine and Collins, 1997) run with its COLLINS.prm parameter file is how published
constituency parsing F1 is computed. Its input has POS preterminals and ours (`mtseq2seq.trees`)
does not, so the rules it applies to preterminals are applied here to word positions. The rules,
on gold and hypothesis alike:

1. Labels lose function tags and indices, everything from the first ``-`` or ``=`` after the first
   character (``NP-SBJ-1``, ``NP=2`` -> ``NP``); a label starting with ``-`` (``-NONE-``) is kept
   whole. ``PRT`` counts as ``ADVP`` (EQ_LABEL ADVP PRT). See `evalb_label`.
2. Brackets labeled ``TOP`` or ``-NONE-`` are not counted (DELETE_LABEL TOP, -NONE-). EVALB's gold
   files wrap each sentence in ``(TOP (S ...))``; `data.ptb.clean` has already dropped that
   wrapper, so the root ``S`` of our trees is counted, as EVALB counts the ``S`` below its TOP,
   while a ``TOP`` root (a sentence of several top-level constituents, or a hypothesis that
   `trees.repair` wrapped) is not.
3. Deleted words: punctuation (`punctuation`: DELETE_LABEL , : `` '' .) and the words under a
   gold ``-NONE-`` constituent. The deleted positions are decided on the gold side and applied to
   both trees (the hypothesis carries the gold words, put back in order). Positions are renumbered
   over the kept words, and a bracket left covering no word is not counted (EVALB drops nodes that
   dominate nothing). A sentence with no word left is skipped, as EVALB skips it.
4. Brackets match as multisets of (label, start, end): n gold and m predicted copies of one bracket
   match min(n, m) times (EVALB README, section 7.5).
5. Two summaries, as EVALB prints them: all sentences (the score) and sentences of at most
   `CUTOFF_LEN` words (``tree_f1_len40``). As in COLLINS.prm (DELETE_LABEL_FOR_LENGTH -NONE-, and
   nothing else) that length counts punctuation and leaves out only ``-NONE-`` words.

F1 is 2PR / (P + R) of the micro-averaged counts, 0 when there is no bracket at all (EVALB prints
nan there). ``tree_f1_strict`` (`mtseq2seq.metrics`) keeps the earlier score, every bracket counted.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from . import trees
from .errors import DataError
from .metric_result import MetricResult, Reference, check_pair, first_references, ratio

# Bump when a rule below changes, so that old numbers are not silently compared with new ones.
log = logging.getLogger(__name__)
EVALB_VERSION = "1"
CUTOFF_LEN = 40
EMPTY_LABEL = "-NONE-"
DELETED_LABELS = frozenset({"TOP", EMPTY_LABEL})  # brackets never counted
# COLLINS.prm deletes these POS tags (with their words); -LRB-, -RRB-, # and $ are kept.
PUNCT_TAGS = frozenset({",", ":", "``", "''", "."})
# Words the Penn Treebank tags only with one of PUNCT_TAGS (checked on the NLTK WSJ sample), for
# data without --keep-punct, whose trees show XX for them. The single quote ' is not here: in the
# WSJ it is mostly the possessive (tag POS, 63 of its 73 uses in the sample), which EVALB keeps;
# `punctuation` takes it for a closing quote only after an unclosed ` (right for 72 of the 73).
PUNCT_WORDS = frozenset({",", ".", "?", "!", ":", ";", "--", "...", "-", "``", "`", "''"})
EQUIVALENT_LABELS = {"PRT": "ADVP"}  # EQ_LABEL ADVP PRT: one representative for the pair
_FUNCTION_TAG = re.compile(r"[-=]")

Span = tuple[str, int, int]


def evalb_label(label: str) -> str:
    """The label EVALB compares: ``NP-SBJ-1`` -> ``NP``, ``PP=2`` -> ``PP``, ``PRT`` -> ``ADVP``."""
    if not label.startswith("-"):
        label = _FUNCTION_TAG.split(label, maxsplit=1)[0]
    return EQUIVALENT_LABELS.get(label, label)


def punctuation(symbols: Sequence[str], words: Sequence[str]) -> list[bool]:
    """Which gold words EVALB deletes as punctuation, from their leaf symbols and the words.

    Data written by ``ptb.py --keep-punct`` shows the POS tag of punctuation instead of ``XX``: that
    tag decides (deleted when in `PUNCT_TAGS`, so ``-LRB-`` and ``$`` stay). Where the leaf is
    ``XX`` the tag is not known and the word decides: one of `PUNCT_WORDS`, or a single quote
    (``'``) that closes an opening one (a backquote) earlier in the sentence; a possessive stays.
    """
    found: list[bool] = []
    open_quotes = 0  # single quotes ` not yet closed by a '
    for symbol, word in zip(symbols, words):
        if symbol != trees.LEAF:
            deleted = symbol in PUNCT_TAGS
        else:
            deleted = word in PUNCT_WORDS or (word == "'" and open_quotes > 0)
        open_quotes += (word == "`") - (word == "'" and deleted and open_quotes > 0)
        found.append(deleted)
    return found


def kept_positions(gold: trees.Tree, words: Sequence[str]) -> tuple[list[bool], int]:
    """Which words EVALB scores and the sentence's length for the `CUTOFF_LEN` summary.

    Args:
        gold: the gold tree with its leaf symbols (``XX`` or punctuation tags), one per word.
        words: the sentence.

    Returns:
        ``keep`` (one bool per word, False for punctuation and words under ``-NONE-``) and the
        length (words not under ``-NONE-``, punctuation included).
    """
    symbols: list[str] = []
    traces: list[bool] = []  # under a -NONE- constituent
    inside_empty = 0  # how many -NONE- constituents enclose the walk
    for kind, node, index in trees.walk(gold):
        if kind == "leaf":
            symbols.append(str(node.children[index]))
            traces.append(inside_empty > 0)
        elif evalb_label(node.label) == EMPTY_LABEL:
            inside_empty += 1 if kind == "open" else -1
    keep = [not (trace or punct) for trace, punct in zip(traces, punctuation(symbols, words))]
    return keep, traces.count(False)


def evalb_spans(tree: trees.Tree, keep: Sequence[bool]) -> Counter[Span]:
    """EVALB's brackets ``(label, start, end)`` of a tree with one leaf per entry of ``keep``.

    Positions count only kept leaves (end exclusive); labels go through `evalb_label`; ``TOP``,
    ``-NONE-`` and brackets over no kept word are left out.
    """
    found: Counter[Span] = Counter()
    starts: list[int] = []
    leaf = position = 0
    for kind, node, _ in trees.walk(tree):
        if kind == "open":
            starts.append(position)
        elif kind == "leaf":
            position += keep[leaf]
            leaf += 1
        else:
            start, label = starts.pop(), evalb_label(node.label)
            if position > start and label not in DELETED_LABELS:
                found[(label, start, position)] += 1
    return found


def reference_tree(ref_line: str, line: int) -> trees.Tree:
    """Parse a gold tree; a malformed reference is a data problem, not a model error.

    Raises:
        DataError: naming the line, when the reference is not a well-formed linearized tree.
    """
    try:
        return trees.parse_linearized(ref_line)
    except ValueError as err:
        raise DataError(f"reference tree on line {line} is malformed: {err}") from None


@dataclass
class Counts:
    """Bracket counts summed over sentences (one EVALB summary)."""

    matched: int = 0
    gold: int = 0
    hyp: int = 0
    sentences: int = 0
    complete: int = 0  # sentences whose brackets all match, none missing or extra

    def add(self, matched: int, gold: int, hyp: int) -> None:
        self.matched, self.gold, self.hyp = self.matched + matched, self.gold + gold, self.hyp + hyp
        self.sentences += 1
        self.complete += matched == gold == hyp

    def f1(self) -> float:
        return ratio(2 * self.matched, self.gold + self.hyp)  # = 2PR / (P + R), rounded once

    def summary(self, suffix: str = "") -> dict[str, float | int]:
        values = {"precision": ratio(self.matched, self.hyp),
                  "recall": ratio(self.matched, self.gold), "matched": self.matched,
                  "hyp_spans": self.hyp, "gold_spans": self.gold, "sentences": self.sentences,
                  "complete_match": ratio(self.complete, self.sentences)}
        return {key + suffix: value for key, value in values.items()}


@dataclass
class Totals:
    """Everything `evaluate` counts over a corpus."""

    all: Counts = field(default_factory=Counts)
    short: Counts = field(default_factory=Counts)  # sentences of at most CUTOFF_LEN words
    skipped: int = 0  # sentences with no word left after deletion
    errors: list[int] = field(default_factory=list)  # lines whose tree's yield is not the sentence
    well_formed: int = 0
    leaf_count_match: int = 0


def _score_sentence(hyp: str, ref: str, words: list[str], line: int, totals: Totals) -> None:
    """Add one sentence's brackets to ``totals``."""
    gold = reference_tree(ref, line)
    leaves = len(gold.leaves())
    if leaves != len(words):  # an "error sentence" to EVALB: counted, not scored
        totals.errors.append(line)
        return
    keep, length = kept_positions(gold, words)
    predicted = trees.hypothesis_tree(hyp, words)
    totals.well_formed += predicted.well_formed
    totals.leaf_count_match += predicted.leaves == len(words)
    if not any(keep):
        totals.skipped += 1
        return
    gold_spans, pred_spans = evalb_spans(gold, keep), evalb_spans(predicted.tree, keep)
    counts = (sum((gold_spans & pred_spans).values()), sum(gold_spans.values()),
              sum(pred_spans.values()))
    totals.all.add(*counts)
    if length <= CUTOFF_LEN:
        totals.short.add(*counts)


def evaluate(hyp_lines: Sequence[str], ref_lines: Sequence[Reference],
             sentences: Sequence[str]) -> Totals:
    """EVALB's counts for a corpus: each hypothesis repaired unless well-formed, words put back.

    Raises:
        ValueError: on empty or misaligned inputs.
        DataError: on a malformed reference tree (one whose leaves are not the sentence's words
            is left out and counted, as EVALB does).
    """
    check_pair(hyp_lines, ref_lines)
    check_pair(hyp_lines, sentences)
    totals = Totals()
    for line, (hyp, ref, sentence) in enumerate(
            zip(hyp_lines, first_references(ref_lines), sentences), start=1):
        _score_sentence(hyp, ref, sentence.split(), line, totals)
    if totals.errors:
        log.warning("tree_f1: %d reference tree(s) whose leaves are not their sentence's words "
                    "(lines %s) are left out, as EVALB leaves out error sentences; "
                    "tree_f1_strict scores them", len(totals.errors),
                    ", ".join(map(str, totals.errors[:5])) + (", ..." if len(totals.errors) > 5
                                                               else ""))
    return totals


def _result(name: str, totals: Totals, n: int) -> MetricResult:
    """The MetricResult of one summary (``name`` says which); both summaries are in ``extra``."""
    short = name.endswith("_len40")
    extra: dict[str, float | int] = {**totals.all.summary(), **totals.short.summary("_len40"),
                                     "tree_f1_len40": totals.short.f1(), "cutoff_len": CUTOFF_LEN,
                                     "skipped": totals.skipped,
                                     "error_sentences": len(totals.errors),
                                     "well_formed": ratio(totals.well_formed, n),
                                     "well_formed_count": totals.well_formed,
                                     "leaf_count_match": totals.leaf_count_match}
    summary = f"len<={CUTOFF_LEN}" if short else "all"
    signature = (f"{name}|evalb:COLLINS.prm|labeled|micro|summary:{summary}|root:TOP-deleted"
                 f"|punct:gold-tag-or-word|repair:yes|version:{EVALB_VERSION}")
    score = totals.short.f1() if short else totals.all.f1()
    return MetricResult(name, score, signature, n, extra)


def tree_f1(hyp_lines: Sequence[str], ref_lines: Sequence[Reference],
            sentences: Sequence[str]) -> MetricResult:
    """EVALB (COLLINS.prm) labeled bracketing F1 over all sentences, 0-100 (see the module).

    Args:
        hyp_lines: predicted linearized trees, one per sentence.
        ref_lines: gold linearized trees; of several per sentence only the first is used.
        sentences: the source sentences, whitespace-tokenized into the words the trees cover.

    Raises:
        ValueError: on empty or misaligned inputs.
        DataError: on a malformed reference tree (one whose leaves are not the sentence's words
            is left out and counted, as EVALB does).
    """
    return _result("tree_f1", evaluate(hyp_lines, ref_lines, sentences), len(hyp_lines))


def tree_f1_len40(hyp_lines: Sequence[str], ref_lines: Sequence[Reference],
                  sentences: Sequence[str]) -> MetricResult:
    """`tree_f1` on the sentences of at most `CUTOFF_LEN` words (EVALB's second summary)."""
    return _result("tree_f1_len40", evaluate(hyp_lines, ref_lines, sentences), len(hyp_lines))


__all__ = ["CUTOFF_LEN", "Counts", "PUNCT_TAGS", "PUNCT_WORDS", "Totals", "evalb_label",
           "evalb_spans", "evaluate", "kept_positions", "punctuation", "reference_tree",
           "tree_f1", "tree_f1_len40"]
