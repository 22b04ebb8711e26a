"""Validation and test metrics: sacrebleu BLEU and chrF, tree F1, exact match, accuracy.

Every metric returns a `MetricResult` whose ``score`` is on a 0-100 scale, higher is better, and
whose ``signature`` says exactly how it was computed (sacrebleu's signature for BLEU and chrF), so
reported numbers can be reproduced. `compute` gives all of them one call shape for the trainer.
The metrics of classification and sequence-labelling heads live in `label_metrics`, distinct-1/2
in `text_metrics`, EVALB's tree F1 (``tree_f1``, ``tree_f1_len40``) in `evalb`; they are registered
here too, beside ``tree_f1_strict``, the stricter bracket F1 that was ``tree_f1`` before EVALB's.

An entry of ``refs`` is a `Reference`: a str, or a tuple of the example's several references (the
first is the primary one). BLEU and chrF score against all of them (sacrebleu's multi-reference
mode, ``nrefs:`` in the signature); exact match counts a hypothesis equal to any of them; every
other metric scores against the first.
"""
from __future__ import annotations

import functools
from collections import Counter
from typing import Callable, Sequence

from sacrebleu.metrics import BLEU, CHRF

from . import label_metrics, text_metrics, trees
from .errors import DataError, unknown
from .evalb import tree_f1, tree_f1_len40
from .metric_result import MetricResult, Reference, first_references, nrefs, reference_streams
from .metric_result import check_pair as _check_pair
from .metric_result import ratio as _ratio

# Bump when the strict tree F1 procedure (repair rule, span definition) changes, so old numbers are
# not silently compared with new ones. 2: renamed tree_f1_strict; repair keeps punctuation leaves.
TREE_F1_VERSION = "2"


def bleu(hyps: Sequence[str], refs: Sequence[Reference]) -> MetricResult:
    """Corpus BLEU with sacrebleu's defaults (13a tokenization, exp smoothing) on detokenized lines.

    Against every reference of each example (`reference_streams`; an example with fewer than the
    others is scored against those it has, and the signature says ``nrefs:var``).
    """
    _check_pair(hyps, refs)
    metric = BLEU()
    result = metric.corpus_score(list(hyps), reference_streams(refs))
    extra = {"precisions": list(result.precisions), "bp": result.bp,
             "sys_len": result.sys_len, "ref_len": result.ref_len, "nrefs": nrefs(refs)}
    return MetricResult("bleu", result.score, str(metric.get_signature()), len(hyps), extra)


def chrf(hyps: Sequence[str], refs: Sequence[Reference]) -> MetricResult:
    """Corpus chrF (sacrebleu defaults: chrF2, character 6-grams, no word n-grams) on detokenized lines.

    Against every reference of each example, as `bleu` (sacrebleu takes each segment's best one).
    """
    _check_pair(hyps, refs)
    metric = CHRF()
    result = metric.corpus_score(list(hyps), reference_streams(refs))
    extra = {"char_order": result.char_order, "word_order": result.word_order, "beta": result.beta,
             "nrefs": nrefs(refs)}
    return MetricResult("chrf", result.score, str(metric.get_signature()), len(hyps), extra)


def _gold_spans(ref_line: str, words: list[str], line: int) -> Counter[tuple[str, int, int]]:
    """Spans of a reference tree; a malformed reference is a data problem, not a model error."""
    try:
        return trees.spans(trees.put_words_back(ref_line, words))
    except ValueError as err:
        raise DataError(f"reference tree on line {line} is malformed: {err}") from None


def tree_f1_strict(hyp_lines: Sequence[str], ref_lines: Sequence[Reference],
                   sentences: Sequence[str]) -> MetricResult:
    """Labeled bracketing F1 over the corpus (micro-averaged), every bracket counted, 0-100.

    Stricter than EVALB's ``tree_f1`` (`evalb`), so not comparable with published parsing F1: the
    root (``TOP`` too) is counted, punctuation words are positions like any word, and labels are
    compared as written (``NP-SBJ`` is not ``NP``, ``PRT`` not ``ADVP``). Each hypothesis is
    repaired with `trees.repair` unless it is already well-formed, then its leaves are replaced by
    the sentence's words (`trees.put_words_back`) and its labeled spans (`trees.spans`, empty
    constituents skipped) are matched against the gold tree's.

    Args:
        hyp_lines: predicted linearized trees, one per sentence.
        ref_lines: gold linearized trees; of several per sentence only the first is used.
        sentences: the source sentences, whitespace-tokenized into the words the trees cover.

    Raises:
        ValueError: on empty or misaligned inputs.
        DataError: on a malformed reference tree.
    """
    _check_pair(hyp_lines, ref_lines)
    _check_pair(hyp_lines, sentences)
    ref_lines = first_references(ref_lines)
    matched = hyp_total = gold_total = well_formed = leaves_match = 0
    for line, (hyp, ref, sentence) in enumerate(zip(hyp_lines, ref_lines, sentences), start=1):
        words = sentence.split()
        gold = _gold_spans(ref, words, line)
        predicted = trees.hypothesis_tree(hyp, words)
        well_formed += predicted.well_formed
        leaves_match += predicted.leaves == len(words)
        pred = trees.spans(predicted.tree)
        matched += sum((pred & gold).values())
        hyp_total += sum(pred.values())
        gold_total += sum(gold.values())
    precision, recall = _ratio(matched, hyp_total), _ratio(matched, gold_total)
    f1 = _ratio(2 * matched, hyp_total + gold_total)  # = 2PR / (P + R), without rounding twice
    n = len(hyp_lines)
    extra = {"precision": precision, "recall": recall, "well_formed": _ratio(well_formed, n),
             "matched": matched, "hyp_spans": hyp_total, "gold_spans": gold_total,
             "well_formed_count": well_formed, "leaf_count_match": leaves_match}
    signature = (f"tree_f1_strict|labeled|micro|root:yes|preterminals:no|empty:skip|repair:yes"
                 f"|version:{TREE_F1_VERSION}")
    return MetricResult("tree_f1_strict", f1, signature, n, extra)


