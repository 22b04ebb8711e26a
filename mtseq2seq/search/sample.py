"""Sampling search: ``n`` outputs per sentence drawn token by token from the model's distribution,
reshaped by temperature, top-k and nucleus (top-p) filtering; plus the nucleus filter it uses.

Like greedy search it follows the conventions of `search/__init__.py`: PAD and BOS are never produced,
at ``t == limit`` only EOS may follow, an ended row is fed PAD. The distribution a token is drawn from
is reshaped, but a hypothesis' score is the model's own: the sum of the unfiltered, temperature-1
log-probs of its tokens and its EOS, so scores compare with greedy's and beam's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..hypotheses import NEG_INF, SearchResult, as_limits, to_result
from ..modules.base import Decoder, EncoderOutput
from ..specials import BOS, EOS, PAD
from .topk import _step_topk


@dataclass(frozen=True)
class Sampling:
    """How `decode` samples instead of searching: temperature, top-k (0: all), top-p (1: all),
    and the seed of the generator each `decode` call starts from (reproducible per batch)."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 1

    def __post_init__(self) -> None:
        _check_args(self.temperature, self.top_k, self.top_p, 1)

    @staticmethod
    def of(valid) -> "Sampling | None":
        """The sampling a recipe's `valid:` section asks for (`sample`, `temperature`, `top_k`,
        `top_p`, `sample_seed`), or None when it decodes by search."""
        return Sampling(valid.temperature, valid.top_k, valid.top_p, valid.sample_seed) \
            if valid.sample else None


_SLACK = 1e-6  # how far short of top_p a nucleus may sum: float32 rounding of the log-probs


def _check_args(temperature: float, top_k: int, top_p: float, n: int) -> None:
    """ValueError naming the argument and its valid range; NaN fails every range."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be > 0 and finite, got {temperature}")
    if not top_k >= 0:
        raise ValueError(f"top_k must be >= 0 (0 keeps every token), got {top_k}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1 keeps every token), got {top_p}")
    if not n >= 1:
        raise ValueError(f"n must be >= 1 (samples per sentence), got {n}")


def nucleus_filter(logp: Tensor, top_p: float) -> Tensor:
    """Nucleus (top-p) filter of log-probs (N, k) sorted best first, each row summing to 1.

    Keeps the fewest most probable tokens whose probabilities sum to at least ``top_p`` (always the
    first) and sets the others to -inf; the kept ones are not renormalized. Sums run in float64 and
    may fall ``_SLACK`` short, so float32 rounding of e.g. log(0.5) does not keep one token too many.
    """
    if top_p >= 1.0:
        return logp
    probs = logp.double().exp()  # (N, k)
    drop = probs.cumsum(dim=-1) - probs >= top_p - _SLACK  # (N, k) the more probable ones reach top_p
    drop[:, 0] = False
    return logp.masked_fill(drop, NEG_INF)  # (N, k)


def _sample_step(logits: Tensor, at_limit: Tensor, temperature: float, top_k: int, top_p: float,
                 generator: torch.Generator | None, bos: int, eos: int, pad: int) -> tuple[Tensor, Tensor]:
    """One draw from every row of logits (N, V): its model log-prob (float32) and token, both (N,).

    ``_step_topk`` gives the k kept tokens best first (all V when ``top_k`` is 0) with the model's
    log-probs, PAD and BOS at -inf, and rows ``at_limit`` (N,) holding EOS alone. Scaling log-probs by
    1 / temperature and renormalizing equals a softmax of logits / temperature over the kept tokens.
    """
    k = min(top_k, logits.size(-1)) if top_k else logits.size(-1)
    values, tokens = _step_topk(logits, at_limit, k, bos, eos, pad)  # (N, k), (N, k)
    scaled = values / temperature  # (N, k)
    scaled[:, 0] = scaled[:, 0].masked_fill(at_limit, 0.0)  # a limit row takes its EOS even at prob 0
    weights = nucleus_filter(F.log_softmax(scaled, dim=-1), top_p).exp()  # (N, k)
    pick = torch.multinomial(weights, 1, generator=generator)  # (N, 1)
    return values.gather(1, pick)[:, 0], tokens.gather(1, pick)[:, 0]  # (N,), (N,)


def _ranked(tokens: Tensor, scores: Tensor, batch: int, n: int, pad: int) -> SearchResult:
    """Rows (B*n, T) tokens and (B*n,) scores -> every sentence's n samples, best score first."""
    tokens, scores = tokens.view(batch, n, -1), scores.view(batch, n)  # (B, n, T), (B, n)
    scores, order = scores.sort(dim=1, descending=True, stable=True)  # (B, n)
    tokens = tokens.gather(1, order[:, :, None].expand_as(tokens))  # (B, n, T)
    lengths = tokens.ne(pad).sum(dim=2) - 1  # (B, n) PAD is never produced, EOS once per row
    return to_result(tokens, lengths, scores, scores, skip_empty=False)


