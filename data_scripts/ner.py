#!/usr/bin/env python
"""Prepare English named-entity data (PER / ORG / LOC, IOB2) as line-aligned text files.

Two corpora, each written as ``{split}.en`` (words, space-separated) and ``{split}.ner`` (their
IOB2 labels as given, space-separated), one sentence per line, the same count on both lines:

* WikiANN English, the Rahimi et al. (2019) splits train / dev / test (silver labels from
  Wikipedia links). Input: files ``train``, ``dev`` and ``test``, one ``en:<token><TAB><tag>`` per
  line and a blank line after each sentence; the ``en:`` language prefix is stripped. Read from
  ``--from`` or downloaded from github.com/davidsbatista/NER-datasets (pinned commit).
* Universal NER v1 English-EWT, dev and test only (upstream's train file is not published in a
  form we can pin; see the data README). Input: ``en_ewt-ud-{dev,test}.iob2``, CoNLL-style blocks
  of ``# ...`` comments and ``ID FORM TAG - ANNOTATOR`` lines. The words are UD English-EWT's
  syntactic words (see ud.py), but the sentences are in a different order from the UD files.
  Read from ``--uner-from`` or downloaded from github.com/UniversalNER/UNER_English-EWT.

Every label must be ``O`` or ``B-``/``I-`` + PER, ORG or LOC; an ``I-`` that does not continue
an entity of its type is kept as given and counted in a warning. Whitespace inside a word becomes
``_``, as in ud.py.

Examples:
    python data_scripts/ner.py --from ../shared/data/wikiann_en --out data/wikiann_en \\
        --uner-from ../shared/data/uner_en_ewt --uner-out data/uner_en_ewt
    python data_scripts/ner.py --corpus uner      # download UNER dev/test into data/uner_en_ewt
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from common import PrepError, output_dir, run_cli
from tqdm import tqdm
from ud import (
    Sentence,
    blocks,
    check_counts,
    checked_summary,
    join_spaces,
    locate_sources,
    read_lines,
    write_split,
)

TYPES = ("PER", "ORG", "LOC")
LABELS = frozenset(["O", *(f"{prefix}-{kind}" for prefix in "BI" for kind in TYPES)])
WIKIANN_PREFIX = "en:"
WIKIANN_COMMIT = "db7ff3ca4ba1df39907f8bdc036a556fed5ecde7"
UNER_COMMIT = "8ed072de2fd24022cc62458997fe96a8fe191ea4"
STAT_NAMES = ("words with spaces", "bad I- continuations")
# (first line number, [(line number, line)]) of one sentence -> its words and labels.
Parser = Callable[[Path, list[tuple[int, str]], dict[str, int]], Sentence]


@dataclass(frozen=True)
class Corpus:
    """Where one corpus comes from, what its files are called and what they must contain."""

    title: str
    names: dict[str, str]  # split -> file name
    url: str
    known_sha256: dict[str, str]
    expected: dict[str, tuple[int, int]]  # split -> (sentences, words) of the pinned release
    parse: Parser


def check_label(where: str, label: str, previous: str, stats: dict[str, int]) -> None:
    """Raise `PrepError` unless ``label`` is a known IOB2 label; count bad ``I-`` continuations."""
    if label not in LABELS:
        raise PrepError(f"{where}: label {label!r} is not one of {' '.join(sorted(LABELS))}")
    stats["bad I- continuations"] += label.startswith("I-") and previous[2:] != label[2:]


def add_word(words: list[str], labels: list[str], form: str, label: str, where: str,
             stats: dict[str, int]) -> None:
    """Check ``label`` and append the word (whitespace joined) and its label."""
    check_label(where, label, labels[-1] if labels else "O", stats)
    word = join_spaces(form)
    stats["words with spaces"] += word != form
    words.append(word)
    labels.append(label)


def parse_wikiann(path: Path, block: list[tuple[int, str]], stats: dict[str, int]) -> Sentence:
    """One WikiANN sentence: ``en:<token><TAB><tag>`` lines."""
    words: list[str] = []
    labels: list[str] = []
    for number, line in block:
        where = f"{path}, line {number}"
        columns = line.split("\t")
        if len(columns) != 2 or not columns[0].startswith(WIKIANN_PREFIX):
            raise PrepError(f"{where}: expected '{WIKIANN_PREFIX}<token><TAB><label>', "
                            f"got {line[:60]!r}")
        add_word(words, labels, columns[0][len(WIKIANN_PREFIX):], columns[1], where, stats)
    return words, labels


def parse_uner(path: Path, block: list[tuple[int, str]], stats: dict[str, int]) -> Sentence:
    """One UNER sentence: ``# ...`` comments, then ``ID FORM TAG - ANNOTATOR`` lines."""
    words: list[str] = []
    labels: list[str] = []
    for number, line in block:
        if line.startswith("#"):
            continue
        where = f"{path}, line {number}"
        columns = line.split("\t")
        if len(columns) != 5:
            raise PrepError(f"{where}: expected 5 TAB-separated columns (ID FORM TAG - "
                            f"ANNOTATOR), got {len(columns)}: {line[:60]!r}")
        if columns[0] != str(len(words) + 1):
            raise PrepError(f"{where}: token id {columns[0]!r}, expected {len(words) + 1} (ids "
                            "must run 1, 2, ... in each sentence)")
        add_word(words, labels, columns[1], columns[2], where, stats)
    return words, labels


