"""Tests for mtseq2seq.trees: parsing, linearizing, repair (property-based), words back, spans."""
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtseq2seq.trees import (
    LEAF_SYMBOLS,
    Tree,
    hypothesis_tree,
    is_well_formed,
    linearize,
    parse_linearized,
    put_words_back,
    repair,
    spans,
)

GOLD = "(S (NP XX XX )NP (VP XX (NP XX XX )NP )VP )S"

# Brackets that match and mismatch, bare closers, leaves (XX and the punctuation tags of
# ptb.py --keep-punct), and junk the model might emit.
ALPHABET = ["(S", "(NP", "(VP", ")S", ")NP", ")VP", ")PP", ")", "XX", "XX", ".", ",", "word", "(",
            ")(", "<unk>", "(NP)", ""]


def test_parse_and_linearize_round_trip():
    tree = parse_linearized(GOLD)
    assert tree.label == "S"
    assert [c.label for c in tree.children] == ["NP", "VP"]
    assert linearize(tree) == GOLD
    assert parse_linearized(GOLD.split()) == tree


def test_linearize_with_words_and_bare_closers():
    tree = parse_linearized("(S (NP the cat ) (VP sat ) )")
    assert linearize(tree, words=True) == "(S (NP the cat )NP (VP sat )VP )S"
    assert linearize(tree) == "(S (NP XX XX )NP (VP XX )VP )S"
    assert tree.leaves() == ["the", "cat", "sat"]


@pytest.mark.parametrize("line", [
    "(S (NP XX )NP", "(S XX )NP", "XX", "(S XX )S (S XX )S", "(S XX )S )S", "", "(S XX ( )S",
])
def test_malformed_is_rejected(line):
    assert not is_well_formed(line.split())
    with pytest.raises(ValueError):
        parse_linearized(line)


def test_well_formed_variants():
    assert is_well_formed(GOLD.split())
    assert is_well_formed("(S (NP XX ) XX )".split())          # bare closers
    assert is_well_formed("(S (VP )VP XX )S".split())           # empty constituent
    assert not is_well_formed("(S the cat )S".split())
    assert not is_well_formed("(S XX <unk> )S".split())          # parses, but a leaf is not XX
    assert is_well_formed("(S the cat )S".split(), allow_words=True)


@pytest.mark.parametrize("line, repaired", [
    # unclosed brackets are closed at the end
    ("(S (NP XX XX", "(S (NP XX XX )NP )S"),
    # a closer for an outer label also closes the constituents opened inside it
    ("(S (NP XX (VP XX )S", "(S (NP XX (VP XX )VP )NP )S"),
    # a closer whose label is not open anywhere is dropped; so is one when nothing is open
    ("(S (NP XX )VP XX )S )NP", "(S (NP XX XX )NP )S"),
    # bare closers become labeled ones; junk and real words are dropped
    ("(S <unk> (NP XX the ) XX )", "(S (NP XX )NP XX )S"),
    # several top-level constituents (or stray leaves) are wrapped in a root
    ("(NP XX )NP (VP XX )VP", "(TOP (NP XX )NP (VP XX )VP )TOP"),
    ("XX XX", "(TOP XX XX )TOP"),
    ("", "(TOP )TOP"),
    (")S )", "(TOP )TOP"),
])
def test_repair_examples(line, repaired):
    assert " ".join(repair(line.split())) == repaired


def test_punctuation_tags_are_leaves():
    # ptb.py --keep-punct writes a punctuation word's tag where other words have XX
    line = "(S (NP XX )NP (VP XX )VP . )S"
    assert is_well_formed(line.split())
    assert repair(line) == line.split()
    # repair keeps them in place (3 + 2 leaves in, the same 5 out) and still drops real words
    assert " ".join(repair("(S (NP XX ) , (VP XX -LRB- word )VP .")) == \
        "(S (NP XX )NP , (VP XX -LRB- )VP . )S"
    assert not is_well_formed("(S XX word )S".split())


