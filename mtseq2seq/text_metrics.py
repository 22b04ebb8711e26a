"""Metrics of the hypotheses alone: distinct-1 and distinct-2 (Li et al. 2016).

Distinct-n ("A Diversity-Promoting Objective Function for Neural Conversation Models") is the number
of distinct n-grams over all hypotheses divided by the total number of n-grams in them, as a
percentage: 100 when no n-gram repeats anywhere in the corpus, near 0 when the model says the same
thing every time. Both entries have the call shape of `metrics.METRICS`, ``fn(hyps, refs, sources)``;
references and sources are accepted and ignored.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from .metric_result import MetricResult, Reference, ratio

# Bump when the procedure (tokenization, n-gram counting) changes, so old numbers are not silently
# compared with new ones.
DISTINCT_VERSION = "1"


def distinct_n(hyps: Sequence[str], n: int) -> MetricResult:
    """Distinct n-grams over the corpus divided by all n-grams, 0-100, on whitespace tokens.

    N-grams are taken within each hypothesis (never across two) and compared case-sensitively;
    a hypothesis shorter than ``n`` tokens adds none. With no n-gram at all (every hypothesis
    empty, or shorter than ``n``) the score is 0.

    Raises:
        ValueError: on an empty corpus or ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"distinct-n needs n >= 1, got {n}")
    if not hyps:
        raise ValueError("cannot score an empty corpus")
    grams: Counter[tuple[str, ...]] = Counter()
    for hyp in hyps:
        tokens = hyp.split()
        grams.update(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    distinct, total = len(grams), sum(grams.values())
    return MetricResult(f"distinct_{n}", ratio(distinct, total),
                        f"distinct|n:{n}|tok:whitespace|version:{DISTINCT_VERSION}", len(hyps),
                        {"distinct": distinct, "total": total})


def distinct_1(hyps: Sequence[str], refs: Sequence[Reference] | None = None,
               sources: Sequence[str] | None = None) -> MetricResult:
    """Distinct unigrams over all unigrams of the hypotheses (`distinct_n` with n=1)."""
    return distinct_n(hyps, 1)


def distinct_2(hyps: Sequence[str], refs: Sequence[Reference] | None = None,
               sources: Sequence[str] | None = None) -> MetricResult:
    """Distinct bigrams over all bigrams of the hypotheses (`distinct_n` with n=2)."""
    return distinct_n(hyps, 2)


__all__ = ["DISTINCT_VERSION", "distinct_1", "distinct_2", "distinct_n"]
