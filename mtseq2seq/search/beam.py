"""Batched beam search (the algorithm is described in `search/__init__.py`): the alive beams,
the candidates of a step, the n-best finished hypotheses, and the loop that ties them."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..hypotheses import NEG_INF, SearchResult, as_limits, check_n_best, length_penalty, to_result
from ..modules.base import Decoder, EncoderOutput, State
from ..specials import BOS, EOS, PAD
from .topk import _step_topk


@dataclass
class _Beam:
    """The alive side of a beam search: A active sentences x K hypotheses, decoder rows (A*K)."""

    rows: Tensor  # (A,) each active sentence's index in the batch
    limits: Tensor  # (A,)
    scores: Tensor  # (A, K) float64 model scores; -inf marks an empty slot
    tokens: Tensor  # (A, K, t) outputs so far
    memory: EncoderOutput  # (A*K, S, D)
    state: State  # A*K rows


@dataclass
class _Candidates:
    """The 2K best one-token extensions of every active sentence, best first."""

    scores: Tensor  # (A, C) float64
    beams: Tensor  # (A, C) index (< K) of the alive hypothesis extended
    tokens: Tensor  # (A, C) the token appended


@dataclass
class _Finished:
    """The n best finished hypotheses of every sentence, best first; -inf ``norm`` marks an empty slot."""

    tokens: Tensor  # (B, n, W) outputs; positions from ``lengths`` on are filler
    lengths: Tensor  # (B, n) long, EOS not counted
    scores: Tensor  # (B, n) float64
    norm: Tensor  # (B, n) float64

    @classmethod
    def empty(cls, batch: int, n_best: int, width: int, device: torch.device) -> "_Finished":
        scores = torch.full((batch, n_best), NEG_INF, dtype=torch.float64, device=device)  # (B, n)
        lengths = torch.zeros(batch, n_best, dtype=torch.long, device=device)  # (B, n)
        tokens = torch.zeros(batch, n_best, width, dtype=torch.long, device=device)  # (B, n, W)
        return cls(tokens, lengths, scores, scores.clone())

    def add(self, alive: _Beam, cand: _Candidates, t: int, alpha: float, eos: int) -> None:
        """Keep the n best of the old hypotheses and the EOS candidates ranked among the K best.

        An EOS ranked K+1..2K is dropped, as K better options exist; this also makes beam 1 greedy.
        """
        (n_best, width), beam, rows = self.tokens.shape[1:], alive.scores.size(1), alive.rows
        scores, tokens = cand.scores[:, :beam], cand.tokens[:, :beam]  # (A, K)
        ended = tokens.eq(eos) & scores.isfinite()  # (A, K)
        lengths = torch.full_like(tokens, t)  # (A, K) output tokens before the EOS
        norm = (scores / length_penalty(lengths + 1, alpha)).masked_fill(~ended, NEG_INF)  # (A, K)
        best, pick = torch.cat([self.norm[rows], norm], dim=1).topk(n_best, dim=1)  # (A, n)
        self.norm[rows] = best
        self.scores[rows] = torch.cat([self.scores[rows], scores], dim=1).gather(1, pick)  # (A, n)
        self.lengths[rows] = torch.cat([self.lengths[rows], lengths], dim=1).gather(1, pick)  # (A, n)
        history = F.pad(_gather_beams(alive.tokens, cand.beams[:, :beam]), (0, width - t))  # (A, K, W)
        both = torch.cat([self.tokens[rows], history], dim=1)  # (A, n + K, W)
        self.tokens[rows] = both.gather(1, pick[:, :, None].expand(-1, -1, width))  # (A, n, W)


def _init_beam(decoder: Decoder, memory: EncoderOutput, beam: int, limits: Tensor) -> _Beam:
    """K copies of every sentence; only the first is live, so step 0 does not pick K identical starts."""
    batch, device = limits.size(0), limits.device
    expand = torch.arange(batch, device=device).repeat_interleave(beam)  # (B*K,)
    state = decoder.reorder_state(decoder.init_state(memory), expand)  # memory projected once, then copied
    scores = torch.full((batch, beam), NEG_INF, dtype=torch.float64, device=device)  # (B, K)
    scores[:, 0] = 0.0
    tokens = torch.zeros(batch, beam, 0, dtype=torch.long, device=device)  # (B, K, 0)
    rows = torch.arange(batch, device=device)  # (B,)
    return _Beam(rows, limits, scores, tokens, memory.index_select(expand), state)


def _select_candidates(alive: _Beam, row_logp: Tensor, row_tokens: Tensor) -> _Candidates:
    """The 2K best extensions per sentence among all K*V, from every row's best ``row_logp`` and
    ``row_tokens`` (A*K, k), k = min(2K, V) (see ``_step_topk``).

    A token outside its row's top 2K has 2K better options in its sentence, so a top-k per row first
    shrinks the sentence-wide top-k from K*V to K*2K options without changing the result.
    """
    active, beam = alive.scores.shape
    per_row = row_logp.size(-1)
    total = alive.scores[:, :, None] + row_logp.view(active, beam, per_row).double()  # (A, K, k)
    scores, flat = total.view(active, -1).topk(min(2 * beam, beam * per_row), dim=1)  # (A, C)
    tokens = row_tokens.view(active, -1).gather(1, flat)  # (A, C)
    return _Candidates(scores, torch.div(flat, per_row, rounding_mode="floor"), tokens)


def _gather_beams(tokens: Tensor, beams: Tensor) -> Tensor:
    """tokens (A, K, t) of the hypotheses ``beams`` (A, C) -> (A, C, t)."""
    return tokens.gather(1, beams[:, :, None].expand(-1, -1, tokens.size(2)))  # (A, C, t)


def _advance(alive: _Beam, cand: _Candidates, eos: int, pad: int) -> Tensor:
    """Keep the K best candidates that do not end; returns which old row (of A*K) each new row extends."""
    active, beam = alive.scores.shape
    scores, pick = cand.scores.masked_fill(cand.tokens.eq(eos), NEG_INF).topk(beam, dim=1)  # (A, K)
    beams = cand.beams.gather(1, pick)  # (A, K)
    tokens = cand.tokens.gather(1, pick).masked_fill(scores.isinf(), pad)  # (A, K) empty slots read PAD
    alive.tokens = torch.cat([_gather_beams(alive.tokens, beams), tokens[:, :, None]], dim=2)  # (A, K, t+1)
    alive.scores = scores
    offsets = torch.arange(active, device=beams.device)[:, None] * beam  # (A, 1)
    return offsets + beams  # (A, K)


def _sentences_done(alive: _Beam, finished: _Finished, t: int, alpha: float) -> Tensor:
    """(A,) True where no alive hypothesis can beat the n-th best finished one, or at the limit.

    Scores only fall as tokens are added; with alpha >= 0 the penalty is largest at the longest
    length (limit + 1), with alpha < 0 at the shortest (t + 2), which bounds any normalized score.
    """
    worst = finished.norm[alive.rows, -1]  # (A,) -inf until n_best hypotheses ended
    longest = alive.limits + 1 if alpha >= 0 else torch.full_like(alive.limits, t + 2)  # (A,)
    bound = alive.scores.max(dim=1).values / length_penalty(longest, alpha)  # (A,)
    return (bound <= worst) | (alive.limits <= t)


def _prune(decoder: Decoder, alive: _Beam, order: Tensor, keep: Tensor) -> Tensor:
    """Drop finished sentences and reorder the decoder state (one call); returns the next inputs (A'*K,)."""
    if int(keep.sum()) < keep.numel():
        order = order[keep]  # (A', K)
        alive.rows, alive.limits = alive.rows[keep], alive.limits[keep]  # (A',)
        alive.scores, alive.tokens = alive.scores[keep], alive.tokens[keep]  # (A', K), (A', K, t)
        alive.memory = alive.memory.index_select(order.view(-1))  # rows of one sentence share memory
    alive.state = decoder.reorder_state(alive.state, order.view(-1))
    return alive.tokens[:, :, -1].reshape(-1)  # (A'*K,)


@torch.no_grad()
def beam_search(
    decoder: Decoder, memory: EncoderOutput, beam: int, max_len: Tensor | int, alpha: float = 0.0,
    n_best: int = 1, bos: int = BOS, eos: int = EOS, pad: int = PAD,
) -> SearchResult:
    """Batched beam search (see the module docstring for the algorithm).

    Args:
        decoder: any ``Decoder``; memory: its input, states (B, S, D) and mask (B, S).
        beam: K, alive hypotheses per sentence.
        max_len: (B,) limits (see ``max_lengths``) or one int for every sentence.
        alpha: GNMT length penalty exponent; 0 ranks by model score.
        n_best: hypotheses returned per sentence, at most ``beam``.
        bos, eos, pad: special ids of the target vocabulary.
    """
    check_n_best(n_best, beam)
    batch, device = memory.mask.size(0), memory.mask.device
    limits = as_limits(max_len, batch, device)  # (B,)
    width = int(limits.max()) if batch else 0
    finished = _Finished.empty(batch, n_best, width, device)
    alive = _init_beam(decoder, memory, beam, limits)
    prev = torch.full((batch * beam,), bos, dtype=torch.long, device=device)  # (B*K,)
    for t in range(width + 1 if batch else 0):
        logits, alive.state = decoder.step(prev, alive.memory, alive.state)  # (A*K, V)
        at_limit = (alive.limits <= t).repeat_interleave(beam)  # (A*K,)
        per_row = min(2 * beam, logits.size(-1))
        cand = _select_candidates(alive, *_step_topk(logits, at_limit, per_row, bos, eos, pad))
        finished.add(alive, cand, t, alpha, eos)
        order = _advance(alive, cand, eos, pad)  # (A, K)
        prev = _prune(decoder, alive, order, ~_sentences_done(alive, finished, t, alpha))  # (A'*K,)
        if prev.numel() == 0:
            break
    return to_result(finished.tokens, finished.lengths, finished.scores, finished.norm, skip_empty=True)