def test_hypothesis_tree_keeps_punctuation_aligned():
    # the unclosed S is repaired with its "." kept, so 3 leaves meet 3 words and nothing moves
    predicted = hypothesis_tree("(S (NP XX ) (VP XX ) .", "He ran .".split())
    assert not predicted.well_formed and predicted.leaves == 3
    assert linearize(predicted.tree, words=True) == "(S (NP He )NP (VP ran )VP . )S"
    predicted = hypothesis_tree("(S XX XX )S", "He ran .")
    assert predicted.well_formed and predicted.leaves == 2
    assert linearize(predicted.tree, words=True) == "(S He ran . )S"


def test_repair_keeps_well_formed_input():
    assert repair(GOLD.split()) == GOLD.split()
    assert repair("(S (NP XX ) )") == "(S (NP XX )NP )S".split()
    assert repair("XX", root_label="ROOT") == "(ROOT XX )ROOT".split()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=40))
def test_repair_is_always_well_formed(tokens):
    repaired = repair(tokens)
    assert is_well_formed(repaired)
    assert repaired.count("XX") == tokens.count("XX")  # repair never invents or loses a leaf
    assert [t for t in repaired if t in LEAF_SYMBOLS] == [t for t in tokens if t in LEAF_SYMBOLS]
    assert repair(repaired) == repaired                 # idempotent


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=30),
       st.lists(st.sampled_from(["a", "b", "c"]), max_size=8))
def test_words_back_always_gives_the_sentence(tokens, words):
    assert put_words_back(repair(tokens), words).leaves() == words


def test_put_words_back_exact():
    tree = put_words_back(GOLD, "the cat sat on mats".split())
    assert linearize(tree, words=True) == "(S (NP the cat )NP (VP sat (NP on mats )NP )VP )S"


def test_put_words_back_too_few_leaves_appends_to_last_constituent():
    # the deepest constituent on the right spine is the inner NP
    tree = put_words_back(GOLD, "a b c d e f g".split())
    assert linearize(tree, words=True) == "(S (NP a b )NP (VP c (NP d e f g )NP )VP )S"
    # here the right spine stops at S, whose last child is a leaf
    tree = put_words_back("(S (NP XX )NP XX )S", "a b c".split())
    assert linearize(tree, words=True) == "(S (NP a )NP b c )S"
    # an empty constituent at the end receives the words
    tree = put_words_back("(S (NP XX )NP (VP )VP )S", "a b".split())
    assert linearize(tree, words=True) == "(S (NP a )NP (VP b )VP )S"


def test_put_words_back_too_many_leaves_drops_from_the_end():
    tree = put_words_back(GOLD, "the cat sat".split())
    assert linearize(tree, words=True) == "(S (NP the cat )NP (VP sat (NP )NP )VP )S"
    # the emptied NP spans nothing and is not a bracket any more
    assert spans(tree) == Counter({("S", 0, 3): 1, ("NP", 0, 2): 1, ("VP", 2, 3): 1})


def test_put_words_back_rejects_malformed():
    with pytest.raises(ValueError):
        put_words_back("(S XX", ["a"])


def test_spans_gold():
    assert spans(parse_linearized(GOLD)) == Counter(
        {("S", 0, 5): 1, ("NP", 0, 2): 1, ("VP", 2, 5): 1, ("NP", 3, 5): 1})


def test_spans_unary_chain_counts_twice():
    assert spans(parse_linearized("(NP (NP XX )NP )NP")) == Counter({("NP", 0, 1): 2})


def test_deep_nesting_does_not_recurse():
    depth = 5000
    tokens = ["(NP"] * depth + ["XX"]
    repaired = repair(tokens)
    assert len(repaired) == 2 * depth + 1
    assert len(spans(put_words_back(repaired, ["w"]))) == 1  # all 5000 brackets share one span
    assert str(Tree("S", ["w"])) == "(S w )S"
