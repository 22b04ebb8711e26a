"""Tests for mtseq2seq.evalb: EVALB (COLLINS.prm) tree F1, one hand-worked test per rule.

Brackets are written label(start,end) over the positions left after deletion, end exclusive.
F1 = 2 * matched / (gold + predicted), which is 2PR / (P + R).
"""
import pytest

from mtseq2seq import evalb
from mtseq2seq.data.ptb import convert_text
from mtseq2seq.metrics import compute, tree_f1, tree_f1_len40, tree_f1_strict
from mtseq2seq.trees import parse_linearized


def both(hyps, golds, sentences):
    """(EVALB score, strict score) of one corpus."""
    return tree_f1(hyps, golds, sentences).score, tree_f1_strict(hyps, golds, sentences).score


def test_top_root_is_not_counted_but_an_s_root_is():
    # gold S(0,2) NP(0,1) VP(1,2); the hypothesis adds TOP(0,2) above it.
    # EVALB: TOP deleted -> 3/3/3 -> 100. Strict: hyp 4, gold 3, matched 3 -> 6/7.
    gold = "(S (NP XX )NP (VP XX )VP )S"
    assert both(["(TOP " + gold + " )TOP"], [gold], ["he ran"]) == pytest.approx((100, 600 / 7))
    # a gold TOP root (several top-level constituents): gold NP VP (2), hyp S NP VP (3), matched 2
    # -> EVALB 4/5 = 80; strict counts gold TOP(0,2) too: 4/6
    top_gold = "(TOP (NP XX )NP (VP XX )VP )TOP"
    assert both([gold], [top_gold], ["he ran"]) == pytest.approx((80, 200 / 3))
    # repair wraps two top-level constituents in TOP, which EVALB then ignores: hyp NP VP (2),
    # gold S NP VP (3), matched 2 -> 80
    assert tree_f1(["(NP XX )NP (VP XX )VP"], [gold], ["he ran"]).score == pytest.approx(80)


def test_punctuation_is_deleted():
    # "He ran ." : the period is deleted, so gold S(0,2) NP(0,1) VP(1,2) and the hypothesis that
    # puts the period inside the VP, VP(1,3) before deletion, has VP(1,2) too -> 100.
    # Strict: hyp VP(1,3) vs gold VP(1,2), matched 2 of 3 and 3 -> 4/6.
    gold = "(S (NP XX )NP (VP XX )VP XX )S"
    assert both(["(S (NP XX )NP (VP XX XX )VP )S"], [gold], ["He ran ."]) == \
        pytest.approx((100, 200 / 3))
    # a bracket over punctuation alone covers nothing after deletion and is not counted:
    # EVALB 3/3/3 -> 100; strict hyp S NP VP NP(2,3), 3 of 4 and 3 -> 6/7
    assert both(["(S (NP XX )NP (VP XX )VP (NP XX )NP )S"], [gold], ["He ran ."]) == \
        pytest.approx((100, 600 / 7))


def test_punctuation_from_keep_punct_tags_and_only_collins_tags():
    # --keep-punct data: the tag decides. -LRB- and -RRB- are not in COLLINS.prm's list and stay:
    # gold S(0,4) NP(0,1) VP(2,3); hyp S(0,4) NP(0,2) VP(2,4); matched 1 -> 2/6
    gold = "(S (NP XX )NP -LRB- (VP XX )VP -RRB- )S"
    hyp = "(S (NP XX -LRB- )NP (VP XX -RRB- )VP )S"
    assert tree_f1([hyp], [gold], ["He -LRB- ran -RRB-"]).score == pytest.approx(100 / 3)
    # the tag overrides the word: a ' tagged '' goes, a ' under XX (the possessive) stays
    assert evalb.punctuation(["XX", "''"], ["investors", "'"]) == [False, True]
    assert evalb.punctuation(["XX", "XX"], ["investors", "'"]) == [False, False]