@torch.no_grad()
def sample_search(
    decoder: Decoder, memory: EncoderOutput, max_len: Tensor | int, temperature: float = 1.0,
    top_k: int = 0, top_p: float = 1.0, generator: torch.Generator | None = None, n: int = 1,
    bos: int = BOS, eos: int = EOS, pad: int = PAD,
) -> SearchResult:
    """Draw ``n`` outputs per sentence, every token from the reshaped next-token distribution.

    The sentences' n rows run as one (B*n) decoder batch. Each step turns the logits into float32
    log-probs, divides them by ``temperature``, keeps the ``top_k`` most probable tokens, then the
    nucleus of ``top_p`` of what remains (renormalized), and draws with ``torch.multinomial``.

    Args:
        decoder: any ``Decoder``; memory: its input, states (B, S, D) and mask (B, S).
        max_len: (B,) limits (see ``max_lengths``) or one int for every sentence.
        temperature: > 0; below 1 sharpens the distribution, above 1 flattens it.
        top_k: keep the k most probable tokens; 0 keeps all.
        top_p: in (0, 1]; keep the smallest set of most probable tokens whose probabilities sum to at
            least ``top_p`` (never empty); 1 keeps all.
        generator: the random source, on the memory's device; None draws from torch's global RNG. The
            same generator state (or global seed) and inputs give the same outputs.
        n: samples per sentence.
        bos, eos, pad: special ids of the target vocabulary.
    Returns:
        Exactly ``n`` hypotheses per sentence (repeats possible), highest ``score`` first; ``score`` is
        the model's unfiltered temperature-1 score and ``norm_score`` equals it.
    """
    _check_args(temperature, top_k, top_p, n)
    batch, device = memory.mask.size(0), memory.mask.device
    if generator is not None and generator.device != device:
        raise ValueError(f"generator must be on the memory's device {device}, got {generator.device}")
    expand = torch.arange(batch, device=device).repeat_interleave(n)  # (B*n,)
    limits = as_limits(max_len, batch, device).index_select(0, expand)  # (B*n,)
    state = decoder.reorder_state(decoder.init_state(memory), expand)  # memory projected once, then copied
    memory = memory.index_select(expand)  # (B*n, S, D)
    rows = batch * n
    prev = torch.full((rows,), bos, dtype=torch.long, device=device)  # (B*n,)
    done = torch.zeros(rows, dtype=torch.bool, device=device)  # (B*n,)
    scores = torch.zeros(rows, dtype=torch.float64, device=device)  # (B*n,)
    outputs = []
    for t in range(int(limits.max()) + 1 if rows else 0):
        logits, state = decoder.step(prev, memory, state)  # (B*n, V)
        logp, token = _sample_step(logits, t >= limits, temperature, top_k, top_p, generator, bos, eos, pad)
        scores += logp.double().masked_fill(done, 0.0)
        token = token.masked_fill(done, pad)  # (B*n,)
        outputs.append(token)
        done = done | token.eq(eos)  # (B*n,)
        if bool(done.all()):
            break
        prev = token.masked_fill(done, pad)  # (B*n,) a row that just ended is fed PAD, not its EOS
    tokens = torch.stack(outputs, dim=1) if outputs else limits.new_zeros(rows, 0)  # (B*n, T)
    return _ranked(tokens, scores, batch, n, pad)
