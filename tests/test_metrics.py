"""Tests for mtseq2seq.metrics: sacrebleu parity, hand-worked strict tree F1, exact match, lookup by name.

EVALB's tree F1 (the metric ``tree_f1``) has its own hand-worked tests in test_evalb.py.
"""
import pytest
import sacrebleu

from mtseq2seq import trees
from mtseq2seq.errors import DataError
from mtseq2seq.metrics import (
    METRICS,
    MetricResult,
    bleu,
    chrf,
    compute,
    exact_match,
    token_accuracy,
    tree_f1,
    tree_f1_strict,
)

HYPS = ["The cat sat on the mat.", "A dog barked loudly at night!", "He reads, she writes."]
REFS = ["The cat sat on a mat.", "The dog barked loudly at night!", "He reads; she writes."]

# Hand-worked example for tree_f1_strict (every bracket counted): three sentences.
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


def test_tree_f1_strict_hand_worked():
    result = tree_f1_strict(PRED, GOLD, SENTENCES)
    assert result.name == "tree_f1_strict" and result.n == 3
    assert result.extra["matched"] == 10
    assert result.extra["hyp_spans"] == 12
    assert result.extra["gold_spans"] == 13
    assert result.extra["precision"] == pytest.approx(100 * 10 / 12)
    assert result.extra["recall"] == pytest.approx(100 * 10 / 13)
    assert result.score == pytest.approx(80.0)
    assert result.extra["well_formed"] == pytest.approx(100 * 2 / 3)
    assert result.extra["well_formed_count"] == 2
    assert result.extra["leaf_count_match"] == 2  # sentence 3 is one XX short
    assert result.signature.startswith("tree_f1_strict|")


def test_tree_f1_strict_perfect():
    result = tree_f1_strict(GOLD, GOLD, SENTENCES)
    assert result.score == 100.0
    assert result.extra["precision"] == result.extra["recall"] == 100.0
    assert result.extra["well_formed"] == 100.0


def test_tree_f1_strict_flat():
    # only S(0,6) is predicted and it matches: P = 1/1, R = 1/5, F1 = 2*1/(1+5) = 1/3
    flat = ["(S XX XX XX XX XX XX )S"]
    result = tree_f1_strict(flat, GOLD[:1], SENTENCES[:1])
    assert result.extra["precision"] == pytest.approx(100.0)
    assert result.extra["recall"] == pytest.approx(20.0)
    assert result.score == pytest.approx(100 / 3)


def test_tree_f1_strict_garbage_prediction_still_scores():
    # nothing usable: repair gives (TOP )TOP, the words all land in TOP, which matches no gold span
    result = tree_f1_strict(["<unk> )NP"], GOLD[1:2], SENTENCES[1:2])
    assert result.score == 0.0 and result.extra["well_formed"] == 0.0
    assert result.extra["hyp_spans"] == 1


def test_tree_f1_malformed_reference_is_a_data_error():
    with pytest.raises(DataError, match="line 1"):
        tree_f1_strict(GOLD[:1], ["(S XX"], SENTENCES[:1])
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
    assert built_in == {"bleu", "chrf", "tree_f1", "tree_f1_len40", "tree_f1_strict", "exact_match",
                        "distinct_1", "distinct_2", "accuracy", "macro_f1", "word_accuracy",
                        "span_f1"}  # plugins' come from elsewhere
    assert compute("bleu", HYPS, REFS).score == bleu(HYPS, REFS).score
    assert compute("chrf", HYPS, REFS, sources=None).score == chrf(HYPS, REFS).score
    assert compute("exact_match", HYPS, HYPS).score == 100.0
    assert compute("tree_f1_strict", PRED, GOLD, SENTENCES).score == pytest.approx(80.0)
    # EVALB does not count the TOP that repair put on PRED[1]: matched 10, predicted 11, gold 13,
    # F1 = 2*10/(11+13) = 83.33...; every sentence is short, so the len<=40 summary is the same
    assert compute("tree_f1", PRED, GOLD, SENTENCES).score == pytest.approx(250 / 3)
    assert compute("tree_f1_len40", PRED, GOLD, SENTENCES).score == pytest.approx(250 / 3)
    for name in ("tree_f1", "tree_f1_len40", "tree_f1_strict"):
        with pytest.raises(ValueError, match=f"'{name}' needs the source"):
            compute(name, PRED, GOLD)


def test_compute_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as info:
        compute("blue", HYPS, REFS)
    message = str(info.value)
    for name in ("bleu", "chrf", "exact_match", "tree_f1"):
        assert name in message
    assert "did you mean 'bleu'" in message


# --- several references per example -------------------------------------------------------------

MULTI_HYPS = [
    "The cat is sitting on the mat.",
    "He went to the market yesterday.",
    "It is raining heavily today.",
    "She did not like the movie at all.",
    "The train arrives at noon.",
    "We will meet again next week.",
]
MULTI_REFS_1 = [
    "The cat sat on the mat.",
    "Yesterday he went to the market.",
    "Today it rains a lot.",
    "She really disliked the film.",
    "The train gets in at twelve.",
    "We shall see each other next week.",
]
MULTI_REFS_2 = [
    "A cat is sitting on the mat.",
    "He went to the market yesterday.",
    "It is raining heavily today.",
    "She did not like the film at all.",
    "The train arrives at midday.",
    "We will meet next week again.",
]
MULTI_REFS = list(zip(MULTI_REFS_1, MULTI_REFS_2))  # tuples: (primary, second)


