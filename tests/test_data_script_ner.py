"""Tests for data_scripts/ner.py (WikiANN English and UNER English-EWT -> {split}.en / {split}.ner).

Tiny files in the real formats are written in tmp_path; one test also runs the script on the real
corpora in ../shared/data when they are there and skips otherwise.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest

from tests.conftest import loaded_data_script, run_data_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "data_scripts"
SHARED = ROOT.parent / "shared" / "data"
WIKIANN_SPLITS = ("train", "dev", "test")
UNER_SPLITS = ("dev", "test")

# WikiANN: "en:<token><TAB><tag>", a blank line after each sentence; the second sentence holds a
# token with a space inside and one that is itself "en:x" after the prefix.
WIKIANN = ("en:Karl\tB-PER\nen:Marx\tI-PER\nen:visited\tO\nen:New York\tB-LOC\nen:.\tO\n\n"
           "en:Acme\tB-ORG\nen:en:x\tI-ORG\n\n")
# UNER: comments, then "ID FORM TAG - ANNOTATOR"; the second sentence has an I- after O.
UNER = ("# newdoc id = tiny-doc\n# sent_id = tiny-0001\n# text = I like Paris\n"
        "1\tI\tO\t-\t-\n2\tlike\tO\t-\t-\n3\tParis\tB-LOC\t-\tstephen\n\n"
        "# sent_id = tiny-0002\n# text = go Bob\n1\tgo\tO\t-\t-\n2\tBob\tI-PER\t-\tstephen\n\n")


def run_script(*args: str | Path):
    return run_data_script("ner.py", *args)


@pytest.fixture
def ner_script():
    """data_scripts/ner.py loaded in this process."""
    with loaded_data_script("ner") as module:
        yield module


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """A WikiANN folder and a UNER folder with `WIKIANN` / `UNER` in every split file."""
    wikiann, uner = tmp_path / "wikiann", tmp_path / "uner"
    wikiann.mkdir()
    uner.mkdir()
    for split in WIKIANN_SPLITS:
        (wikiann / split).write_text(WIKIANN, encoding="utf-8")
    for split in UNER_SPLITS:
        (uner / f"en_ewt-ud-{split}.iob2").write_text(UNER, encoding="utf-8")
    return wikiann, uner


def paths(tiny: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    return ["--from", str(tiny[0]), "--out", str(out / "w"), "--uner-from", str(tiny[1]),
            "--uner-out", str(out / "u"), *extra]


def read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def test_both_corpora_give_aligned_words_and_labels(ner_script, tiny, tmp_path, capsys):
    for _ in range(2):  # idempotent: a second run gives the same files
        assert ner_script.run_cli(ner_script.main, paths(tiny, tmp_path, "--no-count-check")) == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == sorted(
        f"{split}.{suffix}" for split in WIKIANN_SPLITS for suffix in ("en", "ner"))
    assert sorted(p.name for p in (tmp_path / "u").iterdir()) == [
        "dev.en", "dev.ner", "test.en", "test.ner"]
    # "en:" stripped once; the space inside "New York" joined with "_".
    assert read(tmp_path / "w" / "train.en") == ["Karl Marx visited New_York .", "Acme en:x"]
    assert read(tmp_path / "w" / "train.ner") == ["B-PER I-PER O B-LOC O", "B-ORG I-ORG"]
    assert read(tmp_path / "u" / "test.en") == ["I like Paris", "go Bob"]
    assert read(tmp_path / "u" / "test.ner") == ["O O B-LOC", "O I-PER"]  # kept as given
    for folder in ("w", "u"):
        for split in UNER_SPLITS:
            words, labels = read(tmp_path / folder / f"{split}.en"), read(tmp_path / folder / f"{split}.ner")
            assert [len(line.split()) for line in words] == [len(line.split()) for line in labels]
    captured = capsys.readouterr()
    assert re.search(r"train +2 sentences +7 words, entities PER 1 / ORG 1 / LOC 1; 1 words with "
                     "spaces joined with '_'", captured.out)
    assert "UNER English-EWT dev: 1 I- label(s) do not continue an entity" in captured.err


def test_corpus_switch_and_uner_only(tiny, tmp_path):
    result = run_script("--corpus", "uner", "--uner-from", tiny[1], "--uner-out", tmp_path / "u",
                        "--out", tmp_path / "w", "--no-count-check")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "u" / "dev.ner").is_file() and not (tmp_path / "w").exists()
    assert "WikiANN" not in result.stdout


@pytest.mark.parametrize("corpus, split, old, new, line, message", [
    ("wikiann", "dev", "en:visited\tO", "en:visited\tB-MISC", 3, "label 'B-MISC' is not one of"),
    ("wikiann", "test", "en:visited\tO", "en:visited", 3, "expected 'en:<token><TAB><label>'"),
    ("wikiann", "train", "en:Marx", "Marx", 2, "expected 'en:<token><TAB><label>'"),
    ("uner", "test", "2\tlike\tO\t-\t-", "2\tlike\tO", 5, "expected 5 TAB-separated columns"),
    ("uner", "dev", "3\tParis\tB-LOC", "3\tParis\tB-GPE", 6, "label 'B-GPE' is not one of"),
    ("uner", "dev", "2\tlike", "3\tlike", 5, "token id '3', expected 2"),
])
def test_bad_line_is_one_error_naming_file_and_line(tiny, tmp_path, corpus, split, old, new,
                                                    line, message):
    path = tiny[0] / split if corpus == "wikiann" else tiny[1] / f"en_ewt-ud-{split}.iob2"
    text = WIKIANN if corpus == "wikiann" else UNER
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run_script(*paths(tiny, tmp_path, "--no-count-check"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert f"{path}, line {line}: " in result.stderr and message in result.stderr
    assert not (tmp_path / "w").exists() and not (tmp_path / "u").exists()  # nothing written


def test_counts_must_match_the_releases(tiny, tmp_path):
    result = run_script(*paths(tiny, tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"{tiny[0] / 'train'}: 2 sentences (expected 20,000), 7 words (expected 160,394)" \
        in result.stderr
    result = run_script("--corpus", "uner", *paths(tiny, tmp_path))
    assert f"{tiny[1] / 'en_ewt-ud-dev.iob2'}: 2 sentences (expected 2,001)" in result.stderr


def test_missing_file_and_folder(tiny, tmp_path):
    (tiny[1] / "en_ewt-ud-test.iob2").unlink()
    result = run_script(*paths(tiny, tmp_path, "--no-count-check"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"missing {tiny[1] / 'en_ewt-ud-test.iob2'}" in result.stderr
    assert not (tmp_path / "w").exists()  # WikiANN was fine, but nothing is written
    result = run_script("--corpus", "wikiann", "--from", tmp_path / "nowhere")
    assert result.returncode == 2 and f"--from {tmp_path / 'nowhere'}: no such folder" in result.stderr


@pytest.mark.skipif(not ((SHARED / "wikiann_en").is_dir() and (SHARED / "uner_en_ewt").is_dir()),
                    reason="WikiANN / UNER not found in ../shared/data")
def test_real_corpora_counts(ner_script, tmp_path, capsys):
    args = ["--from", str(SHARED / "wikiann_en"), "--out", str(tmp_path / "w"),
            "--uner-from", str(SHARED / "uner_en_ewt"), "--uner-out", str(tmp_path / "u")]
    assert ner_script.run_cli(ner_script.main, args) == 0
    summary = capsys.readouterr().out
    assert "3 files checked against" in summary and "2 files checked against" in summary
    # Sentences, words and entities PER / ORG / LOC as in the data READMEs.
    for folder, split, sentences, words, entities in (
            ("w", "train", 20000, 160394, (9164, 9422, 9345)),
            ("w", "dev", 10000, 80536, (4635, 4677, 4834)),
            ("w", "test", 10000, 80326, (4556, 4745, 4657)),
            ("u", "dev", 2001, 25149, (343, 224, 399)),
            ("u", "test", 2077, 25097, (449, 322, 317))):
        text, labels = read(tmp_path / folder / f"{split}.en"), read(tmp_path / folder / f"{split}.ner")
        assert len(text) == len(labels) == sentences
        lengths = [len(line.split()) for line in text]
        assert lengths == [len(line.split()) for line in labels] and sum(lengths) == words
        assert not any(word.startswith("en:") for line in text for word in line.split())
        tags = " ".join(labels).split()
        assert tuple(tags.count(f"B-{kind}") for kind in ("PER", "ORG", "LOC")) == entities
    assert read(tmp_path / "w" / "train.en")[0] == "R.H. Saunders ( St. Lawrence River ) ( 968 MW )"


def test_uner_download_is_verified_and_offline_error_names_uner_from(ner_script, tiny, tmp_path,
                                                                      monkeypatch, capsys):
    digests = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
               for path in tiny[1].iterdir()}
    uner = dataclasses.replace(ner_script.UNER, url=tiny[1].as_uri() + "/{name}",
                               known_sha256=digests)
    monkeypatch.setattr(ner_script, "UNER", uner)
    args = ["--corpus", "uner", "--uner-out", str(tmp_path / "u"), "--no-count-check"]
    assert ner_script.main(args) == 0
    assert "downloads checked against known digests" in capsys.readouterr().out
    assert read(tmp_path / "u" / "dev.ner") == ["O O B-LOC", "O I-PER"]
    monkeypatch.setattr(ner_script, "UNER", dataclasses.replace(
        uner, url=(tmp_path / "gone").as_uri() + "/{name}"))
    args[3] = str(tmp_path / "u2")
    with pytest.raises(ner_script.PrepError, match="could not download .*point --uner-from"):
        ner_script.main(args)
