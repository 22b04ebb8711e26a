#!/usr/bin/env python
"""Prepare Multi30k Task 1 (image-caption translation, en/de/fr/cs) as line-aligned text files.

Reads ``{split}.{lang}.gz`` for the splits train, val and test_2016_flickr from a local folder
(``--from``) or downloads them from the multi30k/dataset GitHub repository (pinned commit, checked
against known SHA-256 digests). Writes ``{split}.{lang}`` into ``--out``: UTF-8, one caption per
line, surrounding whitespace stripped, line *i* of every language being the same caption.

``--extra-tests`` adds the later test sets where they exist: test_2017_flickr and
test_2017_mscoco (en, de, fr) and test_2018_flickr (en, de, fr, cs); a recipe then lists them,
e.g. ``tasks.en>de.test: [test_2016_flickr, test_2017_flickr, test_2017_mscoco]``.

Examples:
    python data_scripts/multi30k.py --from ../shared/data/multi30k --out data/multi30k
    python data_scripts/multi30k.py --extra-tests --langs en de   # download, with 2017/2018
    python data_scripts/multi30k.py --langs en de          # download, then keep en and de only
"""
from __future__ import annotations

import argparse
import gzip
import sys
import zlib
from pathlib import Path

from common import PrepError, atomic_write_lines, check_sha256, download, output_dir, read_checksums, run_cli
from tqdm import tqdm

SPLITS = ("train", "val", "test_2016_flickr")
LANGS = ("en", "de", "fr", "cs")
# the later test sets and the languages each exists in (no Czech before 2018)
EXTRA_TESTS = {"test_2017_flickr": ("en", "de", "fr"), "test_2017_mscoco": ("en", "de", "fr"),
               "test_2018_flickr": ("en", "de", "fr", "cs")}
CHECKSUM_FILE = "SHA256SUMS"
RAW_DIR = "raw"
COMMIT = "a3d2e0d26b56f3846f66a952536ffed4e401d05a"
URL = f"https://raw.githubusercontent.com/multi30k/dataset/{COMMIT}/data/task1/raw/{{name}}"
# Digests of the files at COMMIT, so that a download is verified even without a SHA256SUMS file.
KNOWN_SHA256 = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "train.cs.gz": "a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "val.cs.gz": "b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
    "test_2016_flickr.cs.gz": "200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(
        description="Prepare Multi30k Task 1 for the splits " + ", ".join(SPLITS) + ": read "
                    "{split}.{lang}.gz from --from DIR (or download them from "
                    f"github.com/multi30k/dataset at commit {COMMIT[:8]} into OUT/{RAW_DIR}/ when "
                    "--from is not given), verify DIR/SHA256SUMS when present, strip whitespace "
                    "around every line, check that all languages of a split have the same number "
                    "of lines, and write {split}.{lang} into OUT (each file replaced atomically; "
                    "running again gives the same files). Exit status 2 on any data problem. "
                    "Terms: non-commercial research/educational use (Flickr30K-derived).")
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR", default=None,
                        help="folder holding the .gz files (default: download them)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=Path("data/multi30k"),
                        help="output folder, created if missing (default: data/multi30k)")
    parser.add_argument("--langs", nargs="+", choices=LANGS, default=list(LANGS), metavar="LANG",
                        help=f"languages to prepare, any of {' '.join(LANGS)} (default: all)")
    parser.add_argument("--extra-tests", action="store_true",
                        help="also the test sets " + ", ".join(EXTRA_TESTS) + " in the languages "
                             "each exists in (this script knows no digests for them: downloads "
                             "are checked only against --from's SHA256SUMS, when given)")
    return parser.parse_args(argv)


def wanted_files(langs: list[str], extra_tests: bool) -> list[tuple[str, str]]:
    """(split, lang) of every file to prepare: each split in each language it exists in."""
    splits = {split: LANGS for split in SPLITS}
    if extra_tests:
        splits.update(EXTRA_TESTS)
    return [(split, lang) for split, have in splits.items() for lang in langs if lang in have]


