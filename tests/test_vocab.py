"""Vocabularies: SentencePiece (unigram, BPE) and word lists, sharing, plain-data round trip."""
from __future__ import annotations

from pathlib import Path

import pytest

from mtseq2seq.build.vocabs import load_or_train
from mtseq2seq.errors import ConfigError
from mtseq2seq.recipe.config import VocabConfig
from mtseq2seq.recipe.loader import load_recipe
from mtseq2seq.vocab import EOS, SentencePieceVocab, Vocab, WordVocab
from tests.conftest import tiny_recipe, write_recipe

LINES = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song"] * 20


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_round_trip(model_type: str) -> None:
    vocab = SentencePieceVocab.train(iter(LINES), VocabConfig(size=40, model_type=model_type))
    ids = vocab.encode(["the cat sang"])[0]
    assert all(EOS < i < len(vocab) for i in ids)
    assert vocab.decode(ids + [EOS, 0]) == "the cat sang"
    again = Vocab.from_state(vocab.to_state())
    assert again.encode(["the cat sang"])[0] == ids and again.fingerprint == vocab.fingerprint


def test_word_vocab_orders_by_frequency_and_maps_unknown() -> None:
    vocab = WordVocab.train(iter(["(S XX XX )S", "(S XX )S"]), VocabConfig(type="words"))
    assert vocab.words[:5] == ["<pad>", "<unk>", "<s>", "</s>", "XX"]
    assert vocab.encode(["XX (NP"])[0] == [4, 1]
    assert Vocab.from_state(vocab.to_state()).words == vocab.words


def test_shared_vocabulary_is_one_object_trained_on_both_slots(tiny_corpus: Path,
                                                               tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["vocabs"]["de"] = {"share": "en"}
    de = tiny_corpus / "train.de"
    de.write_text(de.read_text().replace("cat", "katze"))
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", raw))
    vocabs = load_or_train(recipe, tmp_path / "run")
    assert vocabs["de"] is vocabs["en"] and vocabs["parse"] is not vocabs["en"]
    assert sorted((tmp_path / "run" / "vocab").iterdir()) == [
        tmp_path / "run" / "vocab" / "en.words", tmp_path / "run" / "vocab" / "parse.words"]
    assert {"cat", "katze"} <= vocabs["en"].index.keys()  # words of both slots
    assert "XX" not in vocabs["en"].index
    reloaded = load_or_train(recipe, tmp_path / "run")  # read back, not trained again
    assert reloaded["en"].words == vocabs["en"].words


def test_share_must_name_an_owner(tiny_corpus: Path, tmp_path: Path) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["vocabs"]["de"] = {"share": "eng"}
    with pytest.raises(ConfigError, match=r"vocabs.de.share: no vocabulary for slot 'eng'; did you"):
        load_recipe(write_recipe(tmp_path / "r.yaml", raw))


def test_a_vocabulary_smaller_than_asked_is_reported(tiny_corpus: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    raw = tiny_recipe(tiny_corpus)
    raw["vocabs"]["en"] = {"type": "sentencepiece", "size": 500}  # 40 short lines cannot give 500
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", raw), run_dir=str(tmp_path / "run"))
    with caplog.at_level("WARNING", logger="mtseq2seq"):
        size = len(load_or_train(recipe, tmp_path / "run")["en"])
    assert size < 500
    assert f"vocabs.en: asked for 500 entries, the training text gave only {size}" in caplog.text
    assert f"set vocabs.en.size: {size}" in caplog.text


def test_a_missing_data_file_names_the_base_of_relative_paths(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    raw = tiny_recipe(Path("no_such_data"))
    (tmp_path / "recipes").mkdir()
    with pytest.raises(ConfigError) as err:
        load_recipe(write_recipe(tmp_path / "recipes" / "r.yaml", raw))
    assert f"data_dir is relative to the working directory {tmp_path}" in str(err.value)
