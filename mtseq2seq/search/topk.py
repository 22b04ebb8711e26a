"""The step's constrained top-k: the k best next tokens of every row, exact, and fast on wide
vocabularies (a block-maxima prefilter); PAD and BOS never chosen, EOS forced at the limit."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..hypotheses import NEG_INF

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