def test_punctuation_from_words_without_tags():
    words = "`` soft ' landing ' -- right ; said investors ' man , -LRB- $ 5 -RRB- ? ''".split()
    # deleted: `` -- ; , ? ''. Kept: the words, -LRB- -RRB- $ (not COLLINS.prm's), and every '
    # (no single quote ` is open before them, so they are read as possessives)
    expected = [True, False, False, False, False, True, False, True, False, False, False, False,
                True, False, False, False, False, True, True]
    assert evalb.punctuation(["XX"] * len(words), words) == expected
    # a ' after an unclosed ` is the closing quote (tag ''); the next ' is a possessive again
    words = "` soft landing ' investors ' stake".split()
    assert evalb.punctuation(["XX"] * 7, words) == [True, False, False, True, False, False, False]


def test_advp_and_prt_are_the_same_label():
    # gold S NP VP PRT(2,3), hyp S NP VP ADVP(2,3): EVALB 4/4/4 -> 100; strict 3 of 4 -> 75
    gold = "(S (NP XX )NP (VP XX (PRT XX )PRT )VP )S"
    hyp = "(S (NP XX )NP (VP XX (ADVP XX )ADVP )VP )S"
    assert both([hyp], [gold], ["he gave up"]) == pytest.approx((100, 75))
    assert both([gold], [hyp], ["he gave up"]) == pytest.approx((100, 75))  # both ways


def test_function_tags_are_stripped_on_both_sides():
    # gold NP-SBJ and NP=2, hyp NP and NP-OBJ-1: all four become NP, so EVALB 4/4/4 -> 100;
    # strict matches only S and VP: 2 of 4 and 4 -> 50
    gold = "(S (NP-SBJ XX )NP-SBJ (VP XX (NP=2 XX )NP=2 )VP )S"
    hyp = "(S (NP XX )NP (VP XX (NP-OBJ-1 XX )NP-OBJ-1 )VP )S"
    assert both([hyp], [gold], ["she reads books"]) == pytest.approx((100, 50))
    assert [evalb.evalb_label(label) for label in ("NP-SBJ-1", "PP=2", "PRT-1", "S", "-NONE-")] \
        == ["NP", "PP", "ADVP", "S", "-NONE-"]


def test_none_elements_are_removed():
    # words "*-1 left 0 ." : the two traces are under -NONE-, the period is punctuation, so only
    # "left" is kept, and the sentence is 2 words long (traces do not count, punctuation does)
    gold = "(S (NP (-NONE- XX )-NONE- )NP (VP XX (SBAR (-NONE- XX )-NONE- )SBAR )VP XX )S"
    words = "*-1 left 0 .".split()
    assert evalb.kept_positions(parse_linearized(gold), words) == ([False, True, False, False], 2)
    # gold: NP and SBAR dominate only traces, -NONE- never counts -> S(0,1) VP(0,1)
    # hyp: NP over the trace is empty; its -NONE- over "left" is not counted -> S(0,1) VP(0,1)
    hyp = "(S (NP XX )NP (VP (-NONE- XX )-NONE- XX )VP XX )S"
    result = tree_f1([hyp], [gold], [" ".join(words)])
    assert result.score == 100 and result.extra["gold_spans"] == result.extra["hyp_spans"] == 2
    # strict, over all 4 positions: gold S(0,4) NP(0,1) -NONE-(0,1) VP(1,3) SBAR(2,3) -NONE-(2,3)
    # = 6; hyp S(0,4) NP(0,1) VP(1,3) -NONE-(1,2) = 4; matched 3 -> 6/10
    assert tree_f1_strict([hyp], [gold], [" ".join(words)]).score == pytest.approx(60)