WIKIANN = Corpus(
    title="WikiANN English",
    names={split: split for split in ("train", "dev", "test")},
    url=f"https://raw.githubusercontent.com/davidsbatista/NER-datasets/{WIKIANN_COMMIT}"
        "/WikiANN/en/{name}",
    known_sha256={
        "train": "ca569a937f536cfc7e94291fbf631d394ce0c171af4523d96f366a50bd18b388",
        "dev": "e9e42f79be5eba498ac86b7b81612da5ec5ad3d194df25c2e474514434957cf4",
        "test": "798706360692e56b9ce72fe37033c581cc9801b18f22091100b8266e0dc7fccb",
    },
    expected={"train": (20000, 160394), "dev": (10000, 80536), "test": (10000, 80326)},
    parse=parse_wikiann)
UNER = Corpus(
    title="UNER English-EWT",
    names={split: f"en_ewt-ud-{split}.iob2" for split in ("dev", "test")},
    url=f"https://raw.githubusercontent.com/UniversalNER/UNER_English-EWT/{UNER_COMMIT}/{{name}}",
    known_sha256={
        "en_ewt-ud-dev.iob2": "0cafd881cf31d39897b6d588420fab8fbbe4423d271725c59921ac9dd49c0713",
        "en_ewt-ud-test.iob2": "821ad826d5f503ac03b4edc3fbc2174f21fbb005ec25863caf2051c434616d6e",
    },
    expected={"dev": (2001, 25149), "test": (2077, 25097)},
    parse=parse_uner)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(
        description="Prepare English NER (PER/ORG/LOC, IOB2 labels as given) for tagging. "
                    "WikiANN: read {train,dev,test} from --from DIR (or download them from "
                    f"github.com/davidsbatista/NER-datasets at commit {WIKIANN_COMMIT[:8]}, "
                    "WikiANN/en/, into raw/ under --out), strip the 'en:' prefix of every token, write "
                    "{train,dev,test}.{en,ner} into --out. UNER English-EWT (dev and test only, "
                    "there is no train file): read en_ewt-ud-{dev,test}.iob2 from --uner-from DIR "
                    "(or download them from github.com/UniversalNER/UNER_English-EWT at commit "
                    f"{UNER_COMMIT[:8]} into raw/ under --uner-out), write {{dev,test}}.{{en,ner}} into "
                    "--uner-out. Each folder's SHA256SUMS is verified when present (downloads: "
                    "known digests); every label must be O or B-/I- of PER, ORG, LOC; whitespace "
                    "inside a word becomes '_'; sentence and word counts must equal the pinned "
                    "releases' (WikiANN 20,000 / 10,000 / 10,000 sentences, UNER dev 2,001 / test "
                    "2,077) unless --no-count-check. Nothing is written until both corpora are "
                    "read and checked; files are replaced atomically. Exit status 2, with one "
                    "message naming the file and line, on any data problem. Terms: WikiANN has "
                    "no stated license (Wikipedia text, CC BY-SA 3.0); UNER is CC BY-SA 4.0.")
    parser.add_argument("--corpus", choices=("both", "wikiann", "uner"), default="both",
                        help="which corpus to prepare (default: both)")
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR", default=None,
                        help="folder holding WikiANN's train, dev, test (default: download them)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=Path("data/wikiann_en"),
                        help="WikiANN output folder, created if missing (default: data/wikiann_en)")
    parser.add_argument("--uner-from", dest="uner_source", type=Path, metavar="DIR", default=None,
                        help="folder holding en_ewt-ud-{dev,test}.iob2 (default: download them)")
    parser.add_argument("--uner-out", type=Path, metavar="DIR", default=Path("data/uner_en_ewt"),
                        help="UNER output folder, created if missing (default: data/uner_en_ewt)")
    parser.add_argument("--no-count-check", dest="count_check", action="store_false",
                        help="accept sentence and word counts other than the pinned releases' "
                             "(another version, or your own files)")
    return parser.parse_args(argv)


