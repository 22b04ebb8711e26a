"""Tests for the corpus preparation scripts (data_scripts/multi30k.py, data_scripts/ptb.py) and the
Penn Treebank reader `mtseq2seq.data.ptb`.

The PTB tests compare with the reference linearization in ../shared/data/ptb_sample when it is
there and skip otherwise; the Multi30k tests build a tiny fake corpus in tmp_path.
"""
from __future__ import annotations

import gzip
import importlib.util
import subprocess
import zipfile
from pathlib import Path

import pytest

from mtseq2seq.data.ptb import clean, convert_text, read_trees, strip_label, to_example
from mtseq2seq.errors import DataError
from tests.conftest import loaded_data_script, run_data_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "data_scripts"
SAMPLE = ROOT.parent / "shared" / "data" / "ptb_sample"
MRG_DIR = SAMPLE / "treebank" / "combined"
REFERENCE = SAMPLE / "linearized"
SPLITS = ("train", "dev", "test")
# Output suffix of ptb.py -> name of the reference file.
REFERENCE_NAMES = {"en": "sents", "parse": "trees", "pos": "pos", "ids": "ids"}

needs_sample = pytest.mark.skipif(not (MRG_DIR.is_dir() and REFERENCE.is_dir()),
                                  reason="PTB sample not found in ../shared/data/ptb_sample")

TINY_MRG = """
( (S
    (NP-SBJ-1 (DT The) (NN dog) )
    (VP (VBD was)
      (VP (VBN seen)
        (NP (-NONE- *-1) )
        (PP-LOC=2 (IN in) (NP (-LRB- -LRB-) (NN park) (-RRB- -RRB-) ))))
    (. .) ))
( (S (NP-SBJ (-NONE- *) ) (VP (VB Go) ) (. !) ))
"""


