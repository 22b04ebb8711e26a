"""Tests of the toy corpus generator (mtseq2seq.toydata) and its CLI (data_scripts/make_toy_data.py)."""
from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mtseq2seq.errors import UserError
from mtseq2seq.toydata import (
    DEFAULT_SIZES,
    FORMAT_VERSION,
    LABELS,
    MANIFEST_NAME,
    POS_TAGS,
    SENTENCE_TYPES,
    SLOTS,
    SPLITS,
    Grammar,
    GrammarProbabilities,
    Node,
    build_lexicon,
    french,
    generate,
    german,
    is_current,
    lexicon,
    linearize,
    sample_splits,
    sentence_type,
    writer,
)

SMALL = {"train": 300, "valid": 50, "test": 50}
SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "make_toy_data.py"
# sha256 of each file of generate(out, seed=1, sizes={"train": 200, "valid": 50, "test": 50}), computed
# with the generator as it was before .pos and .stype were added (FORMAT_VERSION 1): those four slots
# feed the quickstart's published scores and must never change.
PUBLISHED_SHA256 = {
    "train.en": "9ffa91890621e8157ede856fb4a37d084f965590cdcfce6825cf02394e13cfbf",
    "train.de": "35795ad6eba214d6561019f865b429d2789da4af5d964ea9441583abcf9173d6",
    "train.fr": "58801e5fc5d34f492a0ad973048386377017e439f970102e7c619547dd8f36e2",
    "train.parse": "f783783a973a195fcb7e7b64df3ad3d26fb16434dd6ba56a44897004a42d42e0",
    "valid.en": "bb3adbedb423439c7ffe2d4d60f3b1dc5e648220b0c8733fef832f0a39de7ac7",
    "valid.de": "d26da6c62c4f04a626acfa056bda1bf236472031d4410340475ea79cd9d1939d",
    "valid.fr": "9e15e3bf9c9802b13ea7faeb7800d9195f7b543e8e6a7fb8f27f730a730af6f0",
    "valid.parse": "7b37da0f8899d92825a60589ff5b4ba058561e3f00d14083c78591fe893c978f",
    "test.en": "63cdde271069ddece2df1566e5df1aff87c04e1931dbc0c489f6fd90228a2fec",
    "test.de": "65f99e7350bf2660d5f1a2b69db744cc63d276009f607f23cbfc65c55b3248f6",
    "test.fr": "0203e8c37de82a5ca10d9d80a2b899ac56f59e3416e79b17dfcb022d8047cc3c",
    "test.parse": "059dceaf2bae8e1d5ca2eed036d0ca0c02fbb7a558925d2eab40fa0a5b8b2347",
}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy")
    generate(out, seed=1, sizes=SMALL)
    return out


@pytest.fixture(scope="module")
def trees() -> list[Node]:
    splits = sample_splits(7, {"train": 2000, "valid": 0, "test": 0})
    return [example.tree for example in splits["train"]]


def read_lines(directory: Path, split: str, slot: str) -> list[str]:
    return (directory / f"{split}.{slot}").read_text(encoding="utf-8").splitlines()


def contains_run(tokens: list[str], run: list[str]) -> bool:
    return any(tokens[i:i + len(run)] == run for i in range(len(tokens) - len(run) + 1))


def noun_phrases_with_case(node: Node, case: str = "nom"):
    """Yield (simple NP, case) from the tree's own structure: subject nom, object acc, after PREP dat."""
    if node.label == "NP" and not node.is_coordination():
        yield node, case
    for child in node.child_nodes():
        if child.label == "NP":
            child_case = {"S": "nom", "VP": "acc", "PP": "dat"}.get(node.label, case)
            yield from noun_phrases_with_case(child, child_case)
        else:
            yield from noun_phrases_with_case(child, case)


# --- determinism, files, manifest ------------------------------------------------------------------

def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path, corpus_dir: Path) -> None:
    generate(tmp_path / "again", seed=1, sizes=SMALL)
    generate(tmp_path / "other", seed=2, sizes=SMALL)
    names = [f"{split}.{slot}" for split in SPLITS for slot in SLOTS] + [MANIFEST_NAME]
    names += [f"{split}.img.npy" for split in SPLITS]  # image features: test_toydata_modalities.py
    for name in names:
        assert (tmp_path / "again" / name).read_bytes() == (corpus_dir / name).read_bytes(), name
    assert (tmp_path / "other" / "train.en").read_bytes() != (corpus_dir / "train.en").read_bytes()


