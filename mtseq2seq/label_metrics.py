"""Metrics for classification and sequence-labelling heads: accuracy, macro F1, word accuracy, span F1.

Every metric has the call shape of `metrics.METRICS` entries, ``fn(hyps, refs, sources=None)``
(``sources`` is accepted and ignored), and returns a `MetricResult` on a 0-100 scale, higher is
better, whose ``signature`` says how it was computed.

* Classification (one label per line): `label_accuracy` and `macro_f1`; labels are compared after
  stripping surrounding whitespace.
* Sequence labelling (one space-separated label per word): `word_accuracy` and `span_f1`, the
  exact-span F1 of IOB/IOB2 (BIO) chunks with the CoNLL rules of conlleval and seqeval's default
  mode.

A reference that cannot be scored (an empty label, a tag that is not IOB) is a `DataError` naming
its line; a bad hypothesis is only a wrong prediction.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from .errors import DataError
from .metric_result import MetricResult, check_pair, ratio

# Bump when a procedure below (label normalization, chunk rules, length handling) changes, so old
# numbers are not silently compared with new ones.
LABEL_METRICS_VERSION = "1"

Span = tuple[str, int, int]  # (type, start, end), end exclusive


def _reference_labels(refs: Sequence[str]) -> list[str]:
    """Stripped reference labels; an empty one is a data bug, not something to score."""
    labels = [ref.strip() for ref in refs]
    for line, label in enumerate(labels, start=1):
        if not label:
            raise DataError(f"reference on line {line} has no label")
    return labels


def label_accuracy(hyps: Sequence[str], refs: Sequence[str],
                   sources: Sequence[str] | None = None) -> MetricResult:
    """Percentage of lines whose label equals the reference label (both whitespace-stripped).

    Raises:
        ValueError: on empty or misaligned inputs.
        DataError: on an empty reference label.
    """
    check_pair(hyps, refs)
    gold = _reference_labels(refs)
    correct = sum(hyp.strip() == ref for hyp, ref in zip(hyps, gold))
    signature = f"accuracy|labels:one_per_line|strip:yes|version:{LABEL_METRICS_VERSION}"
    return MetricResult("accuracy", ratio(correct, len(gold)), signature, len(gold),
                        {"correct": correct, "total": len(gold)})


def macro_f1(hyps: Sequence[str], refs: Sequence[str],
             sources: Sequence[str] | None = None) -> MetricResult:
    """Unweighted mean of the per-label F1, as a percentage (one label per line, stripped).

    The labels averaged over are the sorted union of those in the references and the hypotheses,
    scikit-learn's ``f1_score(average="macro")`` convention: a label only ever predicted, never
    true, counts with F1 0. A label's F1 is ``2 tp / (2 tp + fp + fn)``.

    Raises:
        ValueError: on empty or misaligned inputs.
        DataError: on an empty reference label.
    """
    check_pair(hyps, refs)
    gold = _reference_labels(refs)
    pred = [hyp.strip() for hyp in hyps]
    hits = Counter(ref for hyp, ref in zip(pred, gold) if hyp == ref)
    pred_count, gold_count = Counter(pred), Counter(gold)
    labels = sorted(set(gold_count) | set(pred_count))
    per_label = {label: ratio(2 * hits[label], pred_count[label] + gold_count[label])
                 for label in labels}
    score = sum(per_label.values()) / len(labels)
    signature = (f"macro_f1|labels:union(refs,hyps)|strip:yes"
                 f"|version:{LABEL_METRICS_VERSION}")
    return MetricResult("macro_f1", score, signature, len(gold),
                        {"per_label": per_label, "labels": len(labels)})


def word_accuracy(hyps: Sequence[str], refs: Sequence[str],
                  sources: Sequence[str] | None = None) -> MetricResult:
    """Percentage of words whose label equals the reference label, over the whole corpus.

    Each line holds one whitespace-separated label per word. Labels are compared position by
    position against the reference; where a hypothesis is shorter than its reference the missing
    positions count as wrong, where it is longer the extra labels are ignored (the denominator is
    always the number of reference words). ``extra["length_mismatch"]`` counts such lines.

    Raises:
        ValueError: on empty or misaligned inputs.
        DataError: when the references hold no labels at all.
    """
    check_pair(hyps, refs)
    correct = total = mismatched = 0
    for hyp, ref in zip(hyps, refs):
        pred, gold = hyp.split(), ref.split()
        correct += sum(p == g for p, g in zip(pred, gold))
        total += len(gold)
        mismatched += len(pred) != len(gold)
    if not total:
        raise DataError("the references hold no labels to score")
    signature = (f"word_accuracy|tokens:whitespace|short:wrong|long:ignored"
                 f"|version:{LABEL_METRICS_VERSION}")
    return MetricResult("word_accuracy", ratio(correct, total), signature, len(refs),
                        {"correct": correct, "total": total, "length_mismatch": mismatched})


def _parse_tag(tag: str) -> tuple[str, str]:
    """``("O", "")`` for O, ``("B", type)`` / ``("I", type)`` for B-type / I-type.

    Raises:
        ValueError: for anything else (E-/S- tags of other schemes included).
    """
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if prefix not in ("B", "I") or not dash or not kind:
        raise ValueError(f"{tag!r} is not an IOB tag (O, B-<type> or I-<type>)")
    return prefix, kind


def iob_spans(tags: Sequence[str]) -> set[Span]:
    """The chunks of one IOB/IOB2 tag sequence as ``(type, start, end)``, end exclusive.

    CoNLL rules (conlleval, seqeval's default mode): a chunk starts at B-X, and at I-X when there
    is no open chunk of type X (sentence start, after O, after a chunk of another type); it goes on
    over I-X and ends before O, any B-, or an I-Y of another type.

    Raises:
        ValueError: for a tag that is not O, B-<type> or I-<type>.
    """
    found: set[Span] = set()
    start, open_kind = -1, ""
    for position, tag in enumerate([*tags, "O"]):
        prefix, kind = _parse_tag(tag)
        continues = prefix == "I" and start >= 0 and kind == open_kind
        if start >= 0 and not continues:
            found.add((open_kind, start, position))
            start = -1
        if prefix != "O" and not continues:
            start, open_kind = position, kind
    return found


def _hyp_tags(hyp: str, length: int) -> list[str]:
    """The hypothesis's tags cut or padded with O to the reference length; non-IOB tags become O."""
    tags = hyp.split()[:length]
    tags += ["O"] * (length - len(tags))
    return [tag if tag == "O" or _is_iob(tag) else "O" for tag in tags]


def _is_iob(tag: str) -> bool:
    try:
        _parse_tag(tag)
    except ValueError:
        return False
    return True


def _gold_chunks(ref: str, line: int) -> tuple[int, set[Span]]:
    """Length and chunks of a reference line; a tag that is not IOB is a data problem."""
    tags = ref.split()
    try:
        return len(tags), iob_spans(tags)
    except ValueError as err:
        raise DataError(f"reference on line {line}: {err}") from None


def _per_type(matched: Counter[str], pred: Counter[str], gold: Counter[str]) -> dict[str, float]:
    """F1 per chunk type, over the types seen in either side."""
    return {kind: ratio(2 * matched[kind], pred[kind] + gold[kind])
            for kind in sorted(set(pred) | set(gold))}


def span_f1(hyps: Sequence[str], refs: Sequence[str],
            sources: Sequence[str] | None = None) -> MetricResult:
    """Micro-averaged exact-span F1 of IOB/IOB2 chunks over the corpus, as a percentage.

    Chunks are found by `iob_spans` on each line; a predicted chunk counts only if its type, start
    and end all equal a reference chunk's (seqeval's ``f1_score`` in its default mode, conlleval).
    A hypothesis line longer than its reference is cut to the reference length, a shorter one is
    padded with O (``extra["length_mismatch"]`` counts such lines), and a hypothesis tag that is
    not IOB is read as O. With no chunk on either side the score is 0.

    Raises:
        ValueError: on empty or misaligned inputs.
        DataError: on a reference tag that is not O, B-<type> or I-<type>.
    """
    check_pair(hyps, refs)
    matched: Counter[str] = Counter()
    pred_count: Counter[str] = Counter()
    gold_count: Counter[str] = Counter()
    mismatched = 0
    for line, (hyp, ref) in enumerate(zip(hyps, refs), start=1):
        length, gold = _gold_chunks(ref, line)
        mismatched += len(hyp.split()) != length
        pred = iob_spans(_hyp_tags(hyp, length))
        matched.update(kind for kind, _, _ in pred & gold)
        pred_count.update(kind for kind, _, _ in pred)
        gold_count.update(kind for kind, _, _ in gold)
    hits, n_pred, n_gold = sum(matched.values()), sum(pred_count.values()), sum(gold_count.values())
    extra = {"precision": ratio(hits, n_pred), "recall": ratio(hits, n_gold), "matched": hits,
             "hyp_spans": n_pred, "gold_spans": n_gold, "length_mismatch": mismatched,
             "per_type": _per_type(matched, pred_count, gold_count)}
    signature = (f"span_f1|scheme:iob|chunks:conll|exact|micro|length:pad_or_cut_with_O"
                 f"|version:{LABEL_METRICS_VERSION}")
    return MetricResult("span_f1", ratio(2 * hits, n_pred + n_gold), signature, len(refs), extra)


__all__ = ["LABEL_METRICS_VERSION", "iob_spans", "label_accuracy", "macro_f1", "span_f1",
           "word_accuracy"]
