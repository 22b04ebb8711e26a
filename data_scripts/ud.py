#!/usr/bin/env python
"""Prepare Universal Dependencies English-EWT (v2.16) for POS tagging as line-aligned text files.

Reads ``en_ewt-ud-{train,dev,test}.conllu`` from a local folder (``--from``) or downloads them
from github.com/UniversalDependencies/UD_English-EWT (tag r2.16, checked against known SHA-256
digests). Writes ``{split}.en`` (the words, space-separated) and ``{split}.upos`` (their UPOS
tags, space-separated) into ``--out``: one sentence per line, the same number of items on line
*i* of both files.

Multiword tokens: a range line such as ``3-4 don't`` is skipped and its syntactic words
(``3 do``, ``4 n't``) are written, because UPOS tags (like heads and relations) belong to the
syntactic words: the range line has ``_`` in every column but FORM. UNER English-EWT uses the
same words, so its labels line up with these. Empty nodes (ids such as ``8.1``, enhanced
dependencies only) are not words of the sentence and are skipped too.

Words containing whitespace (CoNLL-U allows a FORM such as ``2 000``; v2.16 EWT has none) would
split into several items for any whitespace tokenizer and break the word/tag alignment, so each
run of whitespace inside a word is replaced by ``_`` (counted in the summary). A no-break space
U+00A0 was not used: Python's ``str.split()``, which the toolkit uses, splits on it too.

The helpers below (reading lines, blocks, checks, sources) are shared with ``ner.py``.

Examples:
    python data_scripts/ud.py --from ../shared/data/ud_en_ewt --out data/ud_en_ewt
    python data_scripts/ud.py --out data/ud_en_ewt        # download the r2.16 files
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator

from common import PrepError, atomic_write_lines, check_sha256, download, output_dir, read_checksums, run_cli
from tqdm import tqdm

SPLITS = ("train", "dev", "test")
CHECKSUM_FILE = "SHA256SUMS"
RAW_DIR = "raw"
TAG = "r2.16"
URL = f"https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/{TAG}/{{name}}"
NAME = "en_ewt-ud-{split}.conllu"
# Digests of the r2.16 files, so that a download is verified even without a SHA256SUMS file.
KNOWN_SHA256 = {
    "en_ewt-ud-train.conllu": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    "en_ewt-ud-dev.conllu": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
    "en_ewt-ud-test.conllu": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
}
# (sentences, syntactic words) of v2.16, as in its stats.xml.
EXPECTED = {"train": (12544, 204577), "dev": (2001, 25147), "test": (2077, 25094)}
UPOS = frozenset("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X"
                 .split())
WORD_JOINER = "_"
# (line number of the first line, [(line number, line)]) for one blank-line-separated block.
Block = tuple[int, list[tuple[int, str]]]
# The words and the tags (UPOS or NER labels) of one sentence.
Sentence = tuple[list[str], list[str]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(
        description="Prepare UD English-EWT v2.16 for POS tagging: read "
                    f"{NAME.format(split='{train,dev,test}')} from --from DIR (or download them "
                    f"from github.com/UniversalDependencies/UD_English-EWT, tag {TAG}, into "
                    f"OUT/{RAW_DIR}/ when --from is not given), verify DIR/{CHECKSUM_FILE} when "
                    "present (downloads: known digests), and write {split}.en (words) and "
                    "{split}.upos (UPOS tags) into OUT, one sentence per line, the same count on "
                    "each line. Multiword-token range lines (3-4) are skipped and their syntactic "
                    "words written, since the tags belong to those; empty nodes (8.1) are "
                    f"skipped; whitespace inside a word becomes '{WORD_JOINER}'. Sentence and "
                    "word counts must equal v2.16's (train 12,544 / dev 2,001 / test 2,077 "
                    "sentences) unless --no-count-check. Files are replaced atomically; running "
                    "again gives the same files. Exit status 2, with one message naming the "
                    "file and line, on any data problem. License: CC BY-SA 4.0.")
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR", default=None,
                        help="folder holding the .conllu files (default: download them)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=Path("data/ud_en_ewt"),
                        help="output folder, created if missing (default: data/ud_en_ewt)")
    parser.add_argument("--no-count-check", dest="count_check", action="store_false",
                        help="accept sentence and word counts other than v2.16's (another "
                             "release, or your own files)")
    return parser.parse_args(argv)


# --- helpers shared with ner.py ------------------------------------------------------------------

def locate_sources(source: Path | None, out: Path, names: list[str], url: str,
                   known: dict[str, str], option: str = "--from") -> tuple[Path, dict[str, str]]:
    """The folder holding ``names`` and the checksums to check there (empty when none).

    Without ``source`` the files are downloaded from ``url`` (each verified against ``known``)
    into ``out/raw``, where later runs find them again. ``option`` names ``source`` in messages.
    """
    if source is None:
        folder = output_dir(out / RAW_DIR)
        try:
            for name in tqdm(names, desc="download", unit="file", disable=None):
                download(url.format(name=name), folder / name, sha256=known[name])
        except PrepError as error:  # its advice names --from
            raise PrepError(str(error).replace("point --from", f"point {option}")) from None
        return folder, {}
    if not source.is_dir():
        raise PrepError(f"{option} {source}: no such folder (expected the folder holding "
                        f"{', '.join(names)})")
    for name in names:
        if not (source / name).is_file():
            raise PrepError(f"missing {source / name} (expected {', '.join(names)} in {source})")
    sums_path = source / CHECKSUM_FILE
    return source, read_checksums(sums_path) if sums_path.is_file() else {}


def checked_summary(folder: Path, sums: dict[str, str], names: list[str], downloaded: bool) -> str:
    """Which checksums were checked, in words, for the summary line."""
    checked = sum(1 for name in names if name in sums)
    return (f"{checked} files checked against {folder / CHECKSUM_FILE}" if checked else
            "downloads checked against known digests" if downloaded else
            f"no checksums checked (no {CHECKSUM_FILE} entries in {folder})")


def read_lines(path: Path, sums: dict[str, str]) -> list[str]:
    """The lines of a UTF-8 file (after its SHA-256 check when ``sums`` lists it).

    Lines are split on ``\\n`` only (a trailing ``\\r`` is dropped), so that characters such as
    U+2028 inside a word cannot split a sentence.
    """
    if path.name in sums:
        check_sha256(path, sums[path.name])
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise PrepError(f"{path}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise PrepError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def blocks(lines: list[str]) -> Iterator[Block]:
    """The blank-line-separated blocks of ``lines`` with their 1-based line numbers."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            block.append((number, line))
        elif block:
            yield block[0][0], block
            block = []
    if block:
        yield block[0][0], block


