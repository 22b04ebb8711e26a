#!/usr/bin/env python
"""Prepare CMU_DoG (movie chats grounded in Wikipedia sections, Zhou et al. 2018) as line-aligned files.

Writes OUT/{train,valid,test}.{hist,facts,resp}, one example per line. Texts keep their case; whitespace
runs become one space, '|||' and '<turn>' a space. Empty messages are dropped, then each run of one
speaker's messages becomes one turn (joined with a space, keeping the first one's docIdx, as ParlAI).
Each turn but the first is an example: resp = the turn; hist = the previous turns, at most --history,
joined with ' <turn> ' (unlike the facts' ' ||| ', so turn and fact boundaries differ); facts = the
sentences of the section on screen (document wikiDocumentIdx, section str(docIdx)) joined with ' ||| ',
at most --max-facts of them and --max-fact-words words each. Section '0' gives 'movie name: X', 'year: Y',
'director: Z', 'genre: G', 'cast: a , b', the ratings, the introduction's sentences and 'critical
response: ...' for each; plot sections 1-3 are cut after . ! or ? before a capital or digit, not after
an initial or a title (David S. Goyer, Dr. Crane); citation marks ([6]) go. Every cut is counted.
The 110 conversations in two split folders are removed as ParlAI does (train drops those also in valid
or test, test those also in valid): 3,265 / 229 / 617 conversations; these and the example counts are
checked unless --no-count-check, and a split_overlap.tsv must list those 110. 'status' (0/1, false/true)
is only reported, via bool(). --from DIR: Conversations/{train,valid,test}/<id>.json, WikiData/*.json;
each file in DIR/SHA256SUMS must be there and match. Without --from, the repository's archive at commit
618a14f2 is unpacked into OUT/raw/ and its 4,251 files checked against a known digest. Outputs are
replaced atomically; a data problem is one message naming the file, exit status 2. License: none stated
for the chats (cite the paper); the documents are Wikipedia text (CC BY-SA).

Examples:
    python data_scripts/cmu_dog.py --from ../shared/data/cmu_dog --out data/cmu_dog
    python data_scripts/cmu_dog.py --history 5          # download into data/cmu_dog/raw
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from common import PrepError, atomic_write_lines, check_sha256, download, output_dir, read_checksums, run_cli
from tqdm import tqdm
from ud import check_counts

SPLITS = ("train", "valid", "test")
PRECEDENCE = ("valid", "test", "train")  # an id in two splits stays in the first of these (ParlAI)
SUFFIXES = ("hist", "facts", "resp")
TURN_SEP, FACT_SEP = " <turn> ", " ||| "
SEPARATORS = re.compile(r"\|\|\||<turn>")
CITATIONS = re.compile(r"\[\d+\]|(?<=[a-z]\.)\d+(?= [A-Z])")  # [6]; the 1 of 'Pictures.1 Loosely'
CHECKSUM_FILE, OVERLAP_FILE, RAW_DIR = "SHA256SUMS", "split_overlap.tsv", "raw"
COMMIT = "618a14f27546165859305649aa84e6ac8710bb63"
URL = f"https://github.com/festvox/datasets-CMU_DoG/archive/{COMMIT}.zip"
ARCHIVE = f"datasets-CMU_DoG-{COMMIT}"  # the archive's top folder, and its names under OUT/raw
DATA_FILE = re.compile(r"(Conversations/(train|valid|test)|WikiData)/[A-Za-z0-9_-]+\.json")
# SHA-256 of the SHA256SUMS that fetch() writes: '<sha256>  <path>' of the 4,251 DATA_FILEs, sorted.
MANIFEST_SHA256 = "db23700671f7a456de6c3d6a6b3f8cb220bed9fb6b3620ba0fa0c60d8d2c9707"
# (conversations, examples) of each split once the overlap is removed, with the rules above.
EXPECTED = {"train": (3265, 69961), "valid": (229, 4877), "test": (617, 13247)}
OVERVIEW = {"movieName": "movie name", **{key: key for key in ("year", "director", "genre", "cast")}}
TITLES = frozenset("mr mrs ms dr st jr sr prof gen col lt capt sgt vs etc mt ft".split())
CLOSERS, OPENERS = "\"'\u201d\u2019)]", "\"'\u201c\u2018(["
SENTENCE_END = re.compile(f"[.!?][{re.escape(CLOSERS)}]*$")
SENTENCE_START = re.compile(f"[{re.escape(OPENERS)}]*[A-Z0-9]")
Example = tuple[str, str, str]  # (hist, facts, resp)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of this script."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR", default=None,
                        help="the CMU_DoG folder (default: download the repository's archive)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=Path("data/cmu_dog"),
                        help="output folder, created if missing (default: data/cmu_dog)")
    parser.add_argument("--history", type=int, default=3, help="turns in hist, the last ones (default: 3)")
    parser.add_argument("--max-facts", type=int, default=20, help="facts kept, the first ones (default: 20)")
    parser.add_argument("--max-fact-words", type=int, default=40, help="words kept per fact (default: 40)")
    parser.add_argument("--no-count-check", dest="count_check", action="store_false",
                        help="accept conversation and example counts other than this release's")
    args = parser.parse_args(argv)
    if min(args.history, args.max_facts, args.max_fact_words) < 1:
        parser.error("--history, --max-facts and --max-fact-words must be at least 1")
    return args


def locate_sources(args: argparse.Namespace) -> tuple[Path, dict[str, str]]:
    """The CMU_DoG folder to read (downloaded when no --from) and its checksums (empty if none)."""
    if args.source is not None and not args.source.is_dir():
        raise PrepError(f"--from {args.source}: no such folder (expected one with Conversations/, WikiData/)")
    folder = args.source or fetch(args.out)
    return folder, read_checksums(folder / CHECKSUM_FILE) if (folder / CHECKSUM_FILE).is_file() else {}


def fetch(out: Path) -> Path:
    """Download and unpack the archive at COMMIT into OUT/raw (once); its files must match."""
    folder = (raw := output_dir(out / RAW_DIR)) / ARCHIVE
    if not (folder / CHECKSUM_FILE).is_file():  # written below, once the files are verified
        archive = download(URL, raw / f"{ARCHIVE}.zip")
        try:
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(raw)
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise PrepError(f"{archive}: not a readable zip file ({error}); delete it") from None
        names = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*.json"))
        lines = [f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}"
                 for name in names if DATA_FILE.fullmatch(name)]
        if hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest() != MANIFEST_SHA256:
            raise PrepError(f"{archive}: its {len(lines):,} data files differ from {COMMIT[:8]}'s; delete it")
        atomic_write_lines(folder / CHECKSUM_FILE, lines)
    return folder


def read_text(folder: Path, name: str, sums: dict[str, str], checked: list, parse: Callable = str) -> Any:
    """``parse`` (e.g. json.loads) of the UTF-8 text of ``folder/name``, checked when ``sums`` lists it."""
    path = folder / name
    try:
        if name in sums:
            check_sha256(path, sums[name])
            checked.append(name)
        return parse(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise PrepError(f"{path}: cannot read it ({error.strerror or error})") from None
    except ValueError as error:  # UnicodeDecodeError, json.JSONDecodeError
        raise PrepError(f"{path}: not UTF-8 {'JSON' if parse is json.loads else 'text'} ({error})") from None


def list_ids(folder: Path, sums: dict[str, str]) -> dict[str, set[str]]:
    """The conversation ids (file stems) of each split folder; every file in ``sums`` must exist."""
    for name in sums:
        if (DATA_FILE.fullmatch(name) or name == OVERLAP_FILE) and not (folder / name).is_file():
            raise PrepError(f"missing {folder / name} (listed in {folder / CHECKSUM_FILE}): incomplete copy")
    ids = {}
    for split in SPLITS:
        if not (folder / "Conversations" / split).is_dir():
            raise PrepError(f"missing folder {folder / 'Conversations' / split} (expected Conversations/"
                            f"{{train,valid,test}}/<id>.json and WikiData/*.json in {folder})")
        ids[split] = {path.stem for path in (folder / "Conversations" / split).glob("*.json")}
    return ids


def dedupe(ids: dict[str, set[str]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The ids kept in each split (sorted), and ``{id: 'train,valid'}`` for the ids in two splits."""
    kept, seen = {}, set()
    for split in PRECEDENCE:
        kept[split], seen = sorted(ids[split] - seen), seen | ids[split]
    homes = {key: ",".join(split for split in SPLITS if key in ids[split]) for key in seen}
    return {split: kept[split] for split in SPLITS}, {k: v for k, v in homes.items() if "," in v}