def locate_sources(args: argparse.Namespace, names: list[str]) -> tuple[Path, dict[str, str]]:
    """The folder to read and the checksums to check there (empty when nothing to check).

    Without ``--from`` the files are downloaded (each verified against `KNOWN_SHA256`) into
    ``OUT/raw``, where later runs find them again.
    """
    if args.source is None:
        folder = output_dir(args.out / RAW_DIR)
        for name in tqdm(names, desc="download", unit="file", disable=None):
            download(URL.format(name=name), folder / name, sha256=KNOWN_SHA256.get(name))
        return folder, {}
    if not args.source.is_dir():
        raise PrepError(f"--from {args.source}: no such folder (expected the folder holding "
                        "train.en.gz, val.en.gz, test_2016_flickr.en.gz, ...)")
    sums_path = args.source / CHECKSUM_FILE
    return args.source, read_checksums(sums_path) if sums_path.is_file() else {}


def read_lines(path: Path) -> list[str]:
    """The stripped lines of a gzip (``.gz``) or plain UTF-8 text file.

    Lines are split on ``\\n`` only, so that unusual characters such as U+2028 inside a caption
    cannot break the alignment between languages.
    """
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        text = data.decode("utf-8")
    except (OSError, EOFError, zlib.error) as error:
        raise PrepError(f"{path}: cannot read or unpack it ({error})") from None
    except UnicodeDecodeError as error:
        raise PrepError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


def find_file(folder: Path, split: str, lang: str) -> Path:
    """``{split}.{lang}.gz`` in ``folder``, else ``{split}.{lang}``; raise if neither."""
    packed = folder / f"{split}.{lang}.gz"
    for candidate in (packed, folder / f"{split}.{lang}"):
        if candidate.is_file():
            return candidate
    raise PrepError(f"missing {packed}: Multi30k Task 1 files are named {{split}}.{{lang}}.gz "
                    f"with split in {', '.join((*SPLITS, *EXTRA_TESTS))} and lang in "
                    f"{', '.join(LANGS)}")


def check_aligned(split: str, counts: dict[Path, int]) -> None:
    """Raise `PrepError` naming every file and its line count unless all counts are equal."""
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{path} has {count} lines" for path, count in counts.items())
        raise PrepError(f"split {split}: the languages are not line-parallel: {listing}")


def read_corpus(folder: Path, sums: dict[str, str],
                files: list[tuple[str, str]]) -> dict[str, dict[str, list[str]]]:
    """Read, verify and align-check every split; returns ``{split: {lang: lines}}``."""
    paths = {(split, lang): find_file(folder, split, lang) for split, lang in files}
    corpus: dict[str, dict[str, list[str]]] = {split: {} for split, _ in files}
    for (split, lang), path in tqdm(paths.items(), desc="read", unit="file", disable=None):
        if path.name in sums:
            check_sha256(path, sums[path.name])
        corpus[split][lang] = lines = read_lines(path)
        empty = lines.count("")
        if empty:
            print(f"warning: {path} has {empty} empty line(s); kept so that the languages stay "
                  "aligned", file=sys.stderr)
    for split, texts in corpus.items():
        check_aligned(split, {paths[split, lang]: len(lines) for lang, lines in texts.items()})
    return corpus


def main(argv: list[str] | None = None) -> int:
    """Prepare the corpus and print a summary; return the exit status."""
    args = parse_args(argv)
    langs = list(dict.fromkeys(args.langs))
    files = wanted_files(langs, args.extra_tests)
    names = [f"{split}.{lang}.gz" for split, lang in files]
    folder, sums = locate_sources(args, names)
    corpus = read_corpus(folder, sums, files)
    out = output_dir(args.out)
    for split, texts in corpus.items():
        for lang, lines in texts.items():
            atomic_write_lines(out / f"{split}.{lang}", lines)
    checked = sum(1 for name in names if name in sums)
    verified = (f"{checked} files checked against {folder / CHECKSUM_FILE}" if checked else
                "downloads checked against known digests" if args.source is None else
                f"no checksums checked (no {CHECKSUM_FILE} entries in {folder})")
    print(f"Multi30k Task 1 ({' '.join(langs)}) -> {out}; {verified}")
    unverified = [name for name in names if name not in sums and name not in KNOWN_SHA256]
    if unverified:
        print(f"warning: {len(unverified)} file(s) checked against no digest: "
              f"{', '.join(unverified)}", file=sys.stderr)
    for split, texts in corpus.items():
        print(f"  {split:<18} {len(next(iter(texts.values()))):>6} lines x {len(texts)} "
              f"languages ({' '.join(texts)})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