def run_script(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_data_script(name, *args)


def reference_lines(split: str, name: str) -> list[str]:
    return (REFERENCE / split / f"{name}.txt").read_text(encoding="utf-8").splitlines()


# --- mtseq2seq.data.ptb on hand-written trees ---------------------------------------------------------

def test_tiny_mrg_is_cleaned_and_linearized():
    examples = convert_text(TINY_MRG)
    assert [index for index, _ in examples] == [0, 1]
    first = examples[0][1]
    # The -NONE- trace and the NP it leaves empty are gone; NP-SBJ-1 and PP-LOC=2 lose their tags.
    assert first.tree == ("(S (NP XX XX )NP (VP XX (VP XX (PP XX (NP XX XX XX )NP )PP )VP )VP "
                          "XX )S")
    assert first.words == ["The", "dog", "was", "seen", "in", "-LRB-", "park", "-RRB-", "."]
    assert first.tags == ["DT", "NN", "VBD", "VBN", "IN", "-LRB-", "NN", "-RRB-", "."]
    # The empty subject NP-SBJ disappears entirely.
    assert examples[1][1].tree == "(S (VP XX )VP XX )S"


def test_keep_punct_writes_punctuation_tags():
    example = convert_text(TINY_MRG, keep_punct=True)[0][1]
    assert example.tree.endswith("(NP -LRB- XX -RRB- )NP )PP )VP )VP . )S")


def test_strip_label_keeps_bracket_tags():
    assert [strip_label(label) for label in ("NP-SBJ-1", "PP-LOC=2", "ADVP|PRT", "NP=3", "S",
                                             "-LRB-", "-NONE-", "PRP$")] == \
        ["NP", "PP", "ADVP", "NP", "S", "-LRB-", "-NONE-", "PRP$"]


def test_trees_of_only_empty_elements_are_dropped_and_roots_handled():
    assert clean(read_trees("( (S (NP-SBJ (-NONE- *) ) ) )")[0]) is None
    assert convert_text("( (S (-NONE- *T*) ) )\n( (NP (NN x) ) )") [0][0] == 1
    # Several children under the outer bracket: they are kept under TOP.
    two = to_example(clean(read_trees("( (NP (NN a) ) (. .) )")[0]))
    assert two.tree == "(TOP (NP XX )NP XX )TOP"


@pytest.mark.parametrize("text, message", [
    ("( (S (NN a) )", "still open"),
    ("(S (NN a) ))", "closes nothing"),
    ("word (S (NN a))", "outside every bracket"),
    ("( (S (NN a) b) )", "mixes the word"),
])
def test_malformed_mrg_names_file_and_line(text, message):
    with pytest.raises(DataError, match=message) as caught:
        read_trees(text, source="x.mrg")
    assert "x.mrg" in str(caught.value)


# --- ptb.py against the reference linearization --------------------------------------------------

@needs_sample
def test_converter_matches_reference_on_a_few_files():
    ids = {split: reference_lines(split, "ids") for split in SPLITS}
    for stem, split in (("wsj_0001", "train"), ("wsj_0118", "train"), ("wsj_0165", "dev"),
                        ("wsj_0190", "test")):
        rows = [i for i, ident in enumerate(ids[split]) if ident.split()[0] == stem]
        text = (MRG_DIR / f"{stem}.mrg").read_text(encoding="utf-8")
        examples = convert_text(text, source=stem)
        assert [f"{stem} {index}" for index, _ in examples] == [ids[split][i] for i in rows]
        for name, field in (("sents", lambda e: " ".join(e.words)), ("trees", lambda e: e.tree),
                            ("pos", lambda e: " ".join(e.tags))):
            reference = reference_lines(split, name)
            assert [field(e) for _, e in examples] == [reference[i] for i in rows], (stem, name)


@pytest.fixture
def ptb_script():
    """data_scripts/ptb.py loaded in this process."""
    with loaded_data_script("ptb") as module:
        yield module


@needs_sample
def test_full_sample_equals_reference(ptb_script, tmp_path, capsys):
    out = tmp_path / "ptb"
    assert ptb_script.run_cli(ptb_script.main, ["--from", str(MRG_DIR), "--out", str(out)]) == 0
    assert "train 3396, dev 273, test 245" in capsys.readouterr().out
    for split in SPLITS:
        for suffix, name in REFERENCE_NAMES.items():
            mine = (out / f"{split}.{suffix}").read_text(encoding="utf-8").splitlines()
            assert mine == reference_lines(split, name), f"{split}.{suffix} differs from {name}.txt"


def test_ptb_script_reads_a_zip(ptb_script, tmp_path, capsys):
    archive = tmp_path / "treebank.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr("treebank/combined/wsj_0001.mrg", TINY_MRG)
        packed.writestr("treebank/combined/wsj_0170.mrg", "( (S (NP (NN a) ) (VP (VB b) ) ) )")
    assert ptb_script.main(["--from", str(archive), "--out", str(tmp_path / "out")]) == 0
    assert "sample split" in capsys.readouterr().out
    assert (tmp_path / "out" / "train.ids").read_text() == "wsj_0001 0\nwsj_0001 1\n"
    assert (tmp_path / "out" / "dev.parse").read_text() == "(S (NP XX )NP (VP XX )VP )S\n"
    assert (tmp_path / "out" / "test.en").read_text() == ""


def test_ptb_script_bad_file_is_one_clear_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "wsj_0002.mrg").write_text("( (S (NN a) )")
    result = run_script("ptb.py", "--from", tmp_path / "bad", "--out", tmp_path / "out2")
    assert result.returncode == 2
    assert "wsj_0002.mrg" in result.stderr and "Traceback" not in result.stderr


# --- multi30k.py on a fake corpus ----------------------------------------------------------------

def write_gz(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(line + "\n" for line in lines))


@pytest.fixture
def fake_multi30k(tmp_path: Path) -> Path:
    """3 languages x 3 splits of .gz files, with stray whitespace to strip."""
    folder = tmp_path / "m30k"
    folder.mkdir()
    for split, size in (("train", 5), ("val", 3), ("test_2016_flickr", 2)):
        for lang in ("en", "de", "fr"):
            write_gz(folder / f"{split}.{lang}.gz",
                     [f"  {lang} {split} caption {i} \t" for i in range(size)])
    return folder


def test_multi30k_writes_stripped_aligned_files(fake_multi30k, tmp_path):
    out = tmp_path / "out"
    for _ in range(2):  # idempotent: a second run gives the same files
        result = run_script("multi30k.py", "--from", fake_multi30k, "--out", out,
                            "--langs", "en", "de", "fr")
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}.{lang}" for s in ("train", "val", "test_2016_flickr") for lang in ("en", "de", "fr"))
    assert (out / "val.de").read_text(encoding="utf-8").splitlines() == \
        ["de val caption 0", "de val caption 1", "de val caption 2"]
    for split, size in (("train", 5), ("val", 3), ("test_2016_flickr", 2)):
        assert f"{split}" in result.stdout and f"{size} lines" in result.stdout
        assert all(len((out / f"{split}.{lang}").read_text().splitlines()) == size
                   for lang in ("en", "de", "fr"))