def check_overlap(text: str, path: Path, overlap: dict[str, str]) -> None:
    """split_overlap.tsv ('id<TAB>split,split' rows after a header line) must list ``overlap``."""
    if (listed := dict(row.partition("\t")[::2] for row in text.splitlines()[1:] if row.strip())) != overlap:
        key = min(set(listed.items()) ^ set(overlap.items()))[0]
        raise PrepError(f"{path}: {len(listed)} ids, but {len(overlap)} are in two split folders (e.g. "
                        f"{key}: {listed.get(key, '-')} in the file, {overlap.get(key, '-')} found)")


def clean(text: str, stats: Counter) -> str:
    """``text`` with separator strings replaced by a space and whitespace runs collapsed."""
    text, removed = SEPARATORS.subn(" ", text)
    stats["separator strings ('|||', '<turn>') replaced by a space"] += removed
    return " ".join(text.split())


def sentences(text: str, stats: Counter) -> list[str]:
    """``text`` without citation marks, as sentences (see the module docstring)."""
    text, removed = CITATIONS.subn("", text)
    stats["citation marks removed"] += removed
    words, found, start = text.split(), [], 0
    for i, word in enumerate(words[:-1]):
        stem = word.rstrip(CLOSERS).lstrip(OPENERS).lower()
        title = stem.endswith(".") and (stem[:-1] in TITLES or re.fullmatch(r"[a-z](\.[a-z])*", stem[:-1]))
        if SENTENCE_END.search(word) and SENTENCE_START.match(words[i + 1]) and not title:
            found.append(" ".join(words[start:i + 1]))
            start = i + 1
    return found + ([" ".join(words[start:])] if words[start:] else [])