def test_reference_helpers():
    from mtseq2seq.metric_result import first_references, nrefs, reference_streams
    refs = ["a", ("b", "c"), ("d",)]
    assert reference_streams(refs) == [["a", "b", "d"], [None, "c", None]]
    assert first_references(refs) == ["a", "b", "d"]
    assert nrefs(refs) == "var" and nrefs(MULTI_REFS) == "2" and nrefs(REFS) == "1"
    assert reference_streams(REFS) == [REFS]


def test_multi_reference_bleu_and_chrf_match_sacrebleu():
    streams = [MULTI_REFS_1, MULTI_REFS_2]
    result = bleu(MULTI_HYPS, MULTI_REFS)
    assert result.score == sacrebleu.corpus_bleu(MULTI_HYPS, streams).score
    assert result.score > bleu(MULTI_HYPS, MULTI_REFS_1).score + 10  # the second one counts
    assert "nrefs:2|" in result.signature and result.extra["nrefs"] == "2"
    result = chrf(MULTI_HYPS, MULTI_REFS)
    assert result.score == sacrebleu.corpus_chrf(MULTI_HYPS, streams).score
    assert result.score != chrf(MULTI_HYPS, MULTI_REFS_1).score
    assert "nrefs:2|" in result.signature


def test_single_reference_is_unchanged():
    for metric, direct in ((bleu, sacrebleu.corpus_bleu), (chrf, sacrebleu.corpus_chrf)):
        as_str, as_tuple = metric(HYPS, REFS), metric(HYPS, [(r,) for r in REFS])
        assert as_str.score == as_tuple.score == direct(HYPS, [REFS]).score
        assert as_str.signature == as_tuple.signature and "nrefs:1|" in as_str.signature
    assert exact_match(HYPS, REFS).signature == "exact_match|whitespace:normalized"


def test_ragged_references_pad_with_none():
    # Example 2 has one (long) reference: sacrebleu drops the None for it alone; an "" would be
    # scored as an empty reference, closer in length to the hypothesis, and change BLEU's ref_len.
    long_ref = "Yesterday he went to the big market in the town centre with all his old friends."
    refs = [MULTI_REFS[0], long_ref, *MULTI_REFS[2:]]
    first = [MULTI_REFS_1[0], long_ref, *MULTI_REFS_1[2:]]
    second = [MULTI_REFS_2[0], None, *MULTI_REFS_2[2:]]
    for metric, direct in ((bleu, sacrebleu.corpus_bleu), (chrf, sacrebleu.corpus_chrf)):
        result = metric(MULTI_HYPS, refs)
        assert result.score == direct(MULTI_HYPS, [first, second]).score
        assert "nrefs:var|" in result.signature and result.extra["nrefs"] == "var"
    padded_empty = sacrebleu.corpus_bleu(MULTI_HYPS, [first, [s or "" for s in second]])
    assert bleu(MULTI_HYPS, refs).extra["ref_len"] != padded_empty.ref_len


@pytest.mark.parametrize("bad", [(), ("ok", 3), ["a list"], None])
def test_malformed_reference_entries_are_refused(bad):
    for name in ("bleu", "chrf", "exact_match", "accuracy", "span_f1"):
        with pytest.raises(ValueError, match="reference 2"):
            compute(name, ["x", "y"], ["x", bad])


def test_exact_match_any_reference():
    hyps = ["a  b", "c d", "e f", "g"]
    refs = [("x", "a b"), ("c d", "y"), ("p", "q"), "g"]
    result = exact_match(hyps, refs)
    assert result.score == 75.0 and result.extra["matches"] == 3
    assert result.signature == "exact_match|whitespace:normalized|refs:any|nrefs:var"
    assert exact_match(hyps[:3], refs[:3]).signature.endswith("|refs:any|nrefs:2")


def test_first_reference_metrics():
    assert tree_f1(GOLD, [(g, "(S XX )S") for g in GOLD], SENTENCES).score == 100.0
    assert compute("accuracy", ["a", "b"], [("a", "b"), ("c", "b")]).score == 50.0
    assert compute("span_f1", ["B-PER O"], [("B-PER O", "O O")]).score == 100.0
    assert compute("word_accuracy", ["O O"], [("O B-LOC", "O O")]).score == 50.0


# --- distinct-n -----------------------------------------------------------------------------------

def test_distinct_hand_worked():
    hyps = ["i do not know", "i do not know", "i like it", ""]
    # unigrams: 4 + 4 + 3 = 11 tokens; distinct {i, do, not, know, like, it} = 6
    # bigrams: 3 + 3 + 2 = 8; distinct {i do, do not, not know, i like, like it} = 5
    one = compute("distinct_1", hyps, ["ignored"] * 4)
    two = compute("distinct_2", hyps, ["ignored"] * 4, sources=None)
    assert one.score == pytest.approx(100 * 6 / 11) and one.extra == {"distinct": 6, "total": 11}
    assert two.score == pytest.approx(100 * 5 / 8) and two.extra == {"distinct": 5, "total": 8}
    assert one.signature == "distinct|n:1|tok:whitespace|version:1"
    assert two.signature == "distinct|n:2|tok:whitespace|version:1"
    assert (one.name, one.n, two.name) == ("distinct_1", 4, "distinct_2")


def test_distinct_edge_cases():
    from mtseq2seq.text_metrics import distinct_1, distinct_2
    assert distinct_1(["", "  "]).score == 0.0 and distinct_2(["a", "b"]).score == 0.0
    assert distinct_2(["a b", "b a"]).score == 100.0  # bigrams never cross hypotheses
    assert distinct_1(["a A a"]).extra == {"distinct": 2, "total": 3}  # case-sensitive
    with pytest.raises(ValueError):
        distinct_1([])
