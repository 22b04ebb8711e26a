"""Tests for data_scripts/fdu_mtl.py (FDU-MTL, 16-domain review sentiment).

Most tests build a fake copy of a few domains in tmp_path: the README's line counts, short
reviews, and one instance of each encoding quirk (a cp1252 MR file, U+0085 and U+0096 inside an
imdb review, the truncated UTF-8 sequence at dvd.task.train line 905, an empty review). One test
runs on the real data in ../shared/data/fdu_mtl and is skipped when it is not there.
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import loaded_data_script, run_data_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "data_scripts"
REAL = ROOT.parent / "shared" / "data" / "fdu_mtl"
SPLITS = ("train", "dev", "test")
FAKE_DOMAINS = ("apparel", "dvd", "imdb", "MR")  # in the script's fixed order
LINES = {"train": 1600, "test": 400, "unlabel": 2000}  # the README's counts for these four domains

needs_real = pytest.mark.skipif(not (REAL / "SHA256SUMS").is_file(),
                                reason="FDU-MTL not found in ../shared/data/fdu_mtl")


def run_script(*args: str | Path):
    return run_data_script("fdu_mtl.py", *args)


def fake_lines(domain: str, kind: str) -> list[bytes]:
    """README-sized content of ``<domain>.task.<kind>`` with one quirk per domain (bytes, no LF)."""
    labeled = kind != "unlabel"
    lines = [(f"{i % 2}\t" if labeled else "") + f"{domain} {kind} review {i} ." for i in range(LINES[kind])]
    rows = [line.encode("ascii") for line in lines]
    if kind == "train":
        rows[0] = {"apparel": b"1\t  lots   of\t space  ",
                   "dvd": b"0\tfine",
                   "imdb": "0\tfirst half\u0085second half , a \u0096 b".encode("utf-8"),
                   "MR": "1\tclich\u00e9 \u2026 good".encode("cp1252")}[domain]
        if domain == "apparel":
            rows[2] = b"0\t \t "  # empty after whitespace normalization: dropped
        if domain == "dvd":
            rows[904] = b"1\tthe `` clich\xef\xbf '' remains"  # line 905, as in the README
    if kind == "unlabel" and domain == "imdb":
        rows[1] = "one\u0085two".encode("utf-8")
    return rows


def write_fake(folder: Path, domains=FAKE_DOMAINS, sums: bool = True) -> Path:
    """The four fake domains as in ../shared: .task.train/.test, unlabeled/*.gz, SHA256SUMS."""
    (folder / "unlabeled").mkdir(parents=True)
    listing = []
    for domain in domains:
        for kind in LINES:
            data = b"".join(row + b"\n" for row in fake_lines(domain, kind))
            name = f"unlabeled/{domain}.task.unlabel.gz" if kind == "unlabel" else f"{domain}.task.{kind}"
            (folder / name).write_bytes(gzip.compress(data) if kind == "unlabel" else data)
            listing.append(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n")
    if sums:
        (folder / "SHA256SUMS").write_text("".join(listing))
    return folder


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    return write_fake(tmp_path / "fdu")


def lines_of(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) == text.count("\n")  # no stray line breaks inside a review
    return text.split("\n")[:-1]


def test_fake_corpus_outputs_counts_and_quirks(fake, tmp_path):
    out = tmp_path / "out"
    for _ in range(2):  # idempotent: a second run gives the same files
        result = run_script("--from", fake, "--out", out, "--domains", *FAKE_DOMAINS, "--unlabeled")
        assert result.returncode == 0, result.stderr
    log = result.stdout
    assert "12 files checked against" in log
    assert "5600 train, 800 dev, 1600 test reviews read" in log
    assert "cp1252 (MR files): 2 (MR.task.train 2)" in log
    assert "replaced by a space: 2 (imdb.task.train 1, imdb.task.unlabel 1)" in log
    assert "their cp1252 character: 1 (imdb.task.train 1)" in log
    assert "U+FFFD (only where the README says): 1 (dvd.task.train line 905)" in log
    assert "empty reviews dropped: 1 (apparel.task.train line 3)" in log
    expected = {"train": 1400, "dev": 200, "test": 400}
    for domain in FAKE_DOMAINS:
        for split in SPLITS:
            size = expected[split] - (domain == "apparel" and split == "train")
            assert len(lines_of(out / domain / f"{split}.text")) == size
            assert set(lines_of(out / domain / f"{split}.sentiment")) == {"0", "1"}
    assert lines_of(out / "apparel" / "train.text")[:2] == ["lots of space", "apparel train review 1 ."]
    assert lines_of(out / "imdb" / "train.text")[0] == "first half second half , a \u2013 b"
    assert lines_of(out / "MR" / "train.text")[0] == "clich\u00e9 \u2026 good"
    assert lines_of(out / "dvd" / "train.text")[904] == "the `` clich\ufffd '' remains"
    # dev = the last 200 lines of .task.train; labels stay aligned with their text.
    assert lines_of(out / "MR" / "dev.text")[0] == "MR train review 1400 ."
    assert lines_of(out / "MR" / "dev.sentiment")[:2] == ["0", "1"]
    pooled = {suffix: lines_of(out / "pooled" / f"train.{suffix}")
              for suffix in ("text", "domain", "sentiment")}
    assert len(set(map(len, pooled.values()))) == 1 and len(pooled["text"]) == 4 * 1400 - 1
    assert list(dict.fromkeys(pooled["domain"])) == list(FAKE_DOMAINS)
    assert len(lines_of(out / "unlabeled" / "train.text")) == 4 * 2000
    assert lines_of(out / "unlabeled" / "train.text")[2 * 2000 + 1] == "one two"


@pytest.mark.parametrize("name, change, message", [
    ("apparel.task.test", None, "missing {fake}/apparel.task.test"),
    ("imdb.task.test", (6, b"2\tbad label"), "imdb.task.test, line 7: label '2'"),
    ("imdb.task.test", (9, b"1 no tab"), "imdb.task.test, line 10: no TAB"),
    ("apparel.task.train", (4, b"1\tcaf\xe9"), "apparel.task.train, line 5: not valid utf-8"),
    ("dvd.task.train", (904, b"1\tfixed"), "dvd.task.train, line 905: valid UTF-8"),
    ("MR.task.test", (399, None), "MR.task.test has 399 lines, the README's table says 400"),
])
def test_data_problems_are_one_error_line(fake, tmp_path, name, change, message):
    path = fake / name
    if change is None:
        path.unlink()
    else:
        rows = path.read_bytes().split(b"\n")[:-1]
        index, row = change
        rows[index:index + 1] = [] if row is None else [row]
        path.write_bytes(b"".join(row + b"\n" for row in rows))
        (fake / "SHA256SUMS").unlink()
    result = run_script("--from", fake, "--out", tmp_path / "out", "--domains", *FAKE_DOMAINS)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line, no traceback
    assert result.stderr.startswith("error: ") and message.format(fake=fake) in result.stderr
    assert not (tmp_path / "out" / "apparel").exists()  # nothing written before all checks pass


def test_checksum_mismatch_and_missing_folder(fake, tmp_path):
    test = fake / "MR.task.test"
    test.write_bytes(test.read_bytes().replace(b"review 3 ", b"review 4 "))
    result = run_script("--from", fake, "--out", tmp_path / "out", "--domains", "MR")
    assert result.returncode == 2
    assert "MR.task.test: SHA-256 is" in result.stderr and "Traceback" not in result.stderr
    result = run_script("--from", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert result.returncode == 2 and "no such folder" in result.stderr


@pytest.fixture
def script():
    """data_scripts/fdu_mtl.py loaded in this process."""
    with loaded_data_script("fdu_mtl") as module:
        yield module


def test_download_into_raw_then_reuse_offline(script, tmp_path, monkeypatch, capsys):
    remote = write_fake(tmp_path / "remote", domains=("MR", "imdb"), sums=False)
    for path in (remote / "unlabeled").glob("*.gz"):  # upstream keeps them uncompressed, beside the rest
        (remote / path.stem).write_bytes(gzip.decompress(path.read_bytes()))
    digests = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in remote.glob("*.task.*")}
    monkeypatch.setattr(script, "URL", remote.as_uri() + "/{name}")
    monkeypatch.setattr(script, "KNOWN_SHA256", digests)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--domains", "MR", "imdb", "--unlabeled"]
    assert script.run_cli(script.main, argv) == 0
    assert "downloads checked against known digests" in capsys.readouterr().out
    assert sorted(path.name for path in (out / "raw").iterdir()) == sorted(digests)
    shutil.rmtree(remote)  # offline now: the files in OUT/raw are reused
    assert script.run_cli(script.main, argv) == 0
    assert len(lines_of(out / "pooled" / "dev.domain")) == 400
    digests["MR.task.test"] = "0" * 64  # a cached file that differs is fetched again, and fails
    assert script.run_cli(script.main, argv) == 2
    assert "could not download" in capsys.readouterr().err


@needs_real
def test_real_data_totals_and_quirks(script, tmp_path, capsys):
    out = tmp_path / "fdu_mtl"
    assert script.run_cli(script.main, ["--from", str(REAL), "--out", str(out), "--unlabeled"]) == 0
    log = capsys.readouterr().out
    assert "48 files checked against" in log
    assert "22180 train, 3200 dev, 6400 test reviews read" in log  # the README's totals
    assert "cp1252 (MR files): 119 (MR.task.train 50, MR.task.test 11, MR.task.unlabel 58)" in log
    assert "(only where the README says): 1 (dvd.task.train line 905)" in log
    assert "empty reviews dropped: 1 (sports_outdoors.task.train line 1121)" in log
    sizes = {split: len(lines_of(out / "pooled" / f"{split}.text")) for split in SPLITS}
    assert sizes == {"train": 22180 - 1, "dev": 3200, "test": 6400}
    domains = lines_of(out / "pooled" / "train.domain")
    assert len(domains) == sizes["train"] and len(set(domains)) == 16 == len(script.DOMAINS)
    assert all(len(lines_of(out / "pooled" / f"{s}.sentiment")) == sizes[s] for s in SPLITS)
    assert len(lines_of(out / "unlabeled" / "train.text")) == 30475
    assert len(lines_of(out / "sports_outdoors" / "train.sentiment")) == 1399


@needs_real
def test_known_digests_are_those_of_the_real_data(script):
    listed = script.read_checksums(REAL / "SHA256SUMS")
    listed.update(script.read_checksums(REAL / "unlabeled" / "SHA256SUMS.uncompressed"))
    assert {name: listed[name] for name in script.KNOWN_SHA256} == script.KNOWN_SHA256
    assert len(script.KNOWN_SHA256) == 48
