#!/usr/bin/env python
"""Prepare FDU-MTL (review sentiment in 16 domains, Liu, Qiu & Huang 2017) as line-aligned text files.

Examples:
    python data_scripts/fdu_mtl.py --from ../shared/data/fdu_mtl --out data/fdu_mtl
    python data_scripts/fdu_mtl.py --unlabeled        # download, and also write OUT/unlabeled/
"""
from __future__ import annotations

import argparse
import gzip
import re
import sys
import zlib
from collections import Counter
from pathlib import Path

from common import PrepError, atomic_write_lines, check_sha256, download, output_dir, read_checksums, run_cli
from tqdm import tqdm

SPLITS = ("train", "dev", "test")
DEV_SIZE = 200
# The README's table: lines of <domain>.task.train (train + the last 200 as dev), .task.test, unlabeled.
DOMAINS = {
    "apparel": (1600, 400, 2000), "baby": (1500, 400, 2000), "books": (1600, 400, 2000),
    "camera_photo": (1597, 400, 2000), "dvd": (1600, 400, 2000), "electronics": (1598, 400, 2000),
    "health_personal_care": (1600, 400, 2000), "imdb": (1600, 400, 2000),
    "kitchen_housewares": (1600, 400, 2000), "magazines": (1570, 400, 2000), "MR": (1600, 400, 2000),
    "music": (1600, 400, 2000), "software": (1515, 400, 475), "sports_outdoors": (1600, 400, 2000),
    "toys_games": (1600, 400, 2000), "video": (1600, 400, 2000),
}
KINDS = ("train", "test", "unlabel")  # the files <domain>.task.<kind>, in the order of DOMAINS' counts
ENCODINGS = {"MR": "cp1252"}  # every other file is UTF-8
BROKEN_UTF8 = {("dvd.task.train", 905)}  # the README's one truncated sequence, b"clich\xef\xbf"
LINE_BREAKS = re.compile("[\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # str.splitlines() breaks at these too
C1_CONTROLS = re.compile("[\x80-\x84\x86-\x9f]")  # cp1252 bytes once read as Latin-1 (imdb)
C1_AS_CP1252 = {chr(byte): bytes([byte]).decode("cp1252", errors="replace").replace("\ufffd", " ")
                for byte in range(0x80, 0xA0)}  # a space for the 5 bytes that cp1252 leaves undefined
QUIRKS = {
    "cp1252": "non-ASCII characters decoded as cp1252 (MR files)",
    "breaks": "line separators inside a review (U+0085 NEL, U+2028, ...) replaced by a space",
    "c1": "other C1 control characters (a cp1252 mix-up) replaced by their cp1252 character",
    "utf8": "broken UTF-8 sequences decoded as U+FFFD (only where the README says)",
    "empty": "empty reviews dropped",
}
CHECKSUM_FILE = "SHA256SUMS"
RAW_DIR = "raw"
COMMIT = "b57b4c14340db1ca7bffb5d9737b7c2601dc8df2"
URL = f"https://raw.githubusercontent.com/ccsasuke/man/{COMMIT}/data/fdu-mtl/{{name}}"
# Digests of the files at COMMIT (the .task.unlabel files there are not gzipped).
KNOWN_SHA256 = {
    "MR.task.test": "82ec2a6d570978d173240dfd655c25e151761d7d0ace365725745a361e6fabea",
    "MR.task.train": "a6f222085a50061dd560c3beafc968679abae74683e3d18a66b619c5e2d178dc",
    "apparel.task.test": "8e591ec14fa0e3d26837b9a40c99d3a93b49f47e7a3fbe4d0afe1b4e1dd45439",
    "apparel.task.train": "589702d71eded8ca23907acf6e434f203c8c6feb09737106f77f03707641ffc3",
    "baby.task.test": "8763bb4b8bbf83b93b6aab03706719fc742fb7d89830a6bd95ea1c2490ea58f7",
    "baby.task.train": "0d884186f3aef0e12dafac0a875887fe631de0df992b15158ab177763882bf57",
    "books.task.test": "b451ac03e48b599bf35dd1a450158389e1ac9018950e95c631053ac14a5b10ad",
    "books.task.train": "40c4c5971165b9e0a509a60472c3bf06c8e1430d4944833141eb3c34d986b65e",
    "camera_photo.task.test": "3fdea0837d6c41f04720dce8d2e690bbdeb5019ecac749f8f38472ac1dcfa439",
    "camera_photo.task.train": "425bf93c303b2f38d2f53649508ea9e55d0114679ecb00fda5c2c15ebbe9e708",
    "dvd.task.test": "762e6e030892375eda4f211be58624a3bb6a07c966901c79b803837d21fca4b5",
    "dvd.task.train": "47334240d9cef76ac5f15a10f9082c3d2c6e7f9a9bb0478a3800ede2a0300771",
    "electronics.task.test": "a4d2e7d2a5b8b501a6611e45e1b241aa0d601388b79265cfc94c203cb52f8b8c",
    "electronics.task.train": "bb2f28c4a20e3d075dd71ff049970bd445f4d47bcc8404a68eb03850413a8da7",
    "health_personal_care.task.test": "07f289177da7ebe71f1ac2ee3d5a25f190913e2a11116f0fb55862e01b60a331",
    "health_personal_care.task.train": "384f1ec3d76a2f755844cac4bd7725b86bc79910dae60fc33f133e380f827b4a",
    "imdb.task.test": "dc708b7338157a6be56a1ded26abd97f82284d0e736876a6b833ad59e8a2cd53",
    "imdb.task.train": "16dd91ee7aebde130cfeb4d1c58bfe221ad87f1862fdb8ae694693eec3432caa",
    "kitchen_housewares.task.test": "86bcc015f7cfa773880951830ac6161dc2b8717e8a69773ca11a5bd6529b2020",
    "kitchen_housewares.task.train": "df5c9e8473b084a6b252dfbb5e074adcaacb9638a882fee3f20d62d747f45d6f",
    "magazines.task.test": "620ecd0ccd7b7f73483b8cdcef5ca07dff92e2d57c9cf4b6e9f7d669a681f6c3",
    "magazines.task.train": "d4805a9f094c1c7befa64bc42ea846261b1290a2fd120c46f45c9e89faf782ae",
    "music.task.test": "54a157c56930b9e587b6b955fe4b2e3258d2f70d0d58ccbbf40a4bfd846ee204",
    "music.task.train": "f0b41243475c16391a02e91d87710ed87d68927d4d77f526a3d2369a98ac572e",
    "software.task.test": "3b92617a5b3ad618b7aaab98546d49c2a69f46dedbceb4ec14dee1cbb4ff02d3",
    "software.task.train": "a050cb3ea22b94b21ce70acff3a23eabd1f39307bd862d6c0cc23170eb4830f4",
    "sports_outdoors.task.test": "77394d7c91fbc69cc16bfaf79f1f945999fe2d8e0fc536f1f79d17089e611f49",
    "sports_outdoors.task.train": "062ac0e2fb04a81c1f06f15b219634810a323a2ee187750e2f479030ebad0326",
    "toys_games.task.test": "6ee304a53f25697ee96bcb60fe07cc36d282ef343c3e0f8ae09df669ec39b116",
    "toys_games.task.train": "bb8404d3b48ab02bca2a75bb1e245297aac36b8143a81549f6485b4c2d24dd10",
    "video.task.test": "8de7a49ee3001409c9049b1f52949d78c7875cb92e031b43f5cef681dfd341e4",
    "video.task.train": "2867b3e5fffc44132aa61ff49dd608eeacc503b2c9c2133680f0cb4a7a258f3e",
    "MR.task.unlabel": "fa9dee0e94afe5a6d58f1670ac7db53c450e0f806f158dea78fb766f1ee053bb",
    "apparel.task.unlabel": "7dc0cf126e07552b41d2574627a3a6d0d9c3f958a368fe5e41d8cd353b0f4a3f",
    "baby.task.unlabel": "f4f2be61dddc8165ba40d9fc90d51a21c0c9d1f4b6eaa20c93fd3f9d9a8c95e2",
    "books.task.unlabel": "5121a335a736523b5bd0dc47e05da2b085bf6f42aec2ca20ba7142d620241563",
    "camera_photo.task.unlabel": "d94c682441e8b8a57ff992e244ef0137e07528cd9f3631874f89e2d40aefca04",
    "dvd.task.unlabel": "5673c05efcefbf5d38a1ca7e1110cbf58a95e1b02a7a0c729c46f2ba21f223bf",
    "electronics.task.unlabel": "da24efbec0053b8b8383e530dab3e4a358e75ae2e65d09624c6843bad30f69a8",
    "health_personal_care.task.unlabel": "70bd1a5b004f2d0edc6bcf0ec6ff5c464f232a351bdcf4b88d4a655d97110355",
    "imdb.task.unlabel": "ea4e02252cf95661af402ef7b7b6b9addc0a0666a03d8d7b81eefb08af0b413d",
    "kitchen_housewares.task.unlabel": "6255b3597385952d45920ce4451291a246ecd997ef75d964ff56fff9e31ad9e7",
    "magazines.task.unlabel": "87de41f73d65b525d2918833a944427196cd4a0346d9d083086b4814333fd9bd",
    "music.task.unlabel": "3f2ee8a5becb232368d2bc599ab131778558e05009f8f6957ce2a10106a6ea9a",
    "software.task.unlabel": "a34c6f844ba0ac1a8d3325b396451c6b6f8928f219f22408192c417357497b80",
    "sports_outdoors.task.unlabel": "7742f40a8b02cd5701a647d6ccaf3746bb863af28cdd6fa0404b507b131b9ca4",
    "toys_games.task.unlabel": "8808944481c5478a94f231f2fb9541036c5f882de225e2cb8357ab42fd59696d",
    "video.task.unlabel": "0178424fe97c0203c0f3cabcb31e1370bf656895b76a189ecf1ecfd151abe3f2",
}
DESCRIPTION = f"""\
Reads <domain>.task.train and .task.test ('label<TAB>text' a line, 1 = positive, 0 = negative)
of the 16 domains. dev = the last {DEV_SIZE} lines of .task.train (as in MAN), train = the rest;
line counts must match the dataset README (22,180 / 3,200 / 6,400 reviews in all). Writes, per
domain D (a task with data_dir OUT/D, encoder slot 'text', label slot 'sentiment'):
  OUT/D/{{train,dev,test}}.{{text,sentiment}}
and a pooled topic task (the chosen domains concatenated in the fixed order listed below):
  OUT/pooled/{{train,dev,test}}.{{text,sentiment,domain}}   (domain: the domain's name)
With --unlabeled also OUT/unlabeled/train.{{text,domain}} from the unlabeled reviews.

Files are split on LF only. MR is decoded as cp1252, the rest as UTF-8 (the one known broken
sequence, dvd.task.train line 905, becomes U+FFFD; any other is an error). Inside a review,
line separators (U+0085 NEL, U+2028, ...) become spaces, other C1 controls (imdb) their cp1252
character, whitespace runs one space; empty reviews are dropped. Each is counted. Duplicates
are kept, as upstream. --from DIR: the folder of the *.task.* files (unlabeled ones in
DIR/unlabeled/ as .gz, or beside the others); DIR/{CHECKSUM_FILE} is checked when present.
Without --from, they are downloaded from github.com/ccsasuke/man at commit {COMMIT[:8]}
(data/fdu-mtl/) into OUT/{RAW_DIR}/ and checked against known SHA-256 digests. Outputs are
replaced atomically; running again gives the same files. Exit status 2, with one message
naming the file and line, on any data problem. No license is stated for the data: treat it
as research-only benchmark data."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + "\n\n" + DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR", default=None,
                        help="folder holding the .task.* files (default: download them)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=Path("data/fdu_mtl"),
                        help="output folder, created if missing (default: data/fdu_mtl)")
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS), metavar="D",
                        help=f"domains to prepare, any of {' '.join(DOMAINS)} (default: all)")
    parser.add_argument("--unlabeled", action="store_true",
                        help="also write OUT/unlabeled/train.{text,domain} (30,475 reviews)")
    return parser.parse_args(argv)


def locate_sources(args: argparse.Namespace, domains: list[str]) -> tuple[Path, dict[str, str]]:
    """The folder to read and its checksums; without ``--from``, download (and verify) into OUT/raw."""
    if args.source is None:
        folder = output_dir(args.out / RAW_DIR)
        names = [f"{domain}.task.{kind}" for domain in domains for kind in KINDS[:3 if args.unlabeled else 2]]
        for name in tqdm(names, desc="download", unit="file", disable=None):
            download(URL.format(name=name), folder / name, sha256=KNOWN_SHA256[name])
        return folder, {}
    if not args.source.is_dir():
        raise PrepError(f"--from {args.source}: no such folder (expected one holding apparel.task.train ...)")
    sums_path = args.source / CHECKSUM_FILE
    return args.source, read_checksums(sums_path) if sums_path.is_file() else {}


def find_file(folder: Path, name: str) -> Path:
    """``folder/name`` (an unlabeled file also in ``unlabeled/``, gzipped or not); raise if missing."""
    options = [f"unlabeled/{name}.gz", f"unlabeled/{name}", name] if name.endswith(".unlabel") else [name]
    for option in options:
        if (folder / option).is_file():
            return folder / option
    raise PrepError(f"missing {folder / options[0]}: FDU-MTL files are named <domain>.task.train, "
                    f".task.test and unlabeled/<domain>.task.unlabel.gz, domain in {', '.join(DOMAINS)}")


def load(path: Path, folder: Path, sums: dict[str, str], checked: list[Path]) -> bytes:
    """The bytes of a source file (unpacked if gzipped), checked when ``sums`` lists it."""
    if (relative := path.relative_to(folder).as_posix()) in sums:
        check_sha256(path, sums[relative])
        checked.append(path)
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if path.suffix == ".gz" else data
    except (OSError, EOFError, zlib.error) as error:
        raise PrepError(f"{path}: cannot read or unpack it ({error})") from None


def decode_lines(path: Path, data: bytes, encoding: str, quirks: Counter) -> list[str]:
    """The lines of ``data``, split on LF only (never on U+0085) and decoded one by one."""
    name, lines = path.name.removesuffix(".gz"), data.removesuffix(b"\n").split(b"\n") if data else []
    decoded = []
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            if (name, number) not in BROKEN_UTF8:
                raise PrepError(f"{path}, line {number}: not valid {encoding} (byte {error.start + 1}: "
                                f"{error.reason}); the README knows of no broken text there") from None
            text = raw.decode(encoding, errors="replace")
            quirks["utf8", name, number] += 1
        if encoding != "utf-8":
            quirks["cp1252", name, None] += sum(ord(char) > 127 for char in text)
        decoded.append(text)
    for known, number in BROKEN_UTF8:
        if known == name and len(lines) >= number and not quirks["utf8", name, number]:
            raise PrepError(f"{path}, line {number}: valid UTF-8, but the README describes a truncated "
                            "sequence there: this is another version of the file")
    return decoded


def clean(text: str, name: str, quirks: Counter) -> str:
    """``text`` with line separators and C1 controls replaced, and whitespace collapsed."""
    text, breaks = LINE_BREAKS.subn(" ", text)
    text, controls = C1_CONTROLS.subn(lambda match: C1_AS_CP1252[match.group()], text)
    quirks["breaks", name, None] += breaks
    quirks["c1", name, None] += controls
    return " ".join(text.split())


def read_reviews(path: Path, data: bytes, domain: str, quirks: Counter) -> list[tuple[str, str]]:
    """``(sentiment, clean text)`` of each line of a source file (sentiment '' when unlabeled)."""
    name, kind = path.name.removesuffix(".gz"), path.name.split(".")[2]
    lines = decode_lines(path, data, ENCODINGS.get(domain, "utf-8"), quirks)
    if len(lines) != DOMAINS[domain][KINDS.index(kind)]:
        raise PrepError(f"{path} has {len(lines)} lines, the README's table says "
                        f"{DOMAINS[domain][KINDS.index(kind)]}: the copy is incomplete or another version")
    reviews = []
    for number, line in enumerate(lines, start=1):
        label, tab, text = ("", "\t", line) if kind == "unlabel" else line.partition("\t")
        if kind != "unlabel" and (not tab or label not in ("0", "1")):
            raise PrepError(f"{path}, line {number}: {f'label {label!r}' if tab else 'no TAB'}; "
                            "expected '<0 or 1><TAB><review text>' (1 = positive, 0 = negative)")
        reviews.append((label, clean(text, name, quirks)))
        if not reviews[-1][1]:
            quirks["empty", name, number] += 1
    return reviews


def read_corpus(folder: Path, sums: dict[str, str], domains: list[str], unlabeled: bool,
                quirks: Counter, checked: list[Path]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """``{domain: {split: [(sentiment, text)]}}`` without empty reviews, plus 'unlabeled' if asked."""
    corpus = {}
    for domain in tqdm(domains, desc="read", unit="domain", disable=None):
        files = {kind: find_file(folder, f"{domain}.task.{kind}") for kind in KINDS[:3 if unlabeled else 2]}
        read = {kind: read_reviews(path, load(path, folder, sums, checked), domain, quirks)
                for kind, path in files.items()}
        parts = {"train": read["train"][:-DEV_SIZE], "dev": read["train"][-DEV_SIZE:], "test": read["test"]}
        if unlabeled:
            parts["unlabeled"] = read["unlabel"]
        corpus[domain] = {part: [row for row in reviews if row[1]] for part, reviews in parts.items()}
    return corpus


def write_outputs(out: Path, corpus: dict[str, dict[str, list[tuple[str, str]]]]) -> None:
    """Write the per-domain folders, the pooled task and (when read) the unlabeled reviews."""
    for domain, parts in corpus.items():
        for split in SPLITS:
            atomic_write_lines(out / domain / f"{split}.text", (text for _, text in parts[split]))
            atomic_write_lines(out / domain / f"{split}.sentiment", (label for label, _ in parts[split]))
    for part in next(iter(corpus.values())):
        rows = [(domain, *review) for domain, parts in corpus.items() for review in parts[part]]
        stem = out / "pooled" / part if part in SPLITS else out / "unlabeled" / "train"
        atomic_write_lines(stem.with_suffix(".text"), (text for _, _, text in rows))
        atomic_write_lines(stem.with_suffix(".domain"), (domain for domain, _, _ in rows))
        if part in SPLITS:
            atomic_write_lines(stem.with_suffix(".sentiment"), (label for _, label, _ in rows))


def summary(corpus: dict[str, dict[str, list[tuple[str, str]]]], quirks: Counter) -> list[str]:
    """The report: reviews (negative/positive) per domain and split, then every quirk counter."""
    def cell(part: str, reviews: list[tuple[str, str]]) -> str:
        negative = sum(label == "0" for label, _ in reviews)
        return f"{len(reviews)}" + ("" if part == "unlabeled" else f" ({negative}/{len(reviews) - negative})")

    parts = list(next(iter(corpus.values())))
    total = {part: [review for parts in corpus.values() for review in parts[part]] for part in parts}
    lines = [f"  {'domain':<22}" + "".join(f"{part} (neg/pos)".ljust(20) for part in SPLITS)
             + ("unlabeled" if "unlabeled" in parts else "")]
    for domain, reviews in {**corpus, "total": total}.items():
        lines.append(f"  {domain:<22}{''.join(cell(p, reviews[p]).ljust(20) for p in parts)}".rstrip())
    lines.append("quirks:")
    for kind, meaning in QUIRKS.items():
        found = {key: count for key, count in quirks.items() if key[0] == kind and count}
        places = ", ".join(f"{name} line {number}" if number else f"{name} {count}"
                           for (_, name, number), count in found.items())
        lines.append(f"  {meaning}: {sum(found.values())}" + (f" ({places})" if places else ""))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Prepare the corpus and print a summary; return the exit status."""
    args = parse_args(argv)
    domains = [domain for domain in DOMAINS if domain in args.domains]
    folder, sums = locate_sources(args, domains)
    quirks, checked = Counter(), []
    corpus = read_corpus(folder, sums, domains, args.unlabeled, quirks, checked)
    out = output_dir(args.out)
    write_outputs(out, corpus)
    verified = (f"{len(checked)} files checked against {folder / CHECKSUM_FILE}" if checked else
                "downloads checked against known digests" if args.source is None else
                f"no checksums checked (no {CHECKSUM_FILE} entries in {folder})")
    read = [sum(DOMAINS[domain][index] for domain in domains) for index in (0, 1)]
    print(f"FDU-MTL ({len(domains)} domains) from {folder} -> {out}; {verified}\n  line counts as in the "
          f"README: {read[0] - DEV_SIZE * len(domains)} train, {DEV_SIZE * len(domains)} dev, {read[1]} test "
          "reviews read; written without the empty ones:")
    print("\n".join(summary(corpus, quirks)))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
