#!/usr/bin/env python
"""Prepare Penn Treebank constituency trees for parsing as translation (Vinyals et al. 2015).

Reads the bracketed ``.mrg`` files (the full WSJ treebank a user licensed from the LDC, or the
free NLTK 10% sample, downloaded when ``--from`` is not given), cleans every tree with
`mtseq2seq.ptb` (empty elements removed, function tags stripped) and writes, per split,
``{split}.en`` (tokens), ``{split}.parse`` (linearized tree, words as XX, labelled closers),
``{split}.pos`` (gold POS tags) and ``{split}.ids`` (``wsj_NNNN k``: file and tree index).

Examples:
    python data_scripts/ptb.py --from ../shared/data/ptb_sample/treebank/combined --out data/ptb
    python data_scripts/ptb.py --from /corpora/treebank_3/parsed/mrg/wsj --out data/ptb_full
    python data_scripts/ptb.py --out data/ptb        # downloads the NLTK sample
"""
from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path
from typing import Callable

from common import PrepError, atomic_write_lines, download, output_dir, run_cli
from tqdm import tqdm

from mtseq2seq.data.ptb import Example, clean, read_trees, to_example
from mtseq2seq.errors import UserError

SPLITS = ("train", "dev", "test")
NLTK_COMMIT = "5db857e6f7df11eabb5e5665836db9ec8df07e28"
NLTK_URL = (f"https://raw.githubusercontent.com/nltk/nltk_data/{NLTK_COMMIT}"
            "/packages/corpora/treebank.zip")
