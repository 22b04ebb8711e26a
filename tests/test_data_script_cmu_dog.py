"""Tests for data_scripts/cmu_dog.py (CMU_DoG -> {split}.hist / .facts / .resp).

Most tests build a tiny fake CMU_DoG folder in tmp_path: two movie documents, six conversation files
(three of them in two split folders, as upstream's 110 are), split_overlap.tsv and a SHA256SUMS. One
test runs the script on the real data in ../shared/data/cmu_dog and is skipped when it is not there.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import loaded_data_script, run_data_script

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "cmu_dog"
SPLITS = ("train", "valid", "test")
SUFFIXES = ("hist", "facts", "resp")

needs_real = pytest.mark.skipif(not (REAL / "SHA256SUMS").is_file(),
                                reason="CMU_DoG not found in ../shared/data/cmu_dog")

DOCS = {
    "Alpha": {
        "wikiDocumentIdx": 0,
        "0": {"movieName": "Alpha", "year": "2001", "director": "Dee Rector", "genre": "Drama",
              "cast": ["Ann as A", "Bob as B"], "introduction": "Alpha is a film.",
              "rating": ["IMDB: 7/10"], "critical_response": ["fine"]},
        "1": "Alpha one begins. Dr. Crane meets David S. Goyer there! Is it \"real?\" It is.",
        "2": " ".join(f"w{i}" for i in range(30)) + ".",  # one sentence of 30 words
        "3": " ".join(f"Short {i}." for i in range(15)),  # 15 sentences
    },
    "Beta": {
        "wikiDocumentIdx": 1,
        "0": {"movieName": "Beta", "year": "2002", "director": "Ed Itor", "genre": "Comedy",
              "cast": ["Cy as C", "Di as D"], "introduction": "Beta is a comedy.[3] It stars Cy.",
              "rating": ["Metacritic Score: 70/100"], "critical_response": ["great ||| fun"]},
        "1": "Beta plot.", "2": "Beta middle.", "3": "Beta end.",
    },
}
ALPHA_1 = "Alpha one begins. ||| Dr. Crane meets David S. Goyer there! ||| Is it \"real?\" ||| It is."
BETA_0 = " ||| ".join(["movie name: Beta", "year: 2002", "director: Ed Itor", "genre: Comedy",
                       "cast: Cy as C , Di as D", "Metacritic Score: 70/100", "Beta is a comedy.",
                       "It stars Cy.", "critical response: great fun"])
# (wikiDocumentIdx, status, [(uid, text, docIdx)]) per id; the folders each id is in.
CONVERSATIONS = {
    "aaa": (0, True, [("user1", "hi", 0), ("user2", "  ", 0), ("user1", "there\n friend", 0),
                      ("user2", "hello", 1), ("user1", "plot?", 2), ("user2", "yes\tindeed", 3),
                      ("user1", "ok", 1)]),
    "bbb": (1, 1, [("user1", "bbb one", 0), ("user2", "bbb two", 0)]),
    "ddd": (1, 1, [("user1", "ddd one", 1), ("user2", "ddd two", 2), ("user1", "ddd three", 3)]),
    "eee": (0, 0, [("user1", "eee one", 0), ("user2", "eee two", 1)]),
    "fff": (1, False, [("user1", "fff one", 0), ("user2", "fff two", 0), ("user2", "fff ||| three", 0)]),
}
FOLDERS = {"train": ("aaa", "bbb", "ddd"), "valid": ("bbb", "eee"), "test": ("ddd", "eee", "fff")}
OVERLAP = "conversation_id\tsplits\nbbb\ttrain,valid\nddd\ttrain,test\neee\tvalid,test\n"
ARGS = ("--history", "2", "--max-facts", "12", "--max-fact-words", "10", "--no-count-check")


def conversation(doc: int, status, messages) -> dict:
    history = [{"docIdx": d, "text": text, "uid": uid, "utcTimestamp": "2018-02-20T19:15:16.038Z"}
               for uid, text, d in messages]
    return {"history": history, "wikiDocumentIdx": doc, "status": status, "rating": 2, "whoSawDoc": ["user1"]}


def write_fake(folder: Path, extras: bool = True) -> Path:
    """The fake CMU_DoG folder; ``extras``: also split_overlap.tsv and SHA256SUMS (not in the archive)."""
    files = {f"WikiData/{name}.json": json.dumps(doc) for name, doc in DOCS.items()}
    files |= {f"Conversations/{split}/{key}.json": json.dumps(conversation(*CONVERSATIONS[key]), indent=1)
              for split, keys in FOLDERS.items() for key in keys}
    if extras:
        files["split_overlap.tsv"] = OVERLAP
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    if extras:
        sums = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}" for n in sorted(files)]
        (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return folder


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    return write_fake(tmp_path / "cmu_dog")


def lines_of(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert "\t" not in text and len(text.splitlines()) == text.count("\n")  # one example a line
    return text.split("\n")[:-1]


def outputs(out: Path, split: str) -> dict[str, list[str]]:
    """The three files of one split, checked to be line-aligned."""
    found = {suffix: lines_of(out / f"{split}.{suffix}") for suffix in SUFFIXES}
    assert len({len(lines) for lines in found.values()}) == 1
    return found


def test_fake_corpus_examples_facts_and_summary(fake, tmp_path):
    out = tmp_path / "out"
    for _ in range(2):  # a second run gives the same files
        result = run_data_script("cmu_dog.py", "--from", fake, "--out", out, *ARGS)
        assert result.returncode == 0, result.stderr
    train = outputs(out, "train")
    # The empty message is dropped first, so user1's 'hi' and 'there friend' merge into one turn.
    assert train["resp"] == ["hello", "plot?", "yes indeed", "ok"]
    assert train["hist"] == ["hi there friend", "hi there friend <turn> hello", "hello <turn> plot?",
                             "plot? <turn> yes indeed"]  # --history 2
    assert train["facts"][0] == train["facts"][3] == ALPHA_1  # docIdx 1 of document 0
    assert train["facts"][1] == " ".join(f"w{i}" for i in range(10))  # --max-fact-words 10
    assert train["facts"][2].split(" ||| ") == [f"Short {i}." for i in range(12)]  # --max-facts 12
    valid, test = outputs(out, "valid"), outputs(out, "test")
    # Overlap: bbb stays in valid only, ddd in test only, eee in valid only.
    assert valid["resp"] == ["bbb two", "eee two"]
    assert test["resp"] == ["ddd two", "ddd three", "fff two fff three"]
    assert valid["facts"][0] == test["facts"][2] == BETA_0  # section '0', '[3]' and '|||' removed
    assert valid["facts"][1] == ALPHA_1
    assert test["hist"] == ["ddd one", "ddd one <turn> ddd two", "fff one"]
    log = result.stdout
    assert "8 files checked against" in log and "2 documents, 3 ids in 2 splits" in log
    assert "train     1 conversations (2 also in valid/test dropped), 4 examples; mean 5.2 facts" in log
    assert "valid     2 conversations, 2 examples" in log
    assert "test      2 conversations (1 also in valid dropped), 3 examples" in log
    part = {line.split(":")[0].strip(): line for line in log.splitlines() if ": " in line}
    assert "citation marks removed 1" in part["documents"] and "space 1" in part["documents"]
    assert "facts dropped over --max-facts 3" in part["documents"]
    assert "facts shortened to --max-fact-words 1" in part["documents"]
    assert "empty messages dropped 1" in part["train"] and "previous one 1" in part["train"]
    assert "space 1" in part["test"] and "previous one 1" in part["test"]  # 'fff ||| three', merged
    assert "status is 0 or false (kept) 0" in part["train"] and "(kept) 1" in part["valid"]


def test_default_history_and_caps(fake, tmp_path):
    result = run_data_script("cmu_dog.py", "--from", fake, "--out", tmp_path / "out", "--no-count-check")
    assert result.returncode == 0, result.stderr
    train = outputs(tmp_path / "out", "train")
    assert train["hist"][3] == "hello <turn> plot? <turn> yes indeed"  # the last 3 turns
    assert len(train["facts"][2].split(" ||| ")) == 15 and len(train["facts"][1].split()) == 30


def break_file(fake: Path, name: str, text: str | None) -> None:
    """Replace (or, with None, delete) one file of the fake folder."""
    if text is None:
        (fake / name).unlink()
    else:
        (fake / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("name, text, sums, message", [
    ("Conversations/test/fff.json", None, True, "missing {fake}/Conversations/test/fff.json (listed in"),
    ("Conversations/valid/bbb.json", "{}", True, "{fake}/Conversations/valid/bbb.json: SHA-256 is"),
    ("WikiData/Beta.json", "{\"0\": ", False, "{fake}/WikiData/Beta.json: not UTF-8 JSON"),
    ("Conversations/test/fff.json", json.dumps(conversation(1, 1, [("user1", "x", 7)])), False,
     "fff.json: history[0] is"),
    ("Conversations/train/aaa.json", json.dumps(conversation(9, 1, [])), False, "got wikiDocumentIdx 9"),
    ("split_overlap.tsv", OVERLAP[:-15], False, "split_overlap.tsv: 2 ids, but 3 are in two split folders"),
])
def test_data_problems_are_one_error_line(fake, tmp_path, name, text, sums, message):
    break_file(fake, name, text)
    if not sums:
        (fake / "SHA256SUMS").unlink()
    result = run_data_script("cmu_dog.py", "--from", fake, "--out", tmp_path / "out", "--no-count-check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line, no traceback
    assert result.stderr.startswith("error: ") and message.format(fake=fake) in result.stderr
    assert not (tmp_path / "out").exists()  # nothing written before every file is checked


def test_counts_and_options_are_checked(fake, tmp_path):
    result = run_data_script("cmu_dog.py", "--from", fake, "--out", tmp_path / "out")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert (f"{fake}/Conversations/train: 1 conversations (expected 3,265), 4 examples (expected 69,961)"
            in result.stderr) and "--no-count-check" in result.stderr
    result = run_data_script("cmu_dog.py", "--from", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert result.returncode == 2 and "no such folder" in result.stderr
    result = run_data_script("cmu_dog.py", "--from", fake, "--history", "0")
    assert result.returncode == 2 and "must be at least 1" in result.stderr


@pytest.fixture
def script():
    """data_scripts/cmu_dog.py loaded in this process."""
    with loaded_data_script("cmu_dog") as module:
        yield module


def test_sentence_splitter(script):
    from collections import Counter
    text = "Dr. Crane met David S. Goyer in the U.S. army. It failed! Why? \"No.\" In 2005 it [4] rose. 3 up."
    assert script.sentences(text, Counter()) == [
        "Dr. Crane met David S. Goyer in the U.S. army.", "It failed!", "Why?", "\"No.\"", "In 2005 it rose.",
        "3 up."]
    stats = Counter()  # the footnote 1 goes; no cut before a lower-case word
    assert script.sentences("Pictures.1 Loosely based, mr. X said. and so on", stats) == [
        "Pictures.", "Loosely based, mr. X said. and so on"]
    assert stats["citation marks removed"] == 1


def test_download_is_unpacked_verified_and_reused(script, tmp_path, monkeypatch, capsys):
    fake = write_fake(tmp_path / "fake", extras=False)
    archive = tmp_path / "remote" / "archive.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as opened:
        opened.writestr(f"{script.ARCHIVE}/README.md", "upstream readme\n")
        for path in sorted(fake.rglob("*.json")):
            opened.write(path, f"{script.ARCHIVE}/{path.relative_to(fake).as_posix()}")
    listing = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(fake).as_posix()}\n"
                      for p in sorted(fake.rglob("*.json"), key=lambda p: p.relative_to(fake).as_posix()))
    monkeypatch.setattr(script, "URL", archive.as_uri())
    monkeypatch.setattr(script, "MANIFEST_SHA256", hashlib.sha256(listing.encode()).hexdigest())
    out = tmp_path / "out"
    assert script.run_cli(script.main, ["--out", str(out), "--no-count-check"]) == 0
    folder = out / "raw" / script.ARCHIVE
    assert (folder / "SHA256SUMS").read_text() == listing
    assert "7 files checked against" in capsys.readouterr().out
    shutil.rmtree(archive.parent)  # offline now: the unpacked, verified folder is reused
    (out / "raw" / f"{script.ARCHIVE}.zip").unlink()
    assert script.run_cli(script.main, ["--out", str(out), "--no-count-check"]) == 0
    assert outputs(out, "train")["resp"] == ["hello", "plot?", "yes indeed", "ok"]
    monkeypatch.setattr(script, "MANIFEST_SHA256", "0" * 64)  # another archive: refused
    (tmp_path / "remote").mkdir()
    zipfile.ZipFile(archive, "w").close()
    assert script.run_cli(script.main, ["--out", str(tmp_path / "out2"), "--no-count-check"]) == 2
    assert "data files differ from 618a14f2's" in capsys.readouterr().err


@needs_real
def test_real_data_counts(script, tmp_path, capsys):
    out = tmp_path / "cmu_dog"
    assert script.run_cli(script.main, ["--from", str(REAL), "--out", str(out)]) == 0
    log = capsys.readouterr().out
    assert "4,142 files checked against" in log and "30 documents, 110 ids in 2 splits" in log
    assert "3,265 conversations (108 also in valid/test dropped), 69,961 examples" in log
    assert "229 conversations, 4,877 examples" in log
    assert "617 conversations (2 also in valid dropped), 13,247 examples" in log
    assert "empty messages dropped 17" in log
    for split, (_, examples) in script.EXPECTED.items():
        assert len(outputs(out, split)["resp"]) == examples
    valid = outputs(out, "valid")
    assert valid["resp"][0] == "hello, how are you?"
    assert valid["facts"][0].startswith("movie name: Catch me if you can ||| year: 2002 ||| director: ")


@needs_real
def test_known_manifest_digest_is_that_of_the_real_data(script):
    sums = script.read_checksums(REAL / "SHA256SUMS")
    listing = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums) if script.DATA_FILE.fullmatch(name))
    assert listing.count("\n") == 4251
    assert hashlib.sha256(listing.encode()).hexdigest() == script.MANIFEST_SHA256
