"""The result type every metric returns, and the input checks and arithmetic all metrics share.

It lives below `metrics` and `label_metrics` so that both can use it without importing each other;
`metrics` re-exports `MetricResult`, so ``from mtseq2seq.metrics import MetricResult`` still works.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


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


def check_pair(hyps: Sequence[str], refs: Sequence[str]) -> None:
    """Refuse empty or misaligned corpora: a silent score on them would hide a data bug."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        raise ValueError("cannot score an empty corpus")


def ratio(numerator: float, denominator: float) -> float:
    """Percentage, defined as 0 when there is nothing to divide by."""
    return 100.0 * numerator / denominator if denominator else 0.0


__all__ = ["MetricResult", "check_pair", "ratio"]