def test_multi30k_line_count_mismatch_is_one_clear_error(fake_multi30k, tmp_path):
    write_gz(fake_multi30k / "val.fr.gz", ["only one line"])
    result = run_script("multi30k.py", "--from", fake_multi30k, "--out", tmp_path / "out",
                        "--langs", "en", "fr")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "val.en.gz has 3 lines" in result.stderr and "val.fr.gz has 1 lines" in result.stderr
    assert not (tmp_path / "out" / "train.en").exists()  # nothing written before all checks pass


def test_multi30k_checks_sha256sums(fake_multi30k, tmp_path):
    (fake_multi30k / "SHA256SUMS").write_text("0" * 64 + "  train.en.gz\n")
    result = run_script("multi30k.py", "--from", fake_multi30k, "--out", tmp_path / "out",
                        "--langs", "en", "de")
    assert result.returncode == 2
    assert "train.en.gz" in result.stderr and "SHA-256" in result.stderr


# --- data_scripts/common.py ----------------------------------------------------------------------

def load_common():
    spec = importlib.util.spec_from_file_location("data_scripts_common", SCRIPTS / "common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_download_verifies_and_reports_offline(tmp_path):
    common = load_common()
    source = tmp_path / "remote.txt"
    source.write_bytes(b"hello\n")
    digest = common.sha256_of(source)
    dest = common.download(source.as_uri(), tmp_path / "cache" / "file.txt", sha256=digest)
    assert dest.read_bytes() == b"hello\n"
    with pytest.raises(common.PrepError, match="expected"):
        common.download(source.as_uri(), tmp_path / "cache" / "other.txt", sha256="0" * 64)
    assert not (tmp_path / "cache" / "other.txt").exists()
    with pytest.raises(common.PrepError, match="could not download .*--from"):
        common.download((tmp_path / "missing").as_uri(), tmp_path / "cache" / "missing.txt")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["file.txt"]  # no temp left


def test_multi30k_extra_tests_where_they_exist(fake_multi30k, tmp_path):
    for split, size in (("test_2017_flickr", 4), ("test_2017_mscoco", 3), ("test_2018_flickr", 2)):
        for lang in ("en", "de", "fr"):
            write_gz(fake_multi30k / f"{split}.{lang}.gz", [f"{lang} {i}" for i in range(size)])
    out = tmp_path / "out"
    result = run_script("multi30k.py", "--from", fake_multi30k, "--out", out, "--langs", "en",
                        "de", "--extra-tests")
    assert result.returncode == 0, result.stderr
    assert (out / "test_2017_mscoco.de").read_text().splitlines() == ["de 0", "de 1", "de 2"]
    assert "test_2017_flickr        4 lines x 2 languages (en de)" in result.stdout
    assert "checked against no digest" in result.stderr  # no SHA256SUMS in the fake folder
    (fake_multi30k / "test_2017_mscoco.de.gz").unlink()
    missing = run_script("multi30k.py", "--from", fake_multi30k, "--out", tmp_path / "o2",
                         "--langs", "en", "de", "--extra-tests")
    assert missing.returncode == 2 and "missing" in missing.stderr
    assert "test_2017_mscoco.de.gz" in missing.stderr


def test_multi30k_czech_has_no_2017_test_sets(fake_multi30k, tmp_path):
    for lang in ("en", "de", "fr", "cs"):
        for split in ("train", "val", "test_2016_flickr", "test_2018_flickr"):
            if not (fake_multi30k / f"{split}.{lang}.gz").exists():
                write_gz(fake_multi30k / f"{split}.{lang}.gz",
                         [f"{lang} {i}" for i in range({"train": 5, "val": 3}.get(split, 2))])
    for split in ("test_2017_flickr", "test_2017_mscoco"):
        for lang in ("en", "de", "fr"):
            write_gz(fake_multi30k / f"{split}.{lang}.gz", ["x", "y"])
    out = tmp_path / "out"
    result = run_script("multi30k.py", "--from", fake_multi30k, "--out", out, "--langs", "en",
                        "cs", "--extra-tests")
    assert result.returncode == 0, result.stderr
    assert (out / "test_2018_flickr.cs").is_file() and not (out / "test_2017_flickr.cs").exists()
    assert (out / "test_2017_flickr.en").is_file()