def read_corpus(corpus: Corpus, folder: Path, sums: dict[str, str], count_check: bool,
                stats: dict[str, dict[str, int]]) -> dict[str, list[Sentence]]:
    """Read and check every split of ``corpus``; returns ``{split: sentences}``."""
    splits: dict[str, list[Sentence]] = {}
    for split, name in tqdm(corpus.names.items(), desc=f"read {corpus.title}", unit="file",
                            disable=None):
        path = folder / name
        stats[split] = dict.fromkeys(STAT_NAMES, 0)
        sentences = (corpus.parse(path, block, stats[split])
                     for _, block in blocks(read_lines(path, sums)))
        splits[split] = [sentence for sentence in sentences if sentence[0]]  # comments only: skip
        if count_check:
            got = (len(splits[split]), sum(len(words) for words, _ in splits[split]))
            check_counts(path, got, corpus.expected[split], ("sentences", "words"),
                         f"That is not the {corpus.title} release this script pins")
    return splits


def summarize(corpus: Corpus, origin: tuple[Path, str], out: Path,
              splits: dict[str, list[Sentence]], stats: dict[str, dict[str, int]]) -> None:
    """Print the counts of one prepared corpus (and a warning for bad ``I-`` continuations)."""
    print(f"{corpus.title} from {origin[0]} -> {out}; {origin[1]}")
    for split, sentences in splits.items():
        labels = [label for _, tags in sentences for label in tags]
        entities = " / ".join(f"{kind} {labels.count('B-' + kind):,}" for kind in TYPES)
        print(f"  {split:<5} {len(sentences):>6,} sentences {len(labels):>8,} words, entities "
              f"{entities}; {stats[split]['words with spaces']:,} words with spaces joined "
              "with '_'")
        if stats[split]["bad I- continuations"]:
            print(f"warning: {corpus.title} {split}: {stats[split]['bad I- continuations']:,} "
                  "I- label(s) do not continue an entity of their type; kept as given",
                  file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Prepare the chosen corpora and print a summary; return the exit status."""
    args = parse_args(argv)
    jobs = []
    if args.corpus in ("both", "wikiann"):
        jobs.append((WIKIANN, args.source, args.out, "--from"))
    if args.corpus in ("both", "uner"):
        jobs.append((UNER, args.uner_source, args.uner_out, "--uner-from"))
    results = []
    for corpus, source, out, option in jobs:
        names = list(corpus.names.values())
        folder, sums = locate_sources(source, out, names, corpus.url, corpus.known_sha256, option)
        stats: dict[str, dict[str, int]] = {}
        splits = read_corpus(corpus, folder, sums, args.count_check, stats)
        origin = folder, checked_summary(folder, sums, names, source is None)
        results.append((corpus, origin, out, splits, stats))
    for corpus, origin, out, splits, stats in results:
        folder = output_dir(out)
        for split, sentences in splits.items():
            write_split(folder, split, "ner", sentences)
        summarize(corpus, origin, folder, splits, stats)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