def test_len40_and_all_summaries():
    # A: 40 words and a period = 41 tokens, longer than 40 since punctuation counts for length
    #    (COLLINS.prm deletes only -NONE- for length); gold S(0,40) NP(0,1) VP(1,40), flat hyp
    #    S(0,40): matched 1, hyp 1, gold 3.
    # B: 39 words and a period = 40 tokens, in the len<=40 summary; hyp = gold: 3, 3, 3.
    # all: matched 4, hyp 4, gold 6 -> P 100, R 66.67, F1 8/10 = 80; len<=40: B only -> 100
    golds = [f"(S (NP XX )NP (VP{' XX' * 39} )VP XX )S", f"(S (NP XX )NP (VP{' XX' * 38} )VP XX )S"]
    hyps = ["(S" + " XX" * 41 + " )S", golds[1]]
    sentences = [" ".join(["w"] * 40 + ["."]), " ".join(["w"] * 39 + ["."])]
    result = tree_f1(hyps, golds, sentences)
    assert result.score == pytest.approx(80)
    assert (result.extra["precision"], result.extra["recall"]) == pytest.approx((100, 200 / 3))
    assert result.extra["sentences"] == 2 and result.extra["sentences_len40"] == 1
    assert result.extra["tree_f1_len40"] == 100 and result.extra["complete_match"] == 50
    short = tree_f1_len40(hyps, golds, sentences)
    assert short.name == "tree_f1_len40" and short.score == 100 and short.n == 2
    assert "summary:len<=40" in short.signature and "summary:all" in result.signature
    assert result.signature.startswith("tree_f1|evalb:COLLINS.prm|")


def test_identical_hypothesis_with_keep_punct_data_scores_100():
    # The repair bug: with --keep-punct the tree holds "." where the period's XX would be. repair
    # used to drop it, put_words_back then appended the freed "." to the last constituent, the
    # VP: VP(1,3) against VP(1,2), 2 of 3 brackets, F1 66.67. Now "." is a leaf symbol.
    gold = "(S (NP XX )NP (VP XX )VP . )S"
    assert both([gold], [gold], ["He ran ."]) == (100, 100)
    # a real treebank sentence through data.ptb (commas, a period, a trace, function tags)
    mrg = ("( (S (NP-SBJ (NNP Pierre) (, ,) (NP (CD 61) (NNS years) (JJ old)) (, ,)) (VP (VBD said)"
           " (SBAR (-NONE- 0) (S (-NONE- *T*-1)))) (. .)) )")
    (_, example), = convert_text(mrg, keep_punct=True)
    assert example.tree == "(S (NP XX , (NP XX XX XX )NP , )NP (VP XX )VP . )S"
    assert both([example.tree], [example.tree], [" ".join(example.words)]) == (100, 100)
    # a malformed keep-punct hypothesis is repaired without losing its punctuation
    result = tree_f1(["(S (NP XX ) , (VP XX ) ."], ["(S (NP XX )NP , (VP XX )VP . )S"], ["He , ran ."])
    assert result.score == 100 and result.extra["well_formed"] == 0


def test_repeated_brackets_match_as_multisets():
    # gold NP(0,1) twice, hyp NP(0,1) three times: matched 2 -> P 2/3, R 1, F1 4/5
    result = tree_f1(["(NP (NP (NP XX )NP )NP )NP"], ["(NP (NP XX )NP )NP"], ["dogs"])
    assert result.score == pytest.approx(80) and result.extra["matched"] == 2


def test_sentence_of_punctuation_only_is_skipped():
    # "..." alone keeps no word: skipped, as EVALB skips it; the other sentence scores 3/3/3
    hyps = ["(NP XX )NP", "(S (NP XX )NP (VP XX )VP )S"]
    golds = ["(S XX )S", "(S (NP XX )NP (VP XX )VP )S"]
    result = compute("tree_f1", hyps, golds, ["...", "he ran"])
    assert result.score == 100 and result.extra["skipped"] == 1 and result.extra["sentences"] == 1
    # the strict score counts it: hyp NP(0,1) against gold S(0,1), matched 3 of 4 and 4 -> 75
    assert compute("tree_f1_strict", hyps, golds, ["...", "he ran"]).score == 75


def test_reference_whose_leaves_are_not_the_sentence_is_an_error_sentence(caplog):
    # line 2's gold has 2 leaves for 3 words: EVALB counts it as an error sentence and scores
    # the rest; line 1 alone: S(0,1) against S(0,1), 100
    result = tree_f1(["(S XX )S", "(S XX XX )S"], ["(S XX )S", "(S XX XX )S"], ["a", "a b c"])
    assert result.score == 100 and result.extra["error_sentences"] == 1
    assert "(lines 2) are left out" in caplog.text
