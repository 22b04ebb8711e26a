"""Greedy and batched beam search over any decoder, driven only through init_state / step / reorder_state.

- A sentence's *limit* is its most output tokens, EOS not counted (``max_lengths``); at step
  ``t == limit`` only EOS may follow, so every hypothesis ends with a real, scored EOS.
- *score*: the model score, sum of the log-probs of the tokens and the EOS; *normalized score*: score
  divided by the GNMT length penalty ``((5 + len) / 6) ** alpha``, ``len`` counting the EOS; the ranking key.
- PAD and BOS are never produced; an ended hypothesis is never fed back (its row reads PAD).

Beam search holds K alive hypotheses for each of the A active sentences as one (A*K) decoder batch.
Each step takes the 2K best extensions of every sentence (a vectorized top-k over its K*V options); the
EOS ones among the K best leave as finished, the K best others stay alive. A sentence stops when no
alive hypothesis can beat its n-best finished ones, or at its limit, and then leaves the batch within
the step's single ``reorder_state``. Log-softmax runs in float32 and scores add up in float64, so a
long prefix's score never merges two log-probs, and beam 1 picks greedy's tokens (at ``alpha = 0``;
exact ties in log-probability aside, which ``topk`` breaks arbitrarily).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from .hypotheses import (
    NEG_INF,
    Hypothesis,
    SearchResult,
    as_limits,
    check_n_best,
    length_penalty,
    max_lengths,
    to_result,
)
from .modules.base import Decoder, EncoderOutput, State
from .vocab import BOS, EOS, PAD

__all__ = ["Hypothesis", "SearchResult", "beam_search", "decode", "greedy_search", "length_penalty",
           "max_lengths"]

if TYPE_CHECKING:  # search needs only the module contract, not the model's config imports
    from .model import MultiTaskModel

_BLOCKS = (64, 160, 128, 100, 200, 80, 250, 125)  # row block widths for _row_topk, fastest first


def _row_topk(x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """``x.topk(k, dim=-1)`` of (N, V) ``x``, exact: the k largest of a row lie in the k blocks of
    the row with the largest maxima, so blocks' maxima (a fast, vectorized reduction) pick k blocks
    and the top-k runs over those alone. Falls back to ``topk`` when no block width divides V."""
    rows, width = x.shape
    block = next((b for b in _BLOCKS if width % b == 0 and width >= 4 * k * b), 0)
    if not block:
        return x.topk(k, dim=-1)
    blocks = x.view(rows, width // block, block)  # (N, V/b, b)
    picked = blocks.amax(dim=-1).topk(k, dim=-1).indices  # (N, k)
    values, pos = blocks.gather(1, picked[:, :, None].expand(-1, -1, block)).view(rows, -1).topk(k, dim=-1)
    return values, picked.gather(1, pos.div(block, rounding_mode="floor")) * block + pos % block


def _step_topk(logits: Tensor, at_limit: Tensor, k: int, bos: int, eos: int, pad: int
               ) -> tuple[Tensor, Tensor]:
    """The k best (float32 log-prob, token) of every row of logits (N, V). PAD and BOS never appear;
    rows ``at_limit`` (N,) get EOS first (with the model's own log-prob) and -inf after."""
    logp = F.log_softmax(logits.float(), dim=-1)  # (N, V)
    logp[:, pad] = NEG_INF
    logp[:, bos] = NEG_INF
    values, tokens = _row_topk(logp, k)  # (N, k)
    if bool(at_limit.any()):
        first = torch.zeros_like(values, dtype=torch.bool)  # (N, k)
        first[:, 0] = True
        values = torch.where(at_limit[:, None], torch.where(first, logp[:, eos, None], NEG_INF), values)
        tokens = torch.where(at_limit[:, None] & first, eos, tokens)
    return values, tokens

def greedy_search(
    decoder: Decoder, memory: EncoderOutput, max_len: Tensor | int, bos: int = BOS, eos: int = EOS,
    pad: int = PAD,
) -> SearchResult:
    """The most probable next token at every step, for a whole batch at once.

    Args:
        decoder: any ``Decoder``; memory: its input, states (B, S, D) and mask (B, S).
        max_len: (B,) limits (see ``max_lengths``) or one int for every sentence.
        bos, eos, pad: special ids of the target vocabulary.
    Returns:
        One hypothesis per sentence; ``norm_score`` equals ``score`` (no length penalty).
    """
    batch, device = memory.mask.size(0), memory.mask.device
    limits = as_limits(max_len, batch, device)  # (B,)
    state = decoder.init_state(memory)
    prev = torch.full((batch,), bos, dtype=torch.long, device=device)  # (B,)
    done = torch.zeros(batch, dtype=torch.bool, device=device)  # (B,)
    scores = torch.zeros(batch, dtype=torch.float64, device=device)  # (B,)
    outputs = []
    for t in range(int(limits.max()) + 1 if batch else 0):
        logits, state = decoder.step(prev, memory, state)  # (B, V)
        best, token = (v[:, 0] for v in _step_topk(logits, t >= limits, 1, bos, eos, pad))  # (B,), (B,)
        scores += best.double().masked_fill(done, 0.0)
        token = token.masked_fill(done, pad)  # (B,)
        outputs.append(token)
        done = done | token.eq(eos)  # (B,)
        if bool(done.all()):
            break
        prev = token.masked_fill(done, pad)  # (B,) a row that just ended is fed PAD, not its EOS
    tokens = torch.stack(outputs, dim=1) if outputs else limits.new_zeros(batch, 0)  # (B, T)
    lengths = tokens.ne(pad).sum(dim=1) - 1  # (B,) PAD is never produced, EOS once per row
    return to_result(tokens[:, None], lengths[:, None], scores[:, None], scores[:, None], skip_empty=False)


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


def decode(
    model: MultiTaskModel, task: str | tuple[str, str], src: Tensor, beam: int = 5, alpha: float = 0.0,
    n_best: int = 1, max_len_a: float = 1.5, max_len_b: int = 10, max_len_cap: int = 256,
) -> SearchResult:
    """Encode ``src`` (B, S) and search: greedy when ``beam == 1``, beam search otherwise.

    Args:
        model: a ``MultiTaskModel``; it runs in eval mode, and its mode is restored afterwards.
        task: a task name of ``model`` or an (encoder slot, decoder slot) pair.
        src: (B, S) source ids, right-padded with the source slot's PAD.
        beam, alpha, n_best: as in ``beam_search``.
        max_len_a, max_len_b, max_len_cap: limits ``floor(a * src_len + b)``, at most ``cap``.
    """
    check_n_best(n_best, beam)
    enc_slot, dec_slot = model.tasks[task] if isinstance(task, str) else task
    decoder, pad = model.decoders[dec_slot], model.pad_ids.get(dec_slot, PAD)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            memory = model.encode(enc_slot, src)
            limits = max_lengths(memory.mask, max_len_a, max_len_b, max_len_cap)  # (B,)
            if beam == 1:
                return greedy_search(decoder, memory, limits, pad=pad)
            return beam_search(decoder, memory, beam, limits, alpha, n_best, pad=pad)
    finally:
        model.train(was_training)
