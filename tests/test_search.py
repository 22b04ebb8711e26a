"""Tests of greedy and beam search (mtseq2seq/search/).

Every registered decoder type is searched through a tiny model trained for a few seconds to reverse
its input (so its distributions are peaked but not one-hot), and through random tiny models small
enough to enumerate every output. A table-driven toy decoder checks exact results worked out by hand.
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from mtseq2seq.model import MultiTaskModel
from mtseq2seq.modules import DECODERS, ENCODERS, Decoder, EncoderOutput
from mtseq2seq.registry import Registry
from mtseq2seq.search import SearchResult, beam_search, decode, greedy_search, length_penalty, max_lengths
from mtseq2seq.vocab import BOS, EOS, PAD, UNK

VOCAB, DIM = 12, 32  # ids 4..11 are words
TINY: dict[str, dict[str, Any]] = {
    "transformer": {"dim": DIM, "layers": 2, "heads": 4, "ff": 64, "dropout": 0.0},
    "rnn": {"dim": DIM, "embed_dim": DIM, "layers": 1, "dropout": 0.0},
}
FALLBACK: dict[str, Any] = {"dim": DIM, "layers": 1, "heads": 4, "ff": 64, "embed_dim": DIM, "dropout": 0.0}
LENGTHS = [1, 7, 3, 5, 2, 6, 4, 7, 1, 5]


pytestmark = pytest.mark.usefixtures("one_thread")


def build(registry: Registry, name: str, vocab: int, dim: int = DIM) -> torch.nn.Module:
    options = {**TINY.get(name, FALLBACK), "dim": dim}
    if "embed_dim" in options:
        options["embed_dim"] = dim
    accepted = registry.options(name)
    options = {key: value for key, value in options.items() if key in accepted}
    return registry.build(name, options, vocab_size=vocab, pad_id=PAD)


def make_model(dec_name: str, vocab: int = VOCAB, dim: int = DIM, seed: int = 0) -> MultiTaskModel:
    torch.manual_seed(seed)
    encoder, decoder = build(ENCODERS, "transformer", vocab, dim), build(DECODERS, dec_name, vocab, dim)
    return MultiTaskModel({"src": encoder}, {"tgt": decoder}, {"rev": ("src", "tgt")})


def sources(lengths: list[int], seed: int) -> torch.Tensor:
    """(B, max(lengths)) random word ids, right-padded."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(4, VOCAB, (len(lengths), max(lengths)), generator=gen)  # (B, S)
    keep = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]  # (B, S)
    return src.masked_fill(~keep, PAD)


