"""Tests for mtseq2seq.label_metrics: hand-worked cases, scikit-learn and seqeval parity, lookup by name."""
import random
import warnings

import pytest
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.metrics import precision_score as seqeval_precision
from seqeval.metrics import recall_score as seqeval_recall
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import f1_score as sklearn_f1

from mtseq2seq.errors import DataError
from mtseq2seq.label_metrics import iob_spans, label_accuracy, macro_f1, span_f1, word_accuracy
from mtseq2seq.metrics import METRICS, MetricResult, compute

# --- classification -------------------------------------------------------------------------

CLS_REFS = ["a", "a", "b", "c"]
CLS_HYPS = ["a", " b", "b\n", "d"]
# per label (union a b c d): a tp1 pred1 gold2 -> 2/3; b tp1 pred2 gold1 -> 2/3; c 0; d 0
# macro = (2/3 + 2/3) / 4 = 1/3 -> 33.33; accuracy 2/4 -> 50


def test_label_accuracy_hand_worked() -> None:
    result = label_accuracy([" pos", "neg ", "neu", "pos"], ["pos", "neg", "pos", "pos"])
    assert isinstance(result, MetricResult)
    assert (result.name, result.score, result.n) == ("accuracy", 75.0, 4)
    assert result.extra == {"correct": 3, "total": 4}
    assert result.signature.startswith("accuracy|")
    assert label_accuracy(CLS_HYPS, CLS_REFS).score == 50.0


def test_macro_f1_hand_worked() -> None:
    result = macro_f1(CLS_HYPS, CLS_REFS)
    assert result.name == "macro_f1"
    assert result.score == pytest.approx(100 / 3)
    assert result.extra["per_label"] == pytest.approx({"a": 200 / 3, "b": 200 / 3, "c": 0.0, "d": 0.0})
    assert result.extra["labels"] == 4
    assert macro_f1(["x", "y"], ["x", "y"]).score == 100.0


def test_macro_f1_matches_scikit_learn() -> None:
    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(1, 30)
        refs = [rng.choice("abcd") for _ in range(n)]
        hyps = [rng.choice("abcde") for _ in range(n)]
        expected = 100 * sklearn_f1(refs, hyps, average="macro")
        assert macro_f1(hyps, refs).score == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("metric", [label_accuracy, macro_f1])
def test_classification_refuses_bad_input(metric) -> None:
    with pytest.raises(ValueError, match="empty corpus"):
        metric([], [])
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        metric(["a", "b"], ["a"])
    with pytest.raises(DataError, match="line 2"):
        metric(["a", "b"], ["a", "  "])


# --- word accuracy --------------------------------------------------------------------------

def test_word_accuracy_hand_worked() -> None:
    # line 1: 2 of 3 right; line 2: short hyp, B-LOC right, missing position wrong -> 3 of 5
    result = word_accuracy(["O B-PER O", "B-LOC"], ["O B-PER I-PER", "B-LOC O"])
    assert (result.name, result.score, result.n) == ("word_accuracy", 60.0, 2)
    assert result.extra == {"correct": 3, "total": 5, "length_mismatch": 1}


def test_word_accuracy_ignores_extra_hypothesis_labels() -> None:
    result = word_accuracy(["B-LOC O O O", "O"], ["B-LOC O", "B-PER"])
    assert result.score == pytest.approx(200 / 3)  # 2 + 0 right of 3 reference words
    assert result.extra["length_mismatch"] == 1


def test_word_accuracy_refuses_labelless_references() -> None:
    with pytest.raises(DataError, match="no labels"):
        word_accuracy(["O", ""], ["", " "])


# --- span F1: hand-worked -------------------------------------------------------------------

def test_iob_spans_conll_rules() -> None:
    tags = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-PER", "I-LOC", "B-PER"]
    assert iob_spans(tags) == {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("PER", 5, 6),
                               ("LOC", 6, 7), ("PER", 7, 8)}
    assert iob_spans([]) == set() and iob_spans(["O", "O"]) == set()
    with pytest.raises(ValueError, match="not an IOB tag"):
        iob_spans(["B-PER", "E-PER"])


def test_span_f1_hand_worked() -> None:
    refs = ["B-PER I-PER O B-LOC", "O B-ORG"]
    hyps = ["B-PER I-PER O B-PER", "O B-ORG"]
    # gold PER(0,2) LOC(3,4) ORG(1,2); predicted PER(0,2) PER(3,4) ORG(1,2): 2 of 3 each way
    result = span_f1(hyps, refs)
    assert (result.name, result.n) == ("span_f1", 2)
    assert result.score == pytest.approx(200 / 3)
    assert result.extra["precision"] == pytest.approx(200 / 3)
    assert result.extra["recall"] == pytest.approx(200 / 3)
    assert (result.extra["matched"], result.extra["hyp_spans"], result.extra["gold_spans"]) == (2, 3, 3)
    assert result.extra["per_type"] == pytest.approx({"LOC": 0.0, "ORG": 100.0, "PER": 200 / 3})


def test_span_f1_pads_and_cuts_hypotheses_with_o() -> None:
    # padded: B-PER O O gives PER(0,1), not the gold PER(0,2)
    short = span_f1(["B-PER"], ["B-PER I-PER O"])
    assert (short.score, short.extra["hyp_spans"], short.extra["length_mismatch"]) == (0.0, 1, 1)
    # cut: the extra B-LOC is dropped, leaving exactly the gold chunk
    long = span_f1(["B-PER I-PER O B-LOC"], ["B-PER I-PER O"])
    assert (long.score, long.extra["hyp_spans"]) == (100.0, 1)
    # cut mid-chunk: the chunk ends at the reference's last word
    assert span_f1(["O B-LOC I-LOC"], ["O B-LOC"]).score == 100.0


