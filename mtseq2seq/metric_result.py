"""The result type every metric returns, and the input checks and arithmetic all metrics share.

A *reference* (`Reference`) is either one string or a tuple of strings, the several references of
one example, the first being the primary one. Metrics that can use several (BLEU, chrF) take
`reference_streams`; the others take `first_references`, or, like exact match, say what they do.

It lives below `metrics` and `label_metrics` so that both can use it without importing each other;
`metrics` re-exports `MetricResult`, so ``from mtseq2seq.metrics import MetricResult`` still works.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

# One reference, or the several references of one example (the first is the primary one).
Reference = str | tuple[str, ...]


@dataclass
class MetricResult:
    """One corpus-level score.

    Attributes:
        name: metric name (``"bleu"``, ``"chrf"``, ``"tree_f1"``, ...).
        score: the headline number, 0-100, higher is better.
        signature: how it was computed; for BLEU/chrF sacrebleu's signature including its version.
        n: number of segments (sentences) scored.
        extra: metric-specific details (precisions, counts, ...).
    """

    name: str
    score: float
    signature: str
    n: int
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.2f} (n={self.n}; {self.signature})"


def check_pair(hyps: Sequence[str], refs: Sequence[Reference]) -> None:
    """Refuse empty or misaligned corpora: a silent score on them would hide a data bug.

    Raises:
        ValueError: when the lengths differ, the corpus is empty, or an entry of ``refs`` is
            neither a str nor a non-empty tuple of str.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        raise ValueError("cannot score an empty corpus")
    for line, ref in enumerate(refs, start=1):
        _as_tuple(ref, line)


def _as_tuple(ref: Reference, line: int) -> tuple[str, ...]:
    """The references of one example as a tuple; anything but a str or a tuple of str is a bug."""
    if isinstance(ref, str):
        return (ref,)
    if isinstance(ref, tuple) and ref and all(isinstance(r, str) for r in ref):
        return ref
    raise ValueError(f"reference {line} is {ref!r}; expected a str or a non-empty tuple of str")


def reference_streams(refs: Sequence[Reference]) -> list[list[str | None]]:
    """The references as sacreBLEU's reference streams: stream ``i`` holds every example's
    ``i``-th reference.

    An example with fewer references than the most any example has is padded with None, which
    sacreBLEU (2.x) drops for that example alone (an ``""`` would count as an empty reference
    and change BLEU's brevity penalty); its signature then says ``nrefs:var``.

    Raises:
        ValueError: on an entry that is neither a str nor a non-empty tuple of str.
    """
    rows = [_as_tuple(ref, line) for line, ref in enumerate(refs, start=1)]
    width = max((len(row) for row in rows), default=1)
    return [[row[i] if i < len(row) else None for row in rows] for i in range(width)]


def first_references(refs: Sequence[Reference]) -> list[str]:
    """The primary (first) reference of every example.

    Raises:
        ValueError: on an entry that is neither a str nor a non-empty tuple of str.
    """
    return [_as_tuple(ref, line)[0] for line, ref in enumerate(refs, start=1)]


def nrefs(refs: Sequence[Reference]) -> str:
    """How many references each example has, as sacreBLEU's signature writes it: ``"2"``, or
    ``"var"`` when the examples differ."""
    counts = {len(_as_tuple(ref, line)) for line, ref in enumerate(refs, start=1)}
    return str(counts.pop()) if len(counts) == 1 else "var"


def ratio(numerator: float, denominator: float) -> float:
    """Percentage, defined as 0 when there is nothing to divide by."""
    return 100.0 * numerator / denominator if denominator else 0.0


__all__ = ["MetricResult", "Reference", "check_pair", "first_references", "nrefs", "ratio",
           "reference_streams"]