def reverse_targets(src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """tgt_in (BOS + reversed words) and tgt_out (reversed words + EOS), both (B, S + 1)."""
    rows = [[t for t in row if t != PAD][::-1] for row in src.tolist()]
    width = src.size(1) + 1
    tgt_in = [[BOS] + r + [PAD] * (width - 1 - len(r)) for r in rows]
    tgt_out = [r + [EOS] + [PAD] * (width - 1 - len(r)) for r in rows]
    return torch.tensor(tgt_in), torch.tensor(tgt_out)


@functools.lru_cache(maxsize=None)
def trained(dec_name: str) -> MultiTaskModel:
    """A model trained for 150 Adam steps to reverse 1..7 words; in eval mode."""
    model = make_model(dec_name)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    for step in range(150):
        lengths = torch.randint(1, 8, (32,), generator=gen).tolist()
        src = sources(lengths, seed=100 + step)
        tgt_in, tgt_out = reverse_targets(src)
        logits = model.decoders["tgt"](tgt_in, model.encode("src", src, src.ne(PAD)))  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def trained_memory(dec_name: str, lengths: list[int] = LENGTHS
                   ) -> tuple[Decoder, EncoderOutput, torch.Tensor]:
    """The trained decoder, the memory of a fixed source batch, and limits 1.5 * len + 2."""
    model = trained(dec_name)
    with torch.no_grad():
        src = sources(lengths, seed=7)
        memory = model.encode("src", src, src.ne(PAD))
    return model.decoders["tgt"], memory, max_lengths(memory.mask, 1.5, 2, 64)


def sequence_score(decoder: Decoder, memory: EncoderOutput, row: int, tokens: list[int]) -> float:
    """Teacher-forced sum of log-probs of ``tokens`` + EOS for sentence ``row`` (independent of ``step``)."""
    tgt_in = torch.tensor([[BOS] + tokens])  # (1, T)
    with torch.no_grad():
        logp = decoder(tgt_in, memory.index_select(torch.tensor([row]))).double().log_softmax(-1)  # (1, T, V)
    return logp[0, torch.arange(len(tokens) + 1), torch.tensor(tokens + [EOS])].sum().item()


# ---------------------------------------------------------------------------------------------- helpers


def test_max_lengths_per_sentence_and_capped() -> None:
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    assert max_lengths(mask, 1.5, 2, 8).tolist() == [6, 8, 2]
    assert max_lengths(mask, 0.29, 0, 100).tolist() == [0, 1, 0]
    assert max_lengths(torch.ones(1, 100, dtype=torch.bool), 0.29, 0, 100).tolist() == [29]


def test_length_penalty_is_gnmt() -> None:
    lengths = torch.tensor([1, 7])
    assert torch.allclose(length_penalty(lengths, 0.6), torch.tensor([1.0, 2.0 ** 0.6], dtype=torch.float64))
    assert length_penalty(lengths, 0.0).tolist() == [1.0, 1.0]


def test_bad_n_best_raises() -> None:
    decoder, memory, limits = trained_memory(DECODERS.names()[0], [2, 3])
    with pytest.raises(ValueError, match="n_best"):
        beam_search(decoder, memory, 2, limits, n_best=3)


# -------------------------------------------------------------------- every registered decoder type


@pytest.mark.parametrize("name", DECODERS.names())
def test_trained_model_is_not_degenerate(name: str) -> None:
    decoder, memory, limits = trained_memory(name)
    out = greedy_search(decoder, memory, limits).best_tokens()
    wanted = [[t for t in row if t != PAD][::-1] for row in sources(LENGTHS, seed=7).tolist()]
    assert len({tuple(t) for t in out}) > 5  # not one output for everything
    assert sum(o == w for o, w in zip(out, wanted)) >= len(LENGTHS) // 2, (out, wanted)


@pytest.mark.parametrize("name", DECODERS.names())
def test_beam_one_equals_greedy(name: str) -> None:
    decoder, memory, limits = trained_memory(name)
    greedy, beam = greedy_search(decoder, memory, limits), beam_search(decoder, memory, 1, limits)
    assert len(greedy) == len(beam) == len(LENGTHS)
    assert beam.best_tokens() == greedy.best_tokens()
    for g, b in zip(greedy.hypotheses, beam.hypotheses):
        assert len(g) == len(b) == 1 and b[0].score == pytest.approx(g[0].score, abs=1e-5)


@pytest.mark.parametrize("name", DECODERS.names())
def test_beam_is_never_worse_than_greedy_and_scores_are_model_scores(name: str) -> None:
    decoder, memory, limits = trained_memory(name)
    greedy, beam = greedy_search(decoder, memory, limits), beam_search(decoder, memory, 5, limits)
    for row, (g, b) in enumerate(zip(greedy.hypotheses, beam.hypotheses)):
        assert b[0].score >= g[0].score - 1e-6
        for hyp in (g[0], b[0]):
            assert hyp.score == pytest.approx(sequence_score(decoder, memory, row, hyp.tokens), abs=1e-4)


@pytest.mark.parametrize("name", DECODERS.names())
def test_batched_beam_equals_one_sentence_at_a_time(name: str) -> None:
    decoder, memory, limits = trained_memory(name)
    batched = beam_search(decoder, memory, 4, limits, alpha=0.6, n_best=2)
    for row in range(len(LENGTHS)):
        alone = beam_search(decoder, memory.index_select(torch.tensor([row])), 4, limits[row : row + 1],
                            alpha=0.6, n_best=2)
        assert [h.tokens for h in alone.hypotheses[0]] == [h.tokens for h in batched.hypotheses[row]]
        for a, b in zip(alone.hypotheses[0], batched.hypotheses[row]):
            assert a.norm_score == pytest.approx(b.norm_score, abs=1e-5)


@pytest.mark.parametrize("name", DECODERS.names())
def test_n_best_distinct_sorted_and_within_limits(name: str) -> None:
    decoder, memory, _ = trained_memory(name)
    limits = torch.tensor([0, 1, 2, 3, 2, 5, 1, 9, 4, 3])  # per sentence, some far below the source length
    alpha = 0.6
    result = beam_search(decoder, memory, 5, limits, alpha=alpha, n_best=5)
    for hyps, limit in zip(result.hypotheses, limits.tolist()):
        assert len(hyps) == min(5, sum((VOCAB - 3) ** k for k in range(limit + 1)))
        assert len({tuple(h.tokens) for h in hyps}) == len(hyps)
        assert [h.norm_score for h in hyps] == sorted((h.norm_score for h in hyps), reverse=True)
        for h in hyps:
            assert len(h.tokens) <= limit and not {EOS, BOS, PAD} & set(h.tokens)
            assert h.norm_score == pytest.approx(h.score / ((5 + len(h.tokens) + 1) / 6) ** alpha)
    assert result.hypotheses[0][0].tokens == []  # limit 0: EOS only
    greedy = greedy_search(decoder, memory, limits)
    assert all(len(t) <= n for t, n in zip(greedy.best_tokens(), limits.tolist()))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("name", DECODERS.names())
def test_wide_beam_finds_every_output_of_exhaustive_search(name: str, alpha: float) -> None:
    """V = 6 (3 producible words), limits 3/2/1: 40/13/4 outputs; beam 64 >= 4 ** 3 sees them all."""
    model = make_model(name, vocab=6, dim=16, seed=3).eval()
    decoder = model.decoders["tgt"]
    with torch.no_grad():
        src = torch.tensor([[4, 5, 4], [5, 5, 0], [4, 0, 0]])
        memory = model.encode("src", src, src.ne(PAD))
    limits, words = torch.tensor([3, 2, 1]), [UNK, 4, 5]
    result = beam_search(decoder, memory, 64, limits, alpha=alpha, n_best=40)
    for row, limit in enumerate(limits.tolist()):
        outputs = [list(seq) for k in range(limit + 1) for seq in itertools.product(words, repeat=k)]
        scored = [(sequence_score(decoder, memory, row, seq), seq) for seq in outputs]
        ranked = sorted(scored, key=lambda p: p[0] / ((6 + len(p[1])) / 6) ** alpha, reverse=True)
        hyps = result.hypotheses[row]
        assert [h.tokens for h in hyps] == [seq for _, seq in ranked]
        assert [h.score for h in hyps] == pytest.approx([s for s, _ in ranked], abs=1e-5)



@pytest.mark.parametrize("name", DECODERS.names())
def test_cached_step_equals_forward_on_the_prefix(name: str) -> None:
    model = make_model(name, seed=5).eval()
    decoder = model.decoders["tgt"]
    with torch.no_grad():
        src = sources([5, 2, 4], seed=3)
        memory = model.encode("src", src, src.ne(PAD))
        tgt_in, _ = reverse_targets(sources([6, 6, 3], seed=4))  # (B, 7)
        state = decoder.init_state(memory)
        for t in range(tgt_in.size(1)):
            logits, state = decoder.step(tgt_in[:, t], memory, state)  # (B, V)
            prefix = decoder(tgt_in[:, : t + 1], memory)[:, -1]  # (B, V)
            assert (logits - prefix).abs().max().item() < 1e-5, f"step {t}"


@pytest.mark.parametrize("name", DECODERS.names())
def test_decode_encodes_searches_and_restores_mode(name: str) -> None:
    model = trained(name)
    src = sources(LENGTHS, seed=7)
    model.train()
    try:
        greedy = decode(model, "rev", src, src.ne(PAD), beam=1, max_len_a=1.5, max_len_b=2, max_len_cap=64)
        assert model.training
        beam = decode(model, ("src", "tgt"), src, src.ne(PAD), beam=3, n_best=2, max_len_a=1.5, max_len_b=2)
    finally:
        model.eval()
    decoder, memory, limits = trained_memory(name)
    assert isinstance(greedy, SearchResult) and len(beam) == len(LENGTHS)
    assert greedy.best_tokens() == greedy_search(decoder, memory, limits).best_tokens()
    assert beam.best_tokens() == beam_search(decoder, memory, 3, limits, n_best=2).best_tokens()
    assert all(len(hyps) == 2 for hyps in beam.hypotheses)


# ------------------------------------------------------------------------- a toy decoder, by hand

A, B = 4, 5


class TableDecoder(Decoder):
    """Next-token probabilities given by the previous token alone: ``table[prev]``; memory unused.

    The state holds each row's inputs so far, so a wrong ``reorder_state`` would show, and every
    ``step`` input is recorded in ``inputs``.
    """

    def __init__(self, table: dict[int, dict[int, float]], vocab: int = 6) -> None:
        super().__init__()
        self.memory_size = 1
        probs = torch.full((vocab, vocab), 1.0 / vocab)  # (V, V) uniform for rows not given
        for prev, row in table.items():
            probs[prev] = torch.tensor([row.get(i, 0.0) for i in range(vocab)])
        self.register_buffer("logits", probs.log())  # zeros become -inf
        self.inputs: list[torch.Tensor] = []

    def forward(self, tgt_in: torch.Tensor, memory: EncoderOutput) -> torch.Tensor:
        return self.logits[tgt_in]  # (B, T, V)

    def init_state(self, memory: EncoderOutput) -> dict[str, torch.Tensor]:
        return {"seen": torch.zeros(memory.mask.size(0), 0, dtype=torch.long)}

    def step(self, prev: torch.Tensor, memory: EncoderOutput, state: dict) -> tuple[torch.Tensor, dict]:
        self.inputs.append(prev.clone())
        return self.logits[prev], {"seen": torch.cat([state["seen"], prev[:, None]], dim=1)}

    def reorder_state(self, state: dict, order: torch.Tensor) -> dict:
        return {"seen": state["seen"].index_select(0, order)}


def toy_memory(batch: int) -> EncoderOutput:
    return EncoderOutput(torch.zeros(batch, 1, 1), torch.ones(batch, 1, dtype=torch.bool))


# greedy takes A (0.55) and must then end with 0.4: 0.22; beam 2 also keeps B (0.45), which ends with 0.9
TRAP = {BOS: {A: 0.55, B: 0.45}, A: {EOS: 0.4, A: 0.3, B: 0.3}, B: {EOS: 0.9, A: 0.05, B: 0.05}}


def test_toy_beam_two_escapes_the_greedy_trap() -> None:
    decoder, memory = TableDecoder(TRAP), toy_memory(2)
    greedy = greedy_search(decoder, memory, 5)
    assert greedy.best_tokens() == [[A], [A]]
    assert greedy.hypotheses[0][0].score == pytest.approx(math.log(0.55 * 0.4))
    assert beam_search(decoder, memory, 1, 5).best_tokens() == [[A], [A]]
    assert not any(EOS in step.tolist() for step in decoder.inputs)  # an ended hypothesis is not fed on
    beam = beam_search(decoder, memory, 2, torch.tensor([5, 1]), n_best=2)
    for hyps in beam.hypotheses:
        assert [h.tokens for h in hyps] == [[B], [A]]
        assert [h.score for h in hyps] == pytest.approx([math.log(0.45 * 0.9), math.log(0.55 * 0.4)])
    assert not any(EOS in step.tolist() for step in decoder.inputs)  # an ended hypothesis is not fed on


def test_toy_beam_one_is_greedy_even_when_a_dropped_eos_scored_better() -> None:
    """Greedy takes A (0.6 > EOS 0.4), then [A] ends at 0.6 * 0.55 = 0.33 < 0.4. Beam 1 keeps an EOS only
    when it ranks first, so it gives [A] too (and beam 2, which keeps both, finds [])."""
    table = {BOS: {A: 0.6, EOS: 0.4}, A: {EOS: 0.55, B: 0.45}, B: {EOS: 0.5, A: 0.5}}
    decoder, memory = TableDecoder(table), toy_memory(1)
    assert greedy_search(decoder, memory, 4).best_tokens() == [[A]]
    assert beam_search(decoder, memory, 1, 4).best_tokens() == [[A]]
    assert beam_search(decoder, memory, 2, 4).best_tokens() == [[]]


def test_toy_search_goes_on_while_a_longer_output_can_win_on_normalized_score() -> None:
    """[] ends first with log 0.3 = -1.20; the alive [A] has log 0.24 = -1.43, below -1.20, but with
    alpha = 1 it may still be divided by up to (5 + 5) / 6, and [A, B] does win: log(0.24 * 0.99 * 0.99)
    / (8 / 6) = -1.09. With alpha = 0 the search stops at once with []."""
    table = {BOS: {EOS: 0.3, A: 0.24, B: 0.23, UNK: 0.23}, A: {B: 0.99, EOS: 0.01}, B: {EOS: 0.99, A: 0.01}}
    decoder, memory = TableDecoder(table), toy_memory(1)
    assert beam_search(decoder, memory, 1, 4).best_tokens() == [[]]
    best = beam_search(decoder, memory, 1, 4, alpha=1.0).hypotheses[0][0]
    assert best.tokens == [A, B]
    assert best.norm_score == pytest.approx(math.log(0.24 * 0.99 * 0.99) / (8 / 6))


def test_toy_length_penalty_prefers_the_longer_output() -> None:
    """BOS -> EOS 0.3 or A 0.7; A -> EOS 0.4: [] scores log 0.3 = -1.20, [A] log 0.28 = -1.27, but
    with alpha = 1 [A] wins: -1.27 / (7/6) = -1.09 against -1.20 / 1."""
    table = {BOS: {EOS: 0.3, A: 0.7}, A: {EOS: 0.4, A: 0.3, B: 0.3}, B: {EOS: 0.01, A: 0.99}}
    decoder, memory = TableDecoder(table), toy_memory(1)
    assert beam_search(decoder, memory, 2, 4).best_tokens() == [[]]
    best = beam_search(decoder, memory, 2, 4, alpha=1.0).hypotheses[0][0]
    assert best.tokens == [A] and best.norm_score == pytest.approx(math.log(0.28) / (7 / 6))


def test_toy_limits_force_eos_per_sentence() -> None:
    """EOS is never the best choice, so greedy runs to each sentence's own limit and ends there."""
    table = {BOS: {A: 0.9, B: 0.05, EOS: 0.05}, A: {A: 0.6, B: 0.3, EOS: 0.1}, B: {A: 0.5, B: 0.4, EOS: 0.1}}
    decoder, memory = TableDecoder(table), toy_memory(4)
    limits = torch.tensor([0, 1, 4, 2])
    greedy = greedy_search(decoder, memory, limits)
    assert greedy.best_tokens() == [[], [A], [A] * 4, [A] * 2]
    expected = [math.log(0.05)] + [math.log(0.9) + (n - 1) * math.log(0.6) + math.log(0.1) for n in (1, 4, 2)]
    assert [h[0].score for h in greedy.hypotheses] == pytest.approx(expected)
    beam = beam_search(decoder, memory, 3, limits, n_best=3, alpha=2.0)  # alpha 2 rewards length
    for hyps, limit in zip(beam.hypotheses, limits.tolist()):
        assert all(len(h.tokens) <= limit for h in hyps)
        assert len(hyps[0].tokens) == limit
    assert not any(EOS in step.tolist() for step in decoder.inputs)