NLTK_SHA256 = "9da92d76c3666cfb6cddeaed0f7e86b344cce0f0928a286d439e555f19c37399"
# Split rules as (first file number, last file number, split); files outside every range are unused.
RULES = {
    # The NLTK sample (wsj_0001-wsj_0199, sections 00-01) has no standard split; this one is ours.
    "sample": ((1, 159, "train"), (160, 179, "dev"), (180, 199, "test")),
    # The usual full-WSJ split: sections 02-21 train, 22 dev, 23 test (00, 01 and 24 unused).
    "standard": ((200, 2199, "train"), (2200, 2299, "dev"), (2300, 2399, "test")),
}
# (file id such as "wsj_0001", the name used in messages, reader of its text)
Source = tuple[str, str, Callable[[], str]]
DESCRIPTION = f"""\
Writes line-aligned OUT/{{train,dev,test}}.{{en,parse,pos,ids}}:
  .en     tokens as in the .mrg leaves (-LRB-, `` and '' kept), -NONE- elements removed
  .parse  linearized tree, e.g. (S (NP XX XX )NP (VP XX )VP XX )S: -NONE- elements and the
          constituents they leave empty removed, function tags and indices stripped
          (NP-SBJ-1 -> NP), each POS tag + word replaced by XX, closing brackets labelled,
          unary chains kept, the unlabeled outer bracket ( (S ...) ) dropped
  .pos    gold POS tags, one per token
  .ids    'wsj_NNNN k': source file and 0-based tree index in it

The full Penn Treebank (LDC99T42, Treebank-3) is licensed by the LDC and cannot be
downloaded: pass its parsed/mrg/wsj folder with --from. Without --from, the free NLTK
10% sample (wsj_0001-wsj_0199, 3,914 trees; non-commercial use only) is downloaded,
checked against its SHA-256 and kept in OUT/raw/treebank.zip:
  {NLTK_URL}

Outputs are replaced atomically and running again gives the same files.
Exit status 2, with one message naming the file, on any data problem."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + "\n\n" + DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, metavar="PATH", default=None,
                        help="folder searched recursively for *.mrg, or a treebank .zip "
                             "such as NLTK's treebank.zip (default: download the NLTK sample)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=Path("data/ptb"),
                        help="output folder, created if missing (default: data/ptb)")
    parser.add_argument("--split", choices=("auto", *RULES), default="auto",
                        help="split by file number: 'sample' = wsj_0001-0159 train, 0160-0179 "
                             "dev, 0180-0199 test; 'standard' = sections 02-21 train, 22 dev, 23 "
                             "test; 'auto' (default) = standard if any file is from section 02 "
                             "or later, else sample")
    parser.add_argument("--keep-punct", action="store_true",
                        help="write the POS tag of punctuation (. , : `` '' -LRB- -RRB- # $) "
                             "in .parse instead of XX")
    return parser.parse_args(argv)


def folder_sources(folder: Path) -> list[Source]:
    """Every ``*.mrg`` under ``folder`` (recursively), ordered by file name."""
    paths = sorted(folder.rglob("*.mrg"), key=lambda path: (path.name, str(path)))

    def reader(path: Path) -> Callable[[], str]:
        def read() -> str:
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise PrepError(f"{path}: cannot read it as UTF-8 text ({error})") from None
        return read

    return [(path.stem, str(path), reader(path)) for path in paths]


def zip_sources(archive: Path) -> list[Source]:
    """The ``*.mrg`` members of a treebank zip (those under ``combined/`` when there are any)."""
    try:
        with zipfile.ZipFile(archive) as opened:
            names = [name for name in opened.namelist() if name.endswith(".mrg")]
    except (OSError, zipfile.BadZipFile) as error:
        raise PrepError(f"{archive}: not a readable zip file ({error})") from None
    combined = [name for name in names if "/combined/" in f"/{name}"]
    names = sorted(combined or names, key=lambda name: (Path(name).name, name))

    def reader(name: str) -> Callable[[], str]:
        def read() -> str:
            try:
                with zipfile.ZipFile(archive) as opened:
                    return opened.read(name).decode("utf-8")
            except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as error:
                raise PrepError(f"{archive}, member {name}: cannot read it ({error})") from None
        return read

    return [(Path(name).stem, f"{archive}:{name}", reader(name)) for name in names]


def locate_sources(args: argparse.Namespace) -> tuple[str, list[Source]]:
    """A description of where the trees come from, and the files to read."""
    if args.source is None:
        archive = download(NLTK_URL, output_dir(args.out / "raw") / "treebank.zip", NLTK_SHA256)
        return f"NLTK sample {archive}", zip_sources(archive)
    if args.source.is_file() and args.source.suffix == ".zip":
        sources = zip_sources(args.source)
    elif args.source.is_dir():
        sources = folder_sources(args.source)
    else:
        raise PrepError(f"--from {args.source}: no such folder or .zip file")
    if not sources:
        raise PrepError(f"--from {args.source}: no .mrg files found (expected e.g. wsj_0001.mrg; "
                        "pass the folder holding them or one of its parents)")
    return str(args.source), sources


def file_number(file_id: str) -> int:
    """The number in a file id: ``wsj_0123`` -> 123."""
    found = re.findall(r"\d+", file_id)
    if not found:
        raise PrepError(f"{file_id}.mrg: cannot split by file number, the name has no digits "
                        "(expected names like wsj_0001.mrg)")
    return int(found[-1])


def split_of(file_id: str, rule: str) -> str | None:
    """The split a file belongs to under ``rule``, or None when the rule leaves it out."""
    number = file_number(file_id)
    for first, last, split in RULES[rule]:
        if first <= number <= last:
            return split
    return None


def convert(sources: list[Source], rule: str,
            keep_punct: bool) -> tuple[dict[str, list[tuple[str, Example]]], dict[str, int]]:
    """Convert every file into ``{split: [(id, example)]}`` plus counts of files and drops."""
    rows: dict[str, list[tuple[str, Example]]] = {split: [] for split in SPLITS}
    stats = {"files": 0, "unused files": 0, "trees": 0, "dropped trees": 0}
    for file_id, name, read in tqdm(sources, desc="convert", unit="file", disable=None):
        split = split_of(file_id, rule)
        if split is None:
            stats["unused files"] += 1
            continue
        stats["files"] += 1
        for index, raw in enumerate(read_trees(read(), source=name)):
            tree = clean(raw)
            if tree is None:  # nothing but empty elements
                stats["dropped trees"] += 1
                continue
            stats["trees"] += 1
            rows[split].append((f"{file_id} {index}", to_example(tree, keep_punct)))
    return rows, stats


def write_splits(out: Path, rows: dict[str, list[tuple[str, Example]]]) -> None:
    """Write the four line-aligned files of every split."""
    for split, items in rows.items():
        atomic_write_lines(out / f"{split}.en", (" ".join(ex.words) for _, ex in items))
        atomic_write_lines(out / f"{split}.parse", (ex.tree for _, ex in items))
        atomic_write_lines(out / f"{split}.pos", (" ".join(ex.tags) for _, ex in items))
        atomic_write_lines(out / f"{split}.ids", (ident for ident, _ in items))


def main(argv: list[str] | None = None) -> int:
    """Convert the treebank and print a summary; return the exit status."""
    args = parse_args(argv)
    origin, sources = locate_sources(args)
    rule = args.split
    if rule == "auto":
        rule = "standard" if any(file_number(source[0]) >= 200 for source in sources) else "sample"
    rows, stats = convert(sources, rule, args.keep_punct)
    if not any(rows.values()):
        raise PrepError(f"{origin}: none of the {len(sources)} .mrg files falls into the "
                        f"'{rule}' split ({RULES[rule]}); choose another --split")
    out = output_dir(args.out)
    write_splits(out, rows)
    counts = ", ".join(f"{split} {len(items)}" for split, items in rows.items())
    print(f"Penn Treebank from {origin} -> {out} ({rule} split; {stats['files']} files used, "
          f"{stats['unused files']} outside the split; {stats['dropped trees']} trees dropped "
          f"as empty)")
    print(f"  sentences: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, errors=(UserError,)))
