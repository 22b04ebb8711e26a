"""Tests for mtseq2seq.metrics: sacrebleu parity, hand-worked tree F1, exact match, lookup by name."""
import pytest
import sacrebleu

from mtseq2seq import trees
from mtseq2seq.errors import DataError
from mtseq2seq.metrics import METRICS, MetricResult, bleu, chrf, compute, exact_match, token_accuracy, tree_f1

HYPS = ["The cat sat on the mat.", "A dog barked loudly at night!", "He reads, she writes."]
REFS = ["The cat sat on a mat.", "The dog barked loudly at night!", "He reads; she writes."]

# Hand-worked example: three sentences.
SENTENCES = ["the cat sat on the mat", "dogs bark loudly", "she reads books"]
GOLD = [
    "(S (NP XX XX )NP (VP XX (PP XX (NP XX XX )NP )PP )VP )S",
    "(S (NP XX )NP (VP XX (ADVP XX )ADVP )VP )S",
    "(S (NP XX )NP (VP XX (NP XX )NP )VP )S",
]
# Gold spans:
#   1: S(0,6) NP(0,2) VP(2,6) PP(3,6) NP(4,6)          -> 5
#   2: S(0,3) NP(0,1) VP(1,3) ADVP(2,3)                -> 4
#   3: S(0,3) NP(0,1) VP(1,3) NP(2,3)                  -> 4   total 13
PRED = [
    # well-formed, misses the PP: S(0,6) NP(0,2) VP(2,6) NP(4,6), all 4 in gold
    "(S (NP XX XX )NP (VP XX XX (NP XX XX )NP )VP )S",
    # unbalanced: S closed too early, a stray )PP when nothing is open, ADVP closed only via )VP.
    # repair -> (TOP (S (NP XX )NP )S (VP XX (ADVP XX )ADVP )VP )TOP
    # spans TOP(0,3) S(0,1) NP(0,1) VP(1,3) ADVP(2,3): 5, of which NP VP ADVP match -> 3
    "(S (NP XX )NP )S )PP (VP XX (ADVP XX )VP",
    # well-formed (bare closers) but one XX short: "books" goes to the last constituent, VP
    # -> (S (NP she )NP (VP reads books )VP )S, spans S(0,3) NP(0,1) VP(1,3): 3, all match
    "(S (NP XX ) (VP XX ) )",
]
# matched 4 + 3 + 3 = 10; predicted 4 + 5 + 3 = 12; gold 13
# P = 10/12 = 83.333..., R = 10/13 = 76.923..., F1 = 2*10/(12+13) = 0.8 -> 80.0


def test_bleu_matches_sacrebleu_exactly():
    result = bleu(HYPS, REFS)
    assert isinstance(result, MetricResult)
    assert result.name == "bleu" and result.n == 3
    assert result.score == sacrebleu.corpus_bleu(HYPS, [REFS]).score
    assert result.signature and f"version:{sacrebleu.__version__}" in result.signature


def test_chrf_matches_sacrebleu_exactly():
    result = chrf(HYPS, REFS)
    assert result.score == sacrebleu.corpus_chrf(HYPS, [REFS]).score
    assert result.signature and f"version:{sacrebleu.__version__}" in result.signature


def test_bleu_rejects_bad_inputs():
    with pytest.raises(ValueError):
        bleu(HYPS, REFS[:2])
    with pytest.raises(ValueError):
        chrf([], [])


def test_repair_of_the_malformed_prediction():
    assert not trees.is_well_formed(PRED[1].split())
    assert " ".join(trees.repair(PRED[1].split())) == \
        "(TOP (S (NP XX )NP )S (VP XX (ADVP XX )ADVP )VP )TOP"
    tree = trees.put_words_back(PRED[2], SENTENCES[2])
    assert trees.linearize(tree, words=True) == "(S (NP she )NP (VP reads books )VP )S"


def test_tree_f1_hand_worked():
    result = tree_f1(PRED, GOLD, SENTENCES)
    assert result.name == "tree_f1" and result.n == 3
    assert result.extra["matched"] == 10
    assert result.extra["hyp_spans"] == 12
    assert result.extra["gold_spans"] == 13
    assert result.extra["precision"] == pytest.approx(100 * 10 / 12)
    assert result.extra["recall"] == pytest.approx(100 * 10 / 13)
    assert result.score == pytest.approx(80.0)
    assert result.extra["well_formed"] == pytest.approx(100 * 2 / 3)
    assert result.extra["well_formed_count"] == 2
    assert result.extra["leaf_count_match"] == 2  # sentence 3 is one XX short
    assert result.signature.startswith("tree_f1")


def test_tree_f1_perfect():
    result = tree_f1(GOLD, GOLD, SENTENCES)
    assert result.score == 100.0
    assert result.extra["precision"] == result.extra["recall"] == 100.0
    assert result.extra["well_formed"] == 100.0


def test_tree_f1_flat():
    # only S(0,6) is predicted and it matches: P = 1/1, R = 1/5, F1 = 2*1/(1+5) = 1/3
    flat = ["(S XX XX XX XX XX XX )S"]
    result = tree_f1(flat, GOLD[:1], SENTENCES[:1])
    assert result.extra["precision"] == pytest.approx(100.0)
    assert result.extra["recall"] == pytest.approx(20.0)
    assert result.score == pytest.approx(100 / 3)


def test_tree_f1_garbage_prediction_still_scores():
    # nothing usable: repair gives (TOP )TOP, the words all land in TOP, which matches no gold span
    result = tree_f1(["<unk> )NP"], GOLD[1:2], SENTENCES[1:2])
    assert result.score == 0.0 and result.extra["well_formed"] == 0.0
    assert result.extra["hyp_spans"] == 1


def test_tree_f1_malformed_reference_is_a_data_error():
    with pytest.raises(DataError, match="line 1"):
        tree_f1(GOLD[:1], ["(S XX"], SENTENCES[:1])


def test_exact_match():
    result = exact_match(["a b  c", " x y", "p q"], ["a b c", "x y ", "p r"])
    assert result.score == pytest.approx(200 / 3)
    assert result.extra["matches"] == 2 and result.n == 3


def test_token_accuracy():
    assert token_accuracy(3, 4).score == 75.0
    with pytest.raises(ValueError):
        token_accuracy(5, 4)
    with pytest.raises(ValueError):
        token_accuracy(0, 0)


def test_compute_by_name():
    built_in = {name for name, fn in METRICS.items() if fn.__module__.startswith("mtseq2seq.")}
    assert built_in == {"bleu", "chrf", "tree_f1", "exact_match", "accuracy", "macro_f1",
                        "word_accuracy", "span_f1"}  # plugins' metrics (tests) come from elsewhere
    assert compute("bleu", HYPS, REFS).score == bleu(HYPS, REFS).score
    assert compute("chrf", HYPS, REFS, sources=None).score == chrf(HYPS, REFS).score
    assert compute("exact_match", HYPS, HYPS).score == 100.0
    assert compute("tree_f1", PRED, GOLD, SENTENCES).score == pytest.approx(80.0)
    with pytest.raises(ValueError, match="source"):
        compute("tree_f1", PRED, GOLD)


def test_compute_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as info:
        compute("blue", HYPS, REFS)
    message = str(info.value)
    for name in ("bleu", "chrf", "exact_match", "tree_f1"):
        assert name in message
    assert "did you mean 'bleu'" in message
