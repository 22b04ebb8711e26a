"""What search produces (hypotheses, n-best lists) and the helpers greedy and beam search share:
length limits, the GNMT length penalty and the step's constrained log-probabilities.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

NEG_INF = float("-inf")
DEFAULT_MAX_LEN = (2.0, 10)  # outputs stop at a * source length + b tokens, unless a task kind says
MAX_LEN_CAP = 256  # and never exceed this many


@dataclass
class Hypothesis:
    """One finished output; hypotheses are ranked by ``norm_score``."""

    tokens: list[int]  # output ids, without BOS and EOS
    score: float  # model score: the sum of the log-probs of ``tokens`` and of the final EOS
    norm_score: float  # score / length_penalty(len(tokens) + 1, alpha)


@dataclass
class SearchResult:
    """``hypotheses[b]``: sentence ``b``'s distinct hypotheses, best (highest ``norm_score``) first.

    One per sentence from greedy search, ``n_best`` from beam search (fewer only when fewer outputs of
    non-zero probability exist within the sentence's limit).
    """

    hypotheses: list[list[Hypothesis]]

    def __len__(self) -> int:
        return len(self.hypotheses)

    def best_tokens(self) -> list[list[int]]:
        """The top hypothesis' tokens of every sentence."""
        return [hyps[0].tokens if hyps else [] for hyps in self.hypotheses]


def length_penalty(lengths: Tensor, alpha: float) -> Tensor:
    """GNMT length penalty ``((5 + len) / 6) ** alpha`` in float64; ``lengths`` count the EOS."""
    return ((5.0 + lengths.double()) / 6.0) ** alpha


def max_lengths(src_mask: Tensor, a: float, b: int, cap: int) -> Tensor:
    """(B,) long limits ``floor(a * src_len + b)`` in ``[0, cap]`` from src_mask (B, S), True = real."""
    src_len = src_mask.sum(dim=1).double()  # (B,)
    # the epsilon keeps e.g. 0.29 * 100 (= 28.999999999999996 in binary) from flooring to 28
    return (a * src_len + b + 1e-9).floor().clamp(0, cap).long()  # (B,)


def as_limits(max_len: Tensor | int, batch: int, device: torch.device) -> Tensor:
    """``max_len`` as a (B,) long tensor: an int applies to every sentence."""
    if isinstance(max_len, Tensor):
        if max_len.shape != (batch,):
            raise ValueError(f"max_len must have shape ({batch},), got {tuple(max_len.shape)}")
        return max_len.to(device=device, dtype=torch.long)
    return torch.full((batch,), int(max_len), dtype=torch.long, device=device)  # (B,)


def check_n_best(n_best: int, beam: int) -> None:
    if not 1 <= n_best <= beam:
        raise ValueError(f"need 1 <= n_best <= beam, got n_best={n_best}, beam={beam}")


@torch.no_grad()
def to_result(tokens: Tensor, lengths: Tensor, scores: Tensor, norm: Tensor,
              skip_empty: bool) -> SearchResult:
    """Tensors (B, n, W), (B, n), (B, n), (B, n) -> SearchResult; ``skip_empty`` drops -inf slots."""
    columns = (tokens.tolist(), lengths.tolist(), scores.tolist(), norm.tolist())
    return SearchResult([
        [Hypothesis(toks[:length], score, nscore)
         for toks, length, score, nscore in zip(*sentence) if not (skip_empty and nscore == NEG_INF)]
        for sentence in zip(*columns)
    ])