def exact_match(hyps: Sequence[str], refs: Sequence[Reference]) -> MetricResult:
    """Percentage of hypotheses identical to their reference after collapsing whitespace.

    With several references per example a hypothesis equal to any one of them counts as a match;
    the signature then ends in ``|refs:any|nrefs:<k or var>`` (with one reference each it is
    unchanged, ``exact_match|whitespace:normalized``).
    """
    _check_pair(hyps, refs)
    streams = reference_streams(refs)
    same = sum(_normalized(hyp) in {_normalized(r) for r in column if r is not None}
               for hyp, column in zip(hyps, zip(*streams)))
    signature = "exact_match|whitespace:normalized"
    if len(streams) > 1:
        signature += f"|refs:any|nrefs:{nrefs(refs)}"
    return MetricResult("exact_match", _ratio(same, len(hyps)), signature, len(hyps),
                        {"matches": same})


def _normalized(line: str) -> str:
    return " ".join(line.split())


def token_accuracy(correct: int, total: int) -> MetricResult:
    """Percentage of correctly predicted tokens, from counts accumulated by the caller."""
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total > 0, got {correct} / {total}")
    return MetricResult("accuracy", _ratio(correct, total), "accuracy|tokens", total,
                        {"correct": correct, "total": total})


MetricFn = Callable[[Sequence[str], Sequence[Reference], "Sequence[str] | None"], MetricResult]


TreeMetricFn = Callable[[Sequence[str], Sequence[Reference], Sequence[str]], MetricResult]


def _needs_sources(name: str, fn: TreeMetricFn) -> MetricFn:
    """Adapter: the tree F1 metrics need the source sentences to put the words back."""

    def scored(hyps: Sequence[str], refs: Sequence[Reference],
               sources: Sequence[str] | None = None) -> MetricResult:
        if sources is None:
            raise ValueError(f"metric '{name}' needs the source sentences")
        return fn(hyps, refs, sources)

    return scored


def _on_first_reference(fn: MetricFn) -> MetricFn:
    """Adapter: the label metrics score the primary reference only, and take plain strings."""

    @functools.wraps(fn)
    def scored(hyps: Sequence[str], refs: Sequence[Reference],
               sources: Sequence[str] | None = None) -> MetricResult:
        _check_pair(hyps, refs)
        return fn(hyps, first_references(refs), sources)

    return scored


# Every entry takes (hyps, refs, sources); only the tree_f1* use sources, distinct_* ignore refs.
METRICS: dict[str, MetricFn] = {
    "bleu": lambda hyps, refs, sources=None: bleu(hyps, refs),
    "chrf": lambda hyps, refs, sources=None: chrf(hyps, refs),
    "tree_f1": _needs_sources("tree_f1", tree_f1),  # EVALB, COLLINS.prm, all sentences
    "tree_f1_len40": _needs_sources("tree_f1_len40", tree_f1_len40),  # EVALB, <= 40 words
    "tree_f1_strict": _needs_sources("tree_f1_strict", tree_f1_strict),  # every bracket
    "exact_match": lambda hyps, refs, sources=None: exact_match(hyps, refs),
    "distinct_1": text_metrics.distinct_1,
    "distinct_2": text_metrics.distinct_2,
    # classification and sequence-labelling heads (see label_metrics), on the first reference
    "accuracy": _on_first_reference(label_metrics.label_accuracy),
    "macro_f1": _on_first_reference(label_metrics.macro_f1),
    "word_accuracy": _on_first_reference(label_metrics.word_accuracy),
    "span_f1": _on_first_reference(label_metrics.span_f1),
}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator for a plugin's metric ``fn(hyps, refs, sources) -> MetricResult`` (0-100,
    higher is better), usable as ``tasks.<t>.metric: name`` or as a task kind's metric.

    An entry of ``refs`` may be a tuple of references; `first_references` and `reference_streams`
    turn them into what the metric needs."""

    def add(fn: MetricFn) -> MetricFn:
        old = METRICS.get(name)
        if old is not None and old is not fn:
            raise ValueError(f"metric '{name}' is registered twice: {old.__module__}."
                             f"{old.__qualname__} and {fn.__module__}.{fn.__qualname__}")
        METRICS[name] = fn
        return fn

    return add


def compute(name: str, hyps: Sequence[str], refs: Sequence[Reference],
            sources: Sequence[str] | None = None) -> MetricResult:
    """Compute the metric called ``name``; ``sources`` is needed only by the ``tree_f1*``.

    Each entry of ``refs`` is a str or a tuple of the example's references (first = primary).

    Raises:
        ValueError: for an unknown name (the message lists the known ones) or bad inputs.
    """
    if name not in METRICS:
        raise ValueError(unknown("metric", name, METRICS))
    return METRICS[name](hyps, refs, sources)


__all__ = ["METRICS", "MetricResult", "Reference", "bleu", "chrf", "compute", "exact_match",
           "first_references", "reference_streams", "register_metric", "token_accuracy", "tree_f1",
           "tree_f1_len40", "tree_f1_strict"]
