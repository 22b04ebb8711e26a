"""Tests of the toy data for the new modalities: image features (`.img.npy`) and grounded dialogue."""
from __future__ import annotations

import collections
import hashlib
import json
import sys
from pathlib import Path

import pytest

from mtseq2seq.errors import UserError
from mtseq2seq.toydata import (
    DIALOGUE_MANIFEST_NAME,
    DIALOGUE_SLOTS,
    FACT_SEPARATOR,
    IMG_DIM,
    IMG_REGIONS,
    MANIFEST_NAME,
    SPLITS,
    TURN_SEPARATOR,
    generate,
    generate_dialogue,
    is_current,
    is_dialogue_current,
    lexicon,
    sample_splits,
)
from mtseq2seq.toydata import dialogue as dlg
from mtseq2seq.toydata.images import BLOCKS, ROLES, regions, word_vector

np = pytest.importorskip("numpy")

SMALL = {"train": 200, "valid": 40, "test": 40}
DIALOGUE_SMALL = {"train": 600, "valid": 50, "test": 50}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy_img")
    generate(out, seed=1, sizes=SMALL)
    return out


@pytest.fixture(scope="module")
def dialogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy_dialogue")
    generate_dialogue(out, seed=1, sizes=DIALOGUE_SMALL)
    return out


@pytest.fixture(scope="module")
def trees() -> list:
    return [example.tree for example in sample_splits(3, {"train": 1500, "valid": 0, "test": 0})["train"]]


def read_lines(directory: Path, name: str) -> list[str]:
    return (directory / name).read_text(encoding="utf-8").splitlines()


def block(features, name: str):
    start, size = BLOCKS[name]
    return features[..., start:start + size].astype(np.float64)


# --- image features ----------------------------------------------------------------------------------

def test_image_features_are_deterministic_and_depend_on_the_seed(tmp_path: Path, corpus_dir: Path) -> None:
    generate(tmp_path / "again", seed=1, sizes=SMALL)
    generate(tmp_path / "other", seed=2, sizes=SMALL)
    for split in SPLITS:
        name = f"{split}.img.npy"
        assert (tmp_path / "again" / name).read_bytes() == (corpus_dir / name).read_bytes(), name
        assert (tmp_path / "other" / name).read_bytes() != (corpus_dir / name).read_bytes(), name
    assert (tmp_path / "again" / MANIFEST_NAME).read_bytes() == (corpus_dir / MANIFEST_NAME).read_bytes()


def test_image_features_are_aligned_with_en_and_padded_with_zeros(corpus_dir: Path) -> None:
    nouns = set(lexicon.NOUNS)
    for split in SPLITS:
        features = np.load(corpus_dir / f"{split}.img.npy", allow_pickle=False)
        sentences = read_lines(corpus_dir, f"{split}.en")
        assert features.shape == (SMALL[split], IMG_REGIONS, IMG_DIM) == (len(sentences), 10, 32)
        assert features.dtype == np.float16 and np.isfinite(features).all()
        used = np.abs(features).sum(axis=2) > 0  # (N, K)
        for row, sentence in zip(used, sentences):
            count = sum(word in nouns for word in sentence.split(" "))
            assert row.tolist() == [True] * count + [False] * (IMG_REGIONS - count), sentence