def test_span_f1_reads_non_iob_hypothesis_tags_as_o() -> None:
    result = span_f1(["B-PER E-PER O", "PER"], ["B-PER O O", "O"])
    assert result.score == 100.0 and result.extra["hyp_spans"] == 1


def test_span_f1_refuses_bad_references() -> None:
    with pytest.raises(DataError, match="line 2.*'S-LOC'"):
        span_f1(["O", "O"], ["O", "S-LOC"])
    with pytest.raises(DataError, match="'B-'"):
        span_f1(["O"], ["B-"])
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        span_f1(["O"], ["O", "O"])


def test_span_f1_without_any_chunk_is_zero() -> None:
    result = span_f1(["O O", ""], ["O O", ""])
    assert (result.score, result.extra["precision"], result.extra["recall"]) == (0.0, 0.0, 0.0)


# --- span F1: seqeval parity ----------------------------------------------------------------

# Reference / hypothesis pairs of equal length covering the chunking boundary cases.
BOUNDARY = [
    # B after I of another type; span ending at the sentence end
    ("B-PER I-PER B-LOC I-LOC", "B-PER I-PER B-LOC I-LOC"),
    # I without B at sentence start, and after O
    ("I-PER I-PER O I-LOC", "B-PER I-PER O B-LOC"),
    # I-Y right after I-X
    ("B-PER I-PER I-LOC I-LOC O", "B-PER I-PER B-LOC I-LOC O"),
    # single-token spans, B-X right after B-X
    ("B-PER B-PER O B-LOC", "B-PER O B-LOC B-LOC"),
    # all O (no chunk on either side), and an empty sentence
    ("O O O", "O O O"),
    ("", ""),
    # predicted chunk where gold has none, and the reverse
    ("O O B-LOC", "B-PER O O"),
    ("I-LOC B-LOC I-PER", "I-LOC I-LOC I-LOC"),
]


def _seqeval(hyps: list[list[str]], refs: list[list[str]]) -> tuple[float, float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns when a side has no chunk at all
        return (seqeval_f1(refs, hyps), seqeval_precision(refs, hyps), seqeval_recall(refs, hyps))


def _assert_matches_seqeval(hyps: list[str], refs: list[str]) -> None:
    ours = span_f1(hyps, refs)
    f1, precision, recall = _seqeval([h.split() for h in hyps], [r.split() for r in refs])
    assert ours.score == pytest.approx(100 * f1, abs=1e-9)
    assert ours.extra["precision"] == pytest.approx(100 * precision, abs=1e-9)
    assert ours.extra["recall"] == pytest.approx(100 * recall, abs=1e-9)


def test_span_f1_matches_seqeval_on_boundary_cases() -> None:
    hyps = [hyp for hyp, _ in BOUNDARY]
    refs = [ref for _, ref in BOUNDARY]
    _assert_matches_seqeval(hyps, refs)
    result = span_f1(hyps, refs)
    assert 0.0 < result.score < 100.0  # the sample is neither trivially right nor all wrong
    for hyp, ref in BOUNDARY:
        if hyp.split() or ref.split():
            _assert_matches_seqeval([hyp], [ref])


def test_iob_spans_match_seqeval_chunks() -> None:
    for hyp, ref in BOUNDARY:
        for tags in (hyp.split(), ref.split()):
            expected = {(kind, start, end + 1) for kind, start, end in get_entities(tags)}
            assert iob_spans(tags) == expected


TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _random_line(rng: random.Random, length: int) -> str:
    return " ".join(rng.choice(TAGS) for _ in range(length))


def test_span_f1_matches_seqeval_on_random_sequences() -> None:
    rng = random.Random(20240514)
    hyps, refs = [], []
    for _ in range(400):
        length = rng.randint(1, 12)
        hyps.append(_random_line(rng, length))
        refs.append(_random_line(rng, length))
    for start in range(0, len(hyps), 8):  # many small corpora ...
        _assert_matches_seqeval(hyps[start:start + 8], refs[start:start + 8])
    _assert_matches_seqeval(hyps, refs)  # ... and the whole one
    for tags in (line.split() for line in hyps + refs):
        assert iob_spans(tags) == {(k, s, e + 1) for k, s, e in get_entities(tags)}
    assert 20.0 < span_f1(hyps, refs).score < 80.0  # random tags agree sometimes, not always


# --- registration ---------------------------------------------------------------------------

def test_label_metrics_are_registered_and_computed_by_name() -> None:
    for name in ("accuracy", "macro_f1", "word_accuracy", "span_f1"):
        assert name in METRICS
    assert compute("accuracy", ["a", "b"], ["a", "c"]).score == 50.0
    assert compute("macro_f1", CLS_HYPS, CLS_REFS).score == pytest.approx(100 / 3)
    assert compute("word_accuracy", ["O B-PER"], ["O B-LOC"], sources=["x y"]).score == 50.0
    result = compute("span_f1", ["B-PER I-PER O B-PER"], ["B-PER I-PER O B-LOC"])
    assert (result.name, result.score) == ("span_f1", 50.0)