def overview_facts(section: dict, where: str, stats: Counter) -> list[str]:
    """Section '0' as short sentences (see the module docstring for the order)."""
    def values(key: str) -> list[str]:
        value = section.get(key) or []
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return [value] if isinstance(value, str) else value
        raise PrepError(f"{where}: '{key}' is a {type(value).__name__}, expected text or a list of text")

    facts = [f"{label}: {' , '.join(values(key))}" for key, label in OVERVIEW.items() if values(key)]
    facts += values("rating") + [s for text in values("introduction") for s in sentences(text, stats)]
    return facts + [f"critical response: {text}" for text in values("critical_response")]


def section_facts(doc: dict, index: int, where: str, args: argparse.Namespace, stats: Counter) -> str:
    """The facts line of one section; the facts it drops or shortens are counted in ``stats``."""
    if not isinstance(section := doc.get(str(index)), (dict, str)):
        raise PrepError(f"{where}: section '{index}' is missing or neither text nor an object")
    raw = overview_facts(section, where, stats) if isinstance(section, dict) else sentences(section, stats)
    facts = [fact.split() for fact in (clean(text, stats) for text in raw) if fact]
    kept = facts[:args.max_facts]
    stats["facts dropped over --max-facts"] += len(facts) - len(kept)
    stats["facts shortened to --max-fact-words"] += sum(len(words) > args.max_fact_words for words in kept)
    return FACT_SEP.join(" ".join(words[:args.max_fact_words]) for words in kept)


def load_documents(folder: Path, sums: dict[str, str], checked: list[str], args: argparse.Namespace,
                   stats: Counter) -> dict[int, list[str]]:
    """``{wikiDocumentIdx: [facts line of sections 0 to 3]}`` for WikiData/*.json."""
    names = sorted(f"WikiData/{path.name}" for path in (folder / "WikiData").glob("*.json"))
    if not names:
        raise PrepError(f"no {folder / 'WikiData'}/*.json (the movie documents) found")
    docs: dict[int, list[str]] = {}
    for name in names:
        doc = read_text(folder, name, sums, checked, json.loads)
        index = doc.get("wikiDocumentIdx") if isinstance(doc, dict) else None
        if type(index) is not int or index in docs:
            raise PrepError(f"{folder / name}: 'wikiDocumentIdx' {index!r} is not a number, or not unique")
        docs[index] = [section_facts(doc, s, str(folder / name), args, stats) for s in range(4)]
    return docs


def read_turns(path: Path, history: list, stats: Counter) -> list[list]:
    """``[uid, text, docIdx]`` per turn: empty messages dropped, then runs of one speaker merged."""
    turns: list[list] = []
    for number, message in enumerate(history):
        doc_idx = message.get("docIdx") if isinstance(message, dict) else None
        if (type(doc_idx) is not int or doc_idx not in range(4) or not isinstance(message.get("text"), str)
                or message.get("uid") not in ("user1", "user2")):
            raise PrepError(f"{path}: history[{number}] is {str(message)[:80]!r}, expected "
                            "{'text': '...', 'uid': 'user1' or 'user2', 'docIdx': 0 to 3}")
        stats["empty messages dropped"] += not (text := clean(message["text"], stats))
        if text and turns and turns[-1][0] == message["uid"]:
            turns[-1][1] += " " + text
            stats["messages merged into the previous one"] += 1
        elif text:
            turns.append([message["uid"], text, doc_idx])
    return turns


