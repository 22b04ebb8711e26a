"""Tests for data_scripts/ud.py (UD English-EWT CoNLL-U -> {split}.en / {split}.upos).

Tiny CoNLL-U files are written in tmp_path; one test also runs the script on the real treebank in
../shared/data/ud_en_ewt when it is there and skips otherwise.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import loaded_data_script, run_data_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "data_scripts"
SHARED = ROOT.parent / "shared" / "data" / "ud_en_ewt"
SPLITS = ("train", "dev", "test")


def row(ident: str, form: str, upos: str = "_", misc: str = "_") -> str:
    """One 10-column CoNLL-U line (lemma, XPOS, feats, head, deprel, deps filled in)."""
    head, rel = ("_", "_") if "-" in ident or "." in ident else ("0", "root")
    return "\t".join((ident, form, form.lower(), upos, "_", "_", head, rel, "_", misc))


# A comment block, a multiword token (3-4 "don't" -> do + n't), an empty node (5.1), a word with
# a space inside ("2 000") and a second sentence; CRLF-free, trailing blank line as in UD.
TINY = "\n".join([
    "# newdoc id = tiny-doc",
    "# sent_id = tiny-0001",
    "# text = I really don't know 2 000 !",
    row("1", "I", "PRON"),
    row("2", "really", "ADV"),
    row("3-4", "don't"),
    row("3", "do", "AUX"),
    row("4", "n't", "PART"),
    row("5", "know", "VERB"),
    row("5.1", "know", "VERB"),
    row("6", "2 000", "NUM"),
    row("7", "!", "PUNCT"),
    "",
    "# sent_id = tiny-0002",
    "# text = Go",
    row("1", "Go", "VERB"),
    "",
]) + "\n"


def run_script(*args: str | Path):
    return run_data_script("ud.py", *args)


@pytest.fixture
def ud_script():
    """data_scripts/ud.py loaded in this process."""
    with loaded_data_script("ud") as module:
        yield module


@pytest.fixture
def tiny_ud(tmp_path: Path) -> Path:
    """The three split files, each holding `TINY`."""
    folder = tmp_path / "ud"
    folder.mkdir()
    for split in SPLITS:
        (folder / f"en_ewt-ud-{split}.conllu").write_text(TINY, encoding="utf-8")
    return folder


def read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def test_tiny_conllu_gives_aligned_words_and_tags(ud_script, tiny_ud, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--from", str(tiny_ud), "--out", str(out), "--no-count-check"]
    for _ in range(2):  # idempotent: a second run gives the same files
        assert ud_script.run_cli(ud_script.main, args) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{split}.{suffix}" for split in SPLITS for suffix in ("en", "upos"))
    words, tags = read(out / "dev.en"), read(out / "dev.upos")
    # Syntactic words of "don't", no empty node, the space inside "2 000" joined with "_".
    assert words == ["I really do n't know 2_000 !", "Go"]
    assert tags == ["PRON ADV AUX PART VERB NUM PUNCT", "VERB"]
    assert [len(line.split()) for line in words] == [len(line.split()) for line in tags]
    summary = capsys.readouterr().out
    assert "2 sentences" in summary and "8 words" in summary
    assert "1 multiword-token ranges and 1 empty nodes skipped" in summary
    assert "1 words with spaces joined with '_'" in summary
    assert "no checksums checked" in summary


def test_crlf_and_missing_final_blank_line(ud_script, tiny_ud, tmp_path):
    (tiny_ud / "en_ewt-ud-test.conllu").write_bytes(
        TINY.rstrip("\n").replace("\n", "\r\n").encode("utf-8"))
    assert ud_script.main(["--from", str(tiny_ud), "--out", str(tmp_path / "o"),
                           "--no-count-check"]) == 0
    assert read(tmp_path / "o" / "test.upos") == read(tmp_path / "o" / "dev.upos")


@pytest.mark.parametrize("bad_line, message", [
    (row("2", "really", "ADVERB"), "UPOS 'ADVERB' is not one of"),
    (row("2", "really", "ADV")[:-2], "expected 10 TAB-separated CoNLL-U columns, got 9"),
    (row("9", "really", "ADV"), "word id '9', expected 2"),
])
def test_bad_line_is_one_error_naming_file_and_line(tiny_ud, tmp_path, bad_line, message):
    path = tiny_ud / "en_ewt-ud-dev.conllu"
    path.write_text(TINY.replace(row("2", "really", "ADV"), bad_line), encoding="utf-8")
    result = run_script("--from", tiny_ud, "--out", tmp_path / "out", "--no-count-check")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert f"{path}, line 5: " in result.stderr and message in result.stderr
    assert not (tmp_path / "out").exists()  # nothing written before every file is checked


def test_counts_must_match_the_release(tiny_ud, tmp_path):
    result = run_script("--from", tiny_ud, "--out", tmp_path / "out")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "en_ewt-ud-train.conllu: 2 sentences (expected 12,544), 8 words (expected 204,577)" \
        in result.stderr
    assert "--no-count-check" in result.stderr


def test_missing_file_and_folder_and_checksum(tiny_ud, tmp_path):
    (tiny_ud / "en_ewt-ud-test.conllu").unlink()
    result = run_script("--from", tiny_ud, "--out", tmp_path / "out", "--no-count-check")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"missing {tiny_ud / 'en_ewt-ud-test.conllu'}" in result.stderr
    result = run_script("--from", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert result.returncode == 2 and "no such folder" in result.stderr
    (tiny_ud / "en_ewt-ud-test.conllu").write_text(TINY, encoding="utf-8")
    (tiny_ud / "SHA256SUMS").write_text("0" * 64 + "  en_ewt-ud-dev.conllu\n")
    result = run_script("--from", tiny_ud, "--out", tmp_path / "out", "--no-count-check")
    assert result.returncode == 2 and "en_ewt-ud-dev.conllu: SHA-256 is" in result.stderr


@pytest.mark.skipif(not SHARED.is_dir(), reason="UD English-EWT not found in ../shared/data")
def test_real_treebank_counts(ud_script, tmp_path, capsys):
    out = tmp_path / "ud"
    assert ud_script.run_cli(ud_script.main, ["--from", str(SHARED), "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "3 files checked against" in summary
    for split, sentences, words in (("train", 12544, 204577), ("dev", 2001, 25147),
                                    ("test", 2077, 25094)):
        assert f"{sentences:,} sentences" in summary
        text, tags = read(out / f"{split}.en"), read(out / f"{split}.upos")
        assert len(text) == len(tags) == sentences
        lengths = [len(line.split()) for line in text]
        assert lengths == [len(line.split()) for line in tags] and sum(lengths) == words
    assert read(out / "dev.en")[0] == "From the AP comes this story :"
    assert read(out / "dev.upos")[0] == "ADP DET PROPN VERB DET NOUN PUNCT"


def test_download_into_raw_is_verified_and_reused(ud_script, tmp_path, monkeypatch, capsys):
    remote = tmp_path / "remote"
    remote.mkdir()
    digests = {}
    for split in SPLITS:
        name = f"en_ewt-ud-{split}.conllu"
        (remote / name).write_text(TINY, encoding="utf-8")
        digests[name] = hashlib.sha256((remote / name).read_bytes()).hexdigest()
    monkeypatch.setattr(ud_script, "URL", remote.as_uri() + "/{name}")
    monkeypatch.setattr(ud_script, "KNOWN_SHA256", digests)
    out = tmp_path / "out"
    assert ud_script.main(["--out", str(out), "--no-count-check"]) == 0
    assert "downloads checked against known digests" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "raw").iterdir()) == sorted(digests)
    for name in digests:  # a second run finds the files in OUT/raw and needs no network
        (remote / name).unlink()
    assert ud_script.main(["--out", str(out), "--no-count-check"]) == 0
    assert read(out / "train.en") == ["I really do n't know 2_000 !", "Go"]
