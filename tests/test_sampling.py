"""Tests of sampling search (mtseq2seq/search/sample.py).

Every registered decoder type is sampled through a tiny random model (as in test_search.py); the
table-driven toy decoder of test_search.py gives distributions known by hand.
"""
from __future__ import annotations

import functools
import math

import pytest
import torch

from mtseq2seq.modules import DECODERS, Decoder, EncoderOutput
from mtseq2seq.search import greedy_search, max_lengths
from mtseq2seq.search.sample import nucleus_filter, sample_search
from mtseq2seq.vocab import BOS, EOS, PAD, UNK
from tests.test_search import A, B, TableDecoder, make_model, sequence_score, sources, toy_memory

LENGTHS = [1, 6, 3, 5, 2]


pytestmark = pytest.mark.usefixtures("one_thread")


@functools.lru_cache(maxsize=None)
def random_memory(dec_name: str) -> tuple[Decoder, EncoderOutput, torch.Tensor]:
    """An untrained tiny model's decoder (eval mode), the memory of a fixed batch, limits 1.5 * len + 2."""
    model = make_model(dec_name, seed=3).eval()
    with torch.no_grad():
        src = sources(LENGTHS, seed=7)
        memory = model.encode("src", src, src.ne(PAD))
    return model.decoders["tgt"], memory, max_lengths(memory.mask, 1.5, 2, 64)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def as_lists(result) -> list[list[tuple[list[int], float]]]:
    return [[(h.tokens, h.score) for h in hyps] for hyps in result.hypotheses]


# ---------------------------------------------------------------------------------------- the filter


def test_nucleus_filter_keeps_exactly_the_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05, 0.0], [0.9, 0.04, 0.03, 0.02, 0.01]])
    logp = probs.log()  # (2, 5) sorted best first; the 0 is -inf
    for top_p, kept in [(1e-6, [1, 1]), (0.5, [1, 1]), (0.7, [2, 1]), (0.81, [3, 1]), (0.9, [3, 1]),
                        (0.91, [3, 2]), (0.96, [4, 3]), (1.0, [4, 5])]:
        out = nucleus_filter(logp, top_p)
        for row in range(2):
            k = kept[row]
            assert torch.equal(out[row, :k], logp[row, :k]), (top_p, row)
            assert out[row, k:].eq(float("-inf")).all(), (top_p, row)


# ------------------------------------------------------------------------- toy decoder, known tables


def test_same_seed_same_outputs_different_seeds_differ() -> None:
    decoder, memory = TableDecoder({}), toy_memory(3)  # every row uniform over UNK, A, B, EOS
    first = as_lists(sample_search(decoder, memory, 6, n=8, generator=seeded(0)))
    assert as_lists(sample_search(decoder, memory, 6, n=8, generator=seeded(0))) == first
    assert as_lists(sample_search(decoder, memory, 6, n=8, generator=seeded(1))) != first
    torch.manual_seed(5)
    global_rng = as_lists(sample_search(decoder, memory, 6, n=8))
    torch.manual_seed(5)
    assert as_lists(sample_search(decoder, memory, 6, n=8)) == global_rng


def test_top_k_and_top_p_restrict_what_is_drawn() -> None:
    table = {BOS: {A: 0.5, B: 0.3, UNK: 0.15, EOS: 0.05}}  # later rows uniform
    decoder, memory = TableDecoder(table), toy_memory(2)
    for options in ({"top_k": 2}, {"top_p": 0.7}, {"top_k": 3, "top_p": 0.6}):
        result = sample_search(decoder, memory, 3, n=64, generator=seeded(2), **options)
        firsts = {h.tokens[0] for hyps in result.hypotheses for h in hyps}
        assert firsts == {A, B}, options
    result = sample_search(decoder, memory, 3, n=64, generator=seeded(2), top_p=0.6, temperature=0.5)
    assert {h.tokens[0] for hyps in result.hypotheses for h in hyps} == {A}  # 0.5^2 / 0.3575 > 0.6