def test_splits_are_line_aligned_and_sized(corpus_dir: Path) -> None:
    for split in SPLITS:
        for slot in SLOTS:
            assert len(read_lines(corpus_dir, split, slot)) == SMALL[split], (split, slot)


def test_held_out_sentences_never_in_train_and_no_duplicates(corpus_dir: Path) -> None:
    sentences = {split: read_lines(corpus_dir, split, "en") for split in SPLITS}
    for split, lines in sentences.items():
        assert len(set(lines)) == len(lines), split
    assert not set(sentences["valid"]) & set(sentences["train"])
    assert not set(sentences["test"]) & set(sentences["train"])
    assert not set(sentences["test"]) & set(sentences["valid"])


def test_manifest_is_written_last_and_describes_the_corpus(corpus_dir: Path) -> None:
    manifest = json.loads((corpus_dir / MANIFEST_NAME).read_text())
    assert manifest["seed"] == 1 and manifest["sizes"] == SMALL and manifest["version"] >= 1
    assert manifest["files"]["valid.parse"]["lines"] == SMALL["valid"]
    assert is_current(corpus_dir, seed=1, sizes=SMALL)
    assert not is_current(corpus_dir, seed=2, sizes=SMALL)
    assert not is_current(corpus_dir, seed=1, sizes={**SMALL, "train": 301})
    assert not list(corpus_dir.glob("*.tmp")) and not list(corpus_dir.glob(".*.tmp"))


def test_published_slots_are_byte_identical_to_format_version_1(tmp_path: Path) -> None:
    manifest = generate(tmp_path, seed=1, sizes={"train": 200, "valid": 50, "test": 50})
    for name, digest in PUBLISHED_SHA256.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name
        assert manifest["files"][name]["sha256"] == digest, name


def test_manifest_lists_the_label_files_and_an_older_version_is_not_current(corpus_dir: Path,
                                                                           tmp_path: Path) -> None:
    manifest = json.loads((corpus_dir / MANIFEST_NAME).read_text())
    assert manifest["version"] == FORMAT_VERSION >= 2 and manifest["slots"] == list(SLOTS)
    assert {"pos", "stype"} <= set(SLOTS) and manifest["files"]["test.stype"]["lines"] == SMALL["test"]
    generate(tmp_path, seed=1, sizes=SMALL)
    older = {**json.loads((tmp_path / MANIFEST_NAME).read_text()), "version": 1}
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(older))
    assert not is_current(tmp_path, seed=1, sizes=SMALL, check_hashes=False)


def test_crash_midway_leaves_no_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate(tmp_path, seed=1, sizes=SMALL)
    real_write, calls = writer._write_lines, []

    def crash_after_three(path, lines):
        calls.append(path)
        if len(calls) > 3:
            raise OSError("disk full")
        return real_write(path, lines)

    monkeypatch.setattr(writer, "_write_lines", crash_after_three)
    with pytest.raises(OSError):
        generate(tmp_path, seed=2, sizes=SMALL)
    assert not (tmp_path / MANIFEST_NAME).exists()
    assert not is_current(tmp_path, seed=1, sizes=SMALL) and not is_current(tmp_path, seed=2, sizes=SMALL)
    # A modified file is noticed too.
    monkeypatch.undo()
    generate(tmp_path, seed=1, sizes=SMALL)
    (tmp_path / "test.de").write_text("tampered\n")
    assert not is_current(tmp_path, seed=1, sizes=SMALL)


def test_bad_sizes_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="did you mean 'valid'"):
        generate(tmp_path, sizes={"vaild": 10})
    with pytest.raises(UserError, match="non-negative"):
        generate(tmp_path, sizes={"train": -1})


# --- sentences and trees ---------------------------------------------------------------------------

def test_parse_lines_are_balanced_and_mask_every_word(corpus_dir: Path) -> None:
    for split in SPLITS:
        pairs = zip(read_lines(corpus_dir, split, "en"), read_lines(corpus_dir, split, "parse"))
        for sentence, parse in pairs:
            tokens = parse.split(" ")
            assert "" not in tokens
            assert tokens.count("XX") == len(sentence.split(" "))
            stack: list[str] = []
            for token in tokens:
                if token.startswith("("):
                    assert token[1:] in LABELS
                    stack.append(token[1:])
                elif token.startswith(")"):
                    assert stack and stack.pop() == token[1:], parse
                else:
                    assert token == "XX" and stack, parse
            assert not stack and tokens[0] == "(S" and tokens[-1] == ")S"