def conversation_examples(path: Path, conversation: Any, docs: dict[int, list[str]], args: argparse.Namespace,
                          stats: Counter) -> list[Example]:
    """``(hist, facts, resp)`` for every turn of one conversation but the first."""
    index = conversation.get("wikiDocumentIdx") if isinstance(conversation, dict) else None
    if type(index) is not int or index not in docs or not isinstance(conversation.get("history"), list):
        raise PrepError(f"{path}: expected an object with a 'history' list and a 'wikiDocumentIdx' of a "
                        f"WikiData document, got wikiDocumentIdx {index!r}")
    stats["conversations whose status is 0 or false (kept)"] += not bool(conversation.get("status"))
    turns = read_turns(path, conversation["history"], stats)
    stats["conversations with fewer than 2 turns (no example)"] += len(turns) < 2
    rows = []
    for i in range(1, len(turns)):
        hist = TURN_SEP.join(turn[1] for turn in turns[max(0, i - args.history):i])
        rows.append((hist, docs[index][turns[i][2]], turns[i][1]))
    return rows


def describe(split: str, rows: list[Example], conversations: int, dropped: int) -> str:
    """One summary line: conversations, examples, mean facts and mean words of hist and resp."""
    size = max(len(rows), 1)
    facts = sum(line.count(FACT_SEP) + bool(line) for _, line, _ in rows) / size
    hist = sum(len(line.split()) - line.count(TURN_SEP) for line, _, _ in rows) / size
    resp = sum(len(line.split()) for _, _, line in rows) / size
    why = {"train": f" ({dropped} also in valid/test dropped)", "test": f" ({dropped} also in valid dropped)"}
    return (f"  {split:<5} {conversations:>5,} conversations{why.get(split, '')}, {len(rows):,} examples; "
            f"mean {facts:.1f} facts, hist {hist:.1f} words, resp {resp:.1f} words")


def main(argv: list[str] | None = None) -> int:
    """Prepare the corpus and print a summary; return the exit status."""
    args = parse_args(argv)
    folder, sums = locate_sources(args)
    checked: list[str] = []
    kept, overlap = dedupe(ids := list_ids(folder, sums))
    if (folder / OVERLAP_FILE).is_file():
        check_overlap(read_text(folder, OVERLAP_FILE, sums, checked), folder / OVERLAP_FILE, overlap)
    stats = {part: Counter() for part in ("documents", *SPLITS)}
    docs = load_documents(folder, sums, checked, args, stats["documents"])
    corpus: dict[str, list[Example]] = {split: [] for split in SPLITS}
    for split in SPLITS:
        for key in tqdm(kept[split], desc=f"read {split}", unit="conv", disable=None, leave=False):
            name = f"Conversations/{split}/{key}.json"
            conversation = read_text(folder, name, sums, checked, json.loads)
            corpus[split] += conversation_examples(folder / name, conversation, docs, args, stats[split])
        if args.count_check:
            check_counts(folder / "Conversations" / split, (len(kept[split]), len(corpus[split])),
                         EXPECTED[split], ("conversations", "examples"), f"Not CMU_DoG at {COMMIT[:8]}")
    out = output_dir(args.out)
    for split, rows in corpus.items():
        for column, suffix in enumerate(SUFFIXES):
            atomic_write_lines(out / f"{split}.{suffix}", (row[column] for row in rows))
    verified = (f"{len(checked):,} files checked against {folder / CHECKSUM_FILE}" if checked else
                f"no checksums checked (no {CHECKSUM_FILE} entries in {folder})")
    print(f"CMU_DoG from {folder} -> {out}; {len(docs)} documents, {len(overlap)} ids in 2 splits; --history "
          f"{args.history} --max-facts {args.max_facts} --max-fact-words {args.max_fact_words}\n  {verified}")
    for split in SPLITS:
        print(describe(split, corpus[split], len(kept[split]), len(ids[split]) - len(kept[split])))
    for part, counts in stats.items():
        print(f"  {part}: " + ", ".join(f"{what} {count:,}" for what, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