def test_manifest_lists_the_image_files_and_notices_a_changed_one(corpus_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((corpus_dir / MANIFEST_NAME).read_text())
    assert manifest["version"] >= 3 and manifest["arrays"] == ["img"]
    for split in SPLITS:
        record, data = manifest["files"][f"{split}.img.npy"], (corpus_dir / f"{split}.img.npy").read_bytes()
        assert record == {"lines": SMALL[split], "sha256": hashlib.sha256(data).hexdigest(),
                          "shape": [SMALL[split], IMG_REGIONS, IMG_DIM], "dtype": "float16"}
    generate(tmp_path, seed=1, sizes=SMALL)
    assert is_current(tmp_path, seed=1, sizes=SMALL)
    (tmp_path / "valid.img.npy").unlink()
    assert not is_current(tmp_path, seed=1, sizes=SMALL, check_hashes=False)


def test_regions_cover_every_content_word_in_order(trees: list) -> None:
    for tree in trees:
        found, words = regions(tree), tree.words()
        assert 1 <= len(found) <= IMG_REGIONS
        assert [r.noun for r in found] == [w.text for w in words if w.pos == "NOUN"]
        adjectives = sorted(w.text for w in words if w.pos == "ADJ")
        assert sorted(a for r in found for a in r.adjectives) == adjectives
        heads = {head for r in found for head in r.heads}
        assert {w.text for w in words if w.pos in ("VERB", "PREP")} <= heads, tree.text()
        assert found[0].role == "subject" and all(r.role in ROLES for r in found)
        assert [r.indefinite for r in found] == [w.text != "the" for w in words if w.pos == "DET"]


def test_content_words_are_recoverable_from_the_features(corpus_dir: Path) -> None:
    """Nearest fixed vector in each block gives back the noun, a lone adjective, a lone head, the role."""
    trees = [e.tree for e in sample_splits(1, SMALL)["test"]]
    features = np.load(corpus_dir / "test.img.npy")
    codebooks = {name: (words, np.stack([block(word_vector(name, w), name) for w in words]))
                 for name, words in [("noun", lexicon.NOUNS), ("adjective", lexicon.ADJECTIVES),
                                     ("head", lexicon.TRANSITIVE_VERBS + lexicon.INTRANSITIVE_VERBS
                                      + lexicon.NOUN_PREPOSITIONS + lexicon.VERB_PREPOSITIONS)]}

    def nearest(name: str, vector) -> str:
        words, book = codebooks[name]
        return words[int(np.argmin(((book - block(vector, name)) ** 2).sum(axis=1)))]

    checked = 0
    for tree, rows in zip(trees, features):
        for region, vector in zip(regions(tree), rows):
            assert nearest("noun", vector) == region.noun
            assert ROLES[int(np.argmax(block(vector, "role")))] == region.role
            assert (block(vector, "indefinite")[0] > 0.5) == region.indefinite
            if len(region.adjectives) == 1:
                assert nearest("adjective", vector) == region.adjectives[0]
            if len(region.heads) == 1:
                assert nearest("head", vector) == region.heads[0]
            checked += 1
    assert checked > 80


def test_regions_sharing_a_noun_are_more_alike_than_others(corpus_dir: Path) -> None:
    trees = [e.tree for e in sample_splits(1, SMALL)["train"]]
    features = np.load(corpus_dir / "train.img.npy").astype(np.float64)
    vectors, nouns = [], []
    for tree, rows in zip(trees, features):
        for region, vector in zip(regions(tree), rows):
            vectors.append(vector / np.linalg.norm(vector))
            nouns.append(region.noun)
    cosine = np.stack(vectors) @ np.stack(vectors).T
    same = np.equal.outer(nouns, nouns) & ~np.eye(len(nouns), dtype=bool)
    different = ~np.equal.outer(nouns, nouns)
    assert same.sum() > 100
    assert cosine[same].mean() > cosine[different].mean() + 0.2
    noun_blocks = block(np.stack(vectors), "noun")
    noun_blocks /= np.linalg.norm(noun_blocks, axis=1, keepdims=True)
    noun_cosine = noun_blocks @ noun_blocks.T
    assert noun_cosine[same].min() > 0.8 > noun_cosine[different].mean() + 0.5


def test_without_numpy_generate_says_how_to_install_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # `import numpy` now raises ImportError
    with pytest.raises(UserError, match="pip install numpy"):
        generate(tmp_path, seed=1, sizes=SMALL)
    assert not (tmp_path / MANIFEST_NAME).exists() and not list(tmp_path.glob("*.en"))


# --- grounded dialogue -------------------------------------------------------------------------------

def attribute_of(value: str) -> str:
    (attribute,) = [name for name, values in dlg.ATTRIBUTES.items() if value in values]
    return attribute


def parse_fact(fact: str) -> tuple[str, str, str]:
    """(entity, attribute, value) of 'the cat is red' or 'the cat is in the house'."""
    words = fact.split(" ")
    assert words[0] == "the" and words[2] == "is", fact
    value = " ".join(words[3:])
    return words[1], attribute_of(value), value


def parse_question(turn: str) -> tuple[str, str] | None:
    for attribute, template in dlg.QUESTIONS.items():
        before, after = template.split("{}")
        if turn.startswith(before) and turn.endswith(after):
            return turn[len(before):-len(after)], attribute
    return None


def read_dialogue(directory: Path, split: str) -> list[tuple[str, list[str], str]]:
    columns = [read_lines(directory, f"{split}.{slot}") for slot in DIALOGUE_SLOTS]
    return [(hist, facts.split(FACT_SEPARATOR), resp) for hist, facts, resp in zip(*columns)]


def test_dialogue_is_deterministic_aligned_and_in_its_manifest(dialogue_dir: Path, tmp_path: Path) -> None:
    generate_dialogue(tmp_path / "again", seed=1, sizes=DIALOGUE_SMALL)
    generate_dialogue(tmp_path / "other", seed=2, sizes=DIALOGUE_SMALL)
    manifest = json.loads((dialogue_dir / DIALOGUE_MANIFEST_NAME).read_text())
    names = [f"{split}.{slot}" for split in SPLITS for slot in DIALOGUE_SLOTS]
    assert set(manifest["files"]) == set(names) and manifest["fact_separator"] == " ||| "
    assert manifest["turn_separator"] == " <turn> "
    for name in names + [DIALOGUE_MANIFEST_NAME]:
        assert (tmp_path / "again" / name).read_bytes() == (dialogue_dir / name).read_bytes(), name
    assert (tmp_path / "other" / "train.facts").read_bytes() != (dialogue_dir / "train.facts").read_bytes()
    for name in names:
        data, split = (dialogue_dir / name).read_bytes(), name.split(".")[0]
        digest = hashlib.sha256(data).hexdigest()
        assert manifest["files"][name] == {"lines": DIALOGUE_SMALL[split], "sha256": digest}
        assert len(read_lines(dialogue_dir, name)) == DIALOGUE_SMALL[split]
    assert is_dialogue_current(dialogue_dir, seed=1, sizes=DIALOGUE_SMALL)
    assert not is_dialogue_current(dialogue_dir, seed=2, sizes=DIALOGUE_SMALL)
    (tmp_path / "again" / "test.resp").write_text("tampered\n")
    assert not is_dialogue_current(tmp_path / "again", seed=1, sizes=DIALOGUE_SMALL)


def test_dialogue_and_corpus_share_a_folder(tmp_path: Path) -> None:
    generate(tmp_path, seed=1, sizes=SMALL)
    generate_dialogue(tmp_path, seed=1, sizes=DIALOGUE_SMALL)
    assert is_current(tmp_path, seed=1, sizes=SMALL) and is_dialogue_current(tmp_path, sizes=DIALOGUE_SMALL)


def test_every_answer_is_exactly_one_fact_and_needs_it(dialogue_dir: Path) -> None:
    counts = collections.Counter()
    for split in SPLITS:
        for hist, facts, resp in read_dialogue(dialogue_dir, split):
            assert 3 <= len(facts) <= 6 and "|||" not in hist and "<turn>" not in FACT_SEPARATOR.join(facts)
            assert all(line == " ".join(line.lower().split()) for line in (hist, resp, *facts))
            parsed = [parse_fact(fact) for fact in facts]
            assert len({(e, a) for e, a, _ in parsed}) == len(parsed)  # no entity has one attribute twice
            question = parse_question(hist.split(TURN_SEPARATOR)[-1])
            if question is None:  # a generic turn: its answer is fixed and is no fact
                assert (hist, resp) in dlg.GENERIC and resp[:-2] not in facts
                counts["generic"] += 1
                continue
            entity, attribute = question
            matching = [fact for fact, (e, a, _) in zip(facts, parsed) if (e, a) == question]
            assert [fact + " ." for fact in facts].count(resp) == 1 and matching == [resp[:-2]], (hist, facts)
            counts["same entity"] += any(e == entity and a != attribute for e, a, _ in parsed)
            counts["same attribute"] += any(e != entity and a == attribute for e, a, _ in parsed)
            counts["greeting"] += hist.count(TURN_SEPARATOR) == 2
            counts["question"] += 1
    assert counts["question"] > 0.8 * sum(DIALOGUE_SMALL.values()) and counts["generic"] > 30
    # Distractors are common: matching the entity alone, or the attribute alone, is not enough.
    assert counts["same entity"] > 0.5 * counts["question"]
    assert counts["same attribute"] > 0.3 * counts["question"]
    assert counts["greeting"] > 0.1 * counts["question"]


def test_without_the_facts_the_answer_is_a_guess(dialogue_dir: Path) -> None:
    """NOFACTS prior: per question type, and per asked (entity, attribute), no answer is frequent."""
    answers: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for hist, _, resp in read_dialogue(dialogue_dir, "train"):
        question = parse_question(hist.split(TURN_SEPARATOR)[-1])
        if question is not None:
            answers[question[1]][parse_fact(resp[:-2])[2]] += 1
    assert set(answers) == set(dlg.ATTRIBUTES)
    for attribute, counter in answers.items():
        assert max(counter.values()) / sum(counter.values()) < 0.5, (attribute, counter.most_common(3))
        assert len(counter) >= min(4, len(dlg.ATTRIBUTES[attribute])), attribute


def test_held_out_dialogues_are_new_and_the_lexicon_is_the_toy_one(dialogue_dir: Path) -> None:
    pairs = {split: {(h, FACT_SEPARATOR.join(f)) for h, f, _ in read_dialogue(dialogue_dir, split)}
             for split in SPLITS}
    assert all(len(pairs[split]) == DIALOGUE_SMALL[split] for split in SPLITS)
    assert not pairs["train"] & pairs["valid"] and not pairs["train"] & pairs["test"]
    assert set(dlg.PLACES) <= set(lexicon.NOUNS) and set(dlg.ENTITIES) <= set(lexicon.NOUNS)
    assert set(dlg.LOCATIONS) <= set(lexicon.VERB_PREPOSITIONS)
    assert all(set(v) <= set(lexicon.ADJECTIVES) for k, v in dlg.ATTRIBUTES.items() if k != "place")


def test_bad_dialogue_sizes_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="did you mean 'train'"):
        generate_dialogue(tmp_path, sizes={"trian": 10})
    assert dlg.DIALOGUE_DEFAULT_SIZES == {"train": 8000, "valid": 300, "test": 300}