def test_sentences_are_lowercase_single_spaced_and_within_length(corpus_dir: Path) -> None:
    for split in SPLITS:
        for slot in ("en", "de", "fr"):
            for line in read_lines(corpus_dir, split, slot):
                assert line == line.lower() and line == " ".join(line.split())
                assert 3 <= len(line.split(" ")) <= 30


def test_default_size_corpus_is_fast_varied_and_moderately_long(tmp_path: Path) -> None:
    start = time.perf_counter()
    generate(tmp_path, seed=1)
    assert time.perf_counter() - start < 10
    train = read_lines(tmp_path, "train", "en")
    assert len(train) == DEFAULT_SIZES["train"]
    assert len({word for line in train for word in line.split()}) >= 150
    assert 7 <= sum(len(line.split()) for line in train) / len(train) <= 12


def test_nesting_occurs(trees: list[Node]) -> None:
    def count(predicate) -> int:
        return sum(any(predicate(node) for node in tree.subtrees()) for tree in trees)

    assert count(lambda n: n.label == "SBAR") > 100
    assert count(lambda n: n.label == "SBAR" and n.child_nodes("S")[0].child_nodes("NP")) > 20  # object gap
    assert count(lambda n: n.label == "PP") > 100
    assert count(lambda n: n.label == "NP" and n.is_coordination()) > 20
    assert count(lambda n: n.label == "VP" and n.is_coordination()) > 20
    assert count(lambda n: n.label == "SBAR" and any(m.label == "SBAR" for m in list(n.subtrees())[1:])) > 0