def test_draws_follow_the_temperature_scaled_top_k_distribution() -> None:
    table = {BOS: {A: 0.5, B: 0.3, UNK: 0.15, EOS: 0.05}}
    decoder, memory = TableDecoder(table), toy_memory(1)
    result = sample_search(decoder, memory, 1, n=4000, generator=seeded(3), temperature=2.0, top_k=3)
    firsts = [h.tokens[0] for h in result.hypotheses[0]]
    weights = {token: table[BOS][token] ** 0.5 for token in (A, B, UNK)}  # p ** (1 / temperature)
    for token, weight in weights.items():
        assert firsts.count(token) / len(firsts) == pytest.approx(weight / sum(weights.values()), abs=0.03)


def test_limits_force_eos_even_at_probability_zero_and_ended_rows_are_not_fed() -> None:
    table = {BOS: {A: 1.0}, A: {A: 0.5, B: 0.5}, B: {A: 0.5, B: 0.5}}  # EOS never drawn before the limit
    decoder, memory = TableDecoder(table), toy_memory(3)
    result = sample_search(decoder, memory, torch.tensor([0, 1, 4]), n=3, generator=seeded(0))
    for hyps, limit in zip(result.hypotheses, [0, 1, 4]):
        assert len(hyps) == 3
        for hyp in hyps:
            assert len(hyp.tokens) == limit and set(hyp.tokens) <= {A, B}
            assert hyp.score == float("-inf") == hyp.norm_score  # the forced EOS has probability 0
    assert not any(EOS in step.tolist() for step in decoder.inputs)


def test_scores_are_temperature_one_and_unfiltered() -> None:
    table = {BOS: {A: 0.5, B: 0.3, UNK: 0.15, EOS: 0.05}, A: {EOS: 0.8, B: 0.2}, B: {EOS: 0.6, A: 0.4},
             UNK: {EOS: 0.7, A: 0.3}}
    decoder, memory = TableDecoder(table), toy_memory(2)
    result = sample_search(decoder, memory, 2, n=16, generator=seeded(4), temperature=3.0, top_p=0.9)
    for hyps in result.hypotheses:
        for hyp in hyps:
            path = [BOS] + hyp.tokens + [EOS]
            expected = sum(math.log(table[p][c]) for p, c in zip(path, path[1:]))
            assert hyp.score == pytest.approx(expected)


# -------------------------------------------------------------------- every registered decoder type


@pytest.mark.parametrize("name", DECODERS.names())
def test_top_k_one_and_low_temperature_equal_greedy(name: str) -> None:
    decoder, memory, limits = random_memory(name)
    greedy = greedy_search(decoder, memory, limits)
    for options in ({"top_k": 1}, {"temperature": 1e-4}):
        sampled = sample_search(decoder, memory, limits, generator=seeded(0), **options)
        assert sampled.best_tokens() == greedy.best_tokens(), options
        assert [h[0].score for h in sampled.hypotheses] == pytest.approx(
            [h[0].score for h in greedy.hypotheses], rel=1e-5), options


@pytest.mark.parametrize("name", DECODERS.names())
def test_n_samples_within_limits_sorted_and_scored_by_the_model(name: str) -> None:
    decoder, memory, limits = random_memory(name)
    result = sample_search(decoder, memory, limits, n=3, generator=seeded(1), temperature=1.5, top_p=0.95)
    assert len(result) == len(LENGTHS)
    for row, (hyps, limit) in enumerate(zip(result.hypotheses, limits.tolist())):
        assert len(hyps) == 3
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for hyp in hyps:
            assert len(hyp.tokens) <= limit and not {PAD, BOS, EOS} & set(hyp.tokens)
            assert hyp.norm_score == hyp.score
            assert hyp.score == pytest.approx(sequence_score(decoder, memory, row, hyp.tokens), abs=1e-4)


# ----------------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("options, argument", [
    ({"temperature": 0.0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("inf")}, "temperature"), ({"temperature": float("nan")}, "temperature"),
    ({"top_k": -1}, "top_k"), ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"),
    ({"top_p": float("nan")}, "top_p"), ({"n": 0}, "n must"),
])
def test_bad_arguments_raise_naming_the_argument(options: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        sample_search(TableDecoder({}), toy_memory(1), 3, **options)
