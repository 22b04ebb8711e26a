"""Greedy search: the most probable next token at every step, for a whole batch at once."""
from __future__ import annotations

import torch
from torch import Tensor

from ..hypotheses import SearchResult, as_limits, to_result
from ..modules.base import Decoder, EncoderOutput
from ..specials import BOS, EOS, PAD
from .topk import _step_topk


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