def test_every_sentence_has_one_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same string, same tree: otherwise parsing could not reach 100 BLEU. Tiny vocabulary, heavy nesting."""
    for name, words in [("NOUNS", ("dog", "cat")), ("ADJECTIVES", ("big", "red")),
                        ("TRANSITIVE_VERBS", ("saw",)), ("INTRANSITIVE_VERBS", ("slept",)),
                        ("NOUN_PREPOSITIONS", ("with",)), ("VERB_PREPOSITIONS", ("in",))]:
        monkeypatch.setattr(lexicon, name, words)
    probs = GrammarProbabilities(np_modifier_at_root=0.6, np_coordination_at_root=0.3, vp_pp_at_root=0.5,
                                 vp_coordination_at_root=0.3, decay=0.8, max_words=12, adjective=0.1)
    grammar, parses = Grammar(random.Random(0), probs), {}
    for _ in range(20000):
        tree = grammar.sentence()
        assert parses.setdefault(tree.text(), linearize(tree)) == linearize(tree), tree.text()
    assert len(parses) < 15000  # many strings really were drawn more than once


# --- labels (.pos, .stype) -------------------------------------------------------------------------

def test_every_english_word_gets_the_tag_of_its_lexicon_category(corpus_dir: Path) -> None:
    category = {word: tag for tag, words in [
        ("NOUN", lexicon.NOUNS), ("ADJ", lexicon.ADJECTIVES), ("VERB", lexicon.TRANSITIVE_VERBS),
        ("VERB", lexicon.INTRANSITIVE_VERBS), ("PREP", lexicon.NOUN_PREPOSITIONS + lexicon.VERB_PREPOSITIONS),
        ("DET", (lexicon.DEFINITE, *lexicon.INDEFINITE)), ("CONJ", (lexicon.CONJUNCTION,)),
        ("REL", (lexicon.RELATIVE,))] for word in words}
    seen: set[str] = set()
    for split in SPLITS:
        for sentence, tags in zip(read_lines(corpus_dir, split, "en"), read_lines(corpus_dir, split, "pos")):
            words, tags = sentence.split(" "), tags.split(" ")
            assert len(tags) == len(words), (sentence, tags)
            assert tags == [category[word] for word in words], (sentence, tags)
            seen.update(tags)
    assert seen == set(POS_TAGS)


def test_sentence_types_are_documented_present_and_follow_the_surface_cues(corpus_dir: Path) -> None:
    prepositions = set(lexicon.NOUN_PREPOSITIONS + lexicon.VERB_PREPOSITIONS)
    for split in SPLITS:
        types = read_lines(corpus_dir, split, "stype")
        assert set(types) == set(SENTENCE_TYPES), split  # each class occurs, and nothing else does
        for sentence, label in zip(read_lines(corpus_dir, split, "en"), types):
            words = set(sentence.split(" "))
            expected = ("relative" if "that" in words else "coordination" if "and" in words
                        else "prepositional" if words & prepositions
                        else "transitive" if words & set(lexicon.TRANSITIVE_VERBS) else "intransitive")
            assert label == expected, sentence  # learnable from the English alone


def test_sentence_types_are_reasonably_balanced(trees: list[Node]) -> None:
    counts = {label: 0 for label in SENTENCE_TYPES}
    for tree in trees:
        counts[sentence_type(tree)] += 1
    assert all(0.08 <= count / len(trees) <= 0.35 for count in counts.values()), counts


# --- translations ----------------------------------------------------------------------------------

def test_de_relative_clause_is_verb_final(trees: list[Node]) -> None:
    lex, reordered = build_lexicon(), 0
    for tree in trees:
        full = german.translate(tree).split(" ")
        for np in tree.subtrees():
            for sbar in np.child_nodes("SBAR") if np.label == "NP" else []:
                gender = lex.de_gender[np.child_words("NOUN")[0].text]
                tokens = german.render(sbar, head_gender=gender)
                assert contains_run(full, tokens)
                (vp,) = sbar.child_nodes("S")[0].child_nodes("VP")
                last_vp = vp.child_nodes("VP")[-1] if vp.is_coordination() else vp
                verb = last_vp.child_words("VERB")[0].text
                assert tokens[-1] == lex.de[verb]
                reordered += sbar.words()[-1].text != verb
    assert reordered > 50  # English puts something after the verb; de does not


def test_de_articles_agree_with_case_and_gender(trees: list[Node]) -> None:
    lex, articles = build_lexicon(), {}
    for tree in trees:
        full = german.translate(tree).split(" ")
        for np, case in noun_phrases_with_case(tree):
            tokens = german.render(np, case=case)
            assert contains_run(full, tokens)
            if np.child_words("DET")[0].text == "the":
                articles.setdefault(np.child_words("NOUN")[0].text, {})[case] = tokens[0]
    complete = {noun: by_case for noun, by_case in articles.items() if len(by_case) == 3}
    assert len(complete) > 10
    for noun, by_case in complete.items():
        assert len(set(by_case.values())) == 3, (noun, by_case)  # same noun, different case, different form
    genders = {(lex.de_gender[noun], case, form)
               for noun, by_case in articles.items() for case, form in by_case.items()}
    assert len(genders) == len({(g, c) for g, c, _ in genders}) == 9  # form depends on gender and case only


def test_fr_adjectives_follow_the_noun_and_agree(trees: list[Node]) -> None:
    lex, seen = build_lexicon(), 0
    for tree in trees:
        full = french.translate(tree).split(" ")
        for np, _ in noun_phrases_with_case(tree):
            adjectives = np.child_words("ADJ")
            if not adjectives:
                continue
            noun = np.child_words("NOUN")[0].text
            tokens = french.render(np)
            assert contains_run(full, tokens)
            forms = [french.adjective(a.text, lex.fr_gender[noun]) for a in adjectives]
            assert tokens[1:2 + len(forms)] == [lex.fr[noun]] + forms
            assert all(form.endswith("a") for form in forms) or lex.fr_gender[noun] == "m"
            seen += 1
    assert seen > 100


def test_translations_are_not_copies(corpus_dir: Path) -> None:
    english = {w for line in read_lines(corpus_dir, "train", "en") for w in line.split()}
    for slot in ("de", "fr"):
        words = {w for line in read_lines(corpus_dir, "train", slot) for w in line.split()}
        assert len(words & english) <= 3, slot


# --- CLI -------------------------------------------------------------------------------------------

def test_cli_help() -> None:
    command = [sys.executable, str(SCRIPT), "--help"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "--out" in result.stdout and "--train" in result.stdout and "--seed" in result.stdout
    assert "(.pos)" in result.stdout and "(.stype:" in result.stdout


def test_cli_writes_the_corpus(tmp_path: Path, corpus_dir: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--seed", "1",
               "--train", "300", "--valid", "50", "--test", "50"]
    subprocess.run(command, capture_output=True, text=True, check=True)
    assert is_current(tmp_path, seed=1, sizes=SMALL)
    assert (tmp_path / "train.fr").read_bytes() == (corpus_dir / "train.fr").read_bytes()