def join_spaces(word: str) -> str:
    """``word`` with each run of whitespace inside it replaced by `WORD_JOINER` (``_`` if blank)."""
    return WORD_JOINER.join(word.split()) or WORD_JOINER


def check_counts(path: Path, got: tuple[int, ...], expected: tuple[int, ...],
                 what: tuple[str, ...], hint: str) -> None:
    """Raise `PrepError` naming ``path`` unless the counts ``got`` equal ``expected``."""
    if got != expected:
        listing = ", ".join(f"{g:,} {w} (expected {e:,})"
                            for g, e, w in zip(got, expected, what) if g != e)
        raise PrepError(f"{path}: {listing}. {hint}; pass --no-count-check to accept it")


def write_split(out: Path, split: str, suffix: str, sentences: list[Sentence]) -> None:
    """Write ``{split}.en`` and ``{split}.{suffix}``, one sentence per line, atomically."""
    atomic_write_lines(out / f"{split}.en", (" ".join(words) for words, _ in sentences))
    atomic_write_lines(out / f"{split}.{suffix}", (" ".join(tags) for _, tags in sentences))


# --- CoNLL-U --------------------------------------------------------------------------------------

def parse_sentence(path: Path, block: list[tuple[int, str]], stats: dict[str, int]) -> Sentence:
    """The words and UPOS tags of one CoNLL-U sentence; ranges and empty nodes skipped."""
    words: list[str] = []
    tags: list[str] = []
    for number, line in block:
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        where = f"{path}, line {number}"
        if len(columns) != 10:
            raise PrepError(f"{where}: expected 10 TAB-separated CoNLL-U columns, "
                            f"got {len(columns)}: {line[:60]!r}")
        ident, form, upos = columns[0], columns[1], columns[3]
        if "-" in ident or "." in ident:
            stats["multiword tokens" if "-" in ident else "empty nodes"] += 1
            continue
        if ident != str(len(words) + 1):
            raise PrepError(f"{where}: word id {ident!r}, expected {len(words) + 1} (ids must "
                            "run 1, 2, ... in each sentence)")
        if upos not in UPOS:
            raise PrepError(f"{where}: UPOS {upos!r} is not one of {' '.join(sorted(UPOS))}")
        word = join_spaces(form)
        stats["words with spaces"] += word != form
        words.append(word)
        tags.append(upos)
    return words, tags


def read_conllu(path: Path, sums: dict[str, str], stats: dict[str, int]) -> list[Sentence]:
    """Every sentence of a CoNLL-U file (blocks of comments only are skipped)."""
    sentences = []
    for _, block in blocks(read_lines(path, sums)):
        words, tags = parse_sentence(path, block, stats)
        if words:
            sentences.append((words, tags))
    return sentences


def main(argv: list[str] | None = None) -> int:
    """Prepare the treebank and print a summary; return the exit status."""
    args = parse_args(argv)
    names = [NAME.format(split=split) for split in SPLITS]
    folder, sums = locate_sources(args.source, args.out, names, URL, KNOWN_SHA256)
    corpus: dict[str, list[Sentence]] = {}
    stats: dict[str, dict[str, int]] = {}
    for split in tqdm(SPLITS, desc="read", unit="file", disable=None):
        path = folder / NAME.format(split=split)
        stats[split] = dict.fromkeys(("multiword tokens", "empty nodes", "words with spaces"), 0)
        corpus[split] = read_conllu(path, sums, stats[split])
        if args.count_check:
            got = (len(corpus[split]), sum(len(words) for words, _ in corpus[split]))
            check_counts(path, got, EXPECTED[split], ("sentences", "words"),
                         "That is not the UD English-EWT v2.16 file")
    out = output_dir(args.out)
    for split, sentences in corpus.items():
        write_split(out, split, "upos", sentences)
    print(f"UD English-EWT from {folder} -> {out}; "
          f"{checked_summary(folder, sums, names, args.source is None)}")
    for split, sentences in corpus.items():
        count = stats[split]
        print(f"  {split:<5} {len(sentences):>6,} sentences {sum(len(w) for w, _ in sentences):>8,} "
              f"words ({count['multiword tokens']:,} multiword-token ranges and "
              f"{count['empty nodes']:,} empty nodes skipped; {count['words with spaces']:,} "
              f"words with spaces joined with '{WORD_JOINER}')")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
