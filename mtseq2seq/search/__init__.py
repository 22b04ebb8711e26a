"""Greedy and batched beam search over any decoder, driven only through init_state / step / reorder_state.

`decode` encodes a batch and searches; `greedy.py` and `beam.py` hold the two searches, `topk.py`
the step's constrained top-k, `hypotheses.py` (one level up) what they return.


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

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..hypotheses import (
    DEFAULT_MAX_LEN,
    MAX_LEN_CAP,
    Hypothesis,
    SearchResult,
    check_n_best,
    length_penalty,
    max_lengths,
)
from .beam import beam_search
from .greedy import greedy_search
from .sample import Sampling, sample_search

__all__ = ["Hypothesis", "Sampling", "SearchResult", "beam_search", "decode", "greedy_search",
           "length_penalty", "max_lengths", "sample_search"]

if TYPE_CHECKING:  # search needs only the module contract, not the model's imports
    from ..model import MultiTaskModel


def decode(
    model: MultiTaskModel, task: str | tuple, src: Tensor | tuple, src_mask: Tensor | tuple,
    beam: int = 5, alpha: float = 0.0, n_best: int = 1, max_len_a: float = DEFAULT_MAX_LEN[0],
    max_len_b: int = DEFAULT_MAX_LEN[1], max_len_cap: int = MAX_LEN_CAP,
    sampling: Sampling | None = None,
) -> SearchResult:
    """Encode ``src`` (B, S) and search: greedy when ``beam == 1``, beam search otherwise, or
    draw ``n_best`` samples per sentence when ``sampling`` is given (``beam`` is then unused).

    Args:
        model: a ``MultiTaskModel``; it runs in eval mode, and its mode is restored afterwards.
        task: a task name of ``model`` or an (encoder slot(s), decoder slot) pair.
        src: (B, S) source ids; src_mask: (B, S) bool, True = real token (a multi-source task: one
            of each per encoder slot, see ``MultiTaskModel.encode``).
        beam, alpha, n_best: as in ``beam_search``.
        max_len_a, max_len_b, max_len_cap: limits ``floor(a * memory_len + b)``, at most ``cap``.
        sampling: temperature, top-k, top-p and seed of ``sample_search``.
    """
    if sampling is None:
        check_n_best(n_best, beam)
    enc_slot, dec_slot = model.tasks[task] if isinstance(task, str) else task
    decoder = model.decoders[dec_slot]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            memory = model.encode(enc_slot, src, src_mask)
            limits = max_lengths(memory.mask, max_len_a, max_len_b, max_len_cap)  # (B,)
            if sampling is not None:
                generator = torch.Generator(memory.mask.device).manual_seed(sampling.seed)
                return sample_search(decoder, memory, limits, sampling.temperature, sampling.top_k,
                                     sampling.top_p, generator, n_best)
            if beam == 1:
                return greedy_search(decoder, memory, limits)
            return beam_search(decoder, memory, beam, limits, alpha, n_best)
    finally:
        model.train(was_training)
