"""Writing the toy corpus to disk: line-aligned files per split and slot, then a manifest, atomically.

The files are `{train,valid,test}.{en,de,fr,parse,pos,stype}` (one per split and slot of `SLOTS`) and
`toy_manifest.json`, which lists the slots and each file's line count and sha256.

A crash never leaves a corpus that looks complete: the old manifest is removed before anything is
written, every file goes to a temporary name and is renamed into place, and the manifest comes last.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Mapping

from ..errors import UserError, choices_hint
from .corpus import SLOTS, SPLITS, Example, sample_splits

FORMAT_NAME = "mtseq2seq.toydata"
# Bump whenever the grammar, lexicon or file set changes the output: `is_current` then rejects an older
# corpus and it is regenerated. 2: added `.pos` and `.stype` (en, de, fr, parse unchanged).
FORMAT_VERSION = 2
MANIFEST_NAME = "toy_manifest.json"
DEFAULT_SIZES: dict[str, int] = {"train": 20000, "valid": 500, "test": 500}


def generate(out_dir: str | os.PathLike, seed: int = 1, sizes: Mapping[str, int] | None = None) -> dict:
    """Write `{train,valid,test}.{en,de,fr,parse,pos,stype}` and `toy_manifest.json` into `out_dir`.

    Per split: `.en` English-like sentences, `.de` and `.fr` their rule-based translations, `.parse`
    the linearized tree with words masked as XX, `.pos` one part-of-speech tag per English word and
    `.stype` one sentence-type label per line (tag set and type rule: `labels.py`).

    Args:
        out_dir: directory to write to (created if missing; files of an older corpus are replaced).
        seed: the same seed and sizes always give byte-identical files.
        sizes: sentences per split; missing splits take `DEFAULT_SIZES`.

    Returns:
        The manifest that was written (format, version, seed, sizes, slots, and per file its line
        count and sha256).
    """
    resolved = resolve_sizes(sizes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # until the new manifest lands, the corpus is incomplete
    files: dict[str, dict] = {}
    for split, examples in sample_splits(seed, resolved).items():
        for slot in SLOTS:
            name = f"{split}.{slot}"
            files[name] = _write_lines(out / name, _lines(examples, slot))
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "seed": seed, "sizes": resolved,
                "slots": list(SLOTS), "files": files}
    _write_atomic(out / MANIFEST_NAME, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


def resolve_sizes(sizes: Mapping[str, int] | None) -> dict[str, int]:
    """`DEFAULT_SIZES` overridden by `sizes`; unknown splits and negative sizes are user errors."""
    problems = []
    for split, size in (sizes or {}).items():
        if split not in SPLITS:
            problems.append(f"unknown split '{split}'{choices_hint(split, SPLITS)}")
        elif isinstance(size, bool) or not isinstance(size, int) or size < 0:
            problems.append(f"size of split '{split}' must be a non-negative integer, got {size!r}")
    if problems:
        raise UserError(problems, header="toy corpus sizes" if len(problems) > 1 else "")
    return {split: int((sizes or {}).get(split, DEFAULT_SIZES[split])) for split in SPLITS}


def read_manifest(out_dir: str | os.PathLike) -> dict | None:
    """The manifest in `out_dir`, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_current(out_dir: str | os.PathLike, seed: int = 1, sizes: Mapping[str, int] | None = None,
               check_hashes: bool = True) -> bool:
    """True if `out_dir` holds a complete corpus of this format version, seed and sizes.

    With `check_hashes`, every file must also still match the sha256 recorded in the manifest.
    """
    manifest = read_manifest(out_dir)
    expected = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "seed": seed, "sizes": resolve_sizes(sizes)}
    if manifest is None or any(manifest.get(key) != value for key, value in expected.items()):
        return False
    for name, record in manifest.get("files", {}).items():
        path = Path(out_dir) / name
        if not path.is_file() or (check_hashes and _sha256(path.read_bytes()) != record.get("sha256")):
            return False
    wanted = {f"{split}.{slot}" for split in SPLITS for slot in SLOTS}
    return set(manifest.get("files", {})) == wanted


def _lines(examples: list[Example], slot: str) -> list[str]:
    return [example.line(slot) for example in examples]


def _write_lines(path: Path, lines: list[str]) -> dict:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    _write_atomic(path, data)
    return {"lines": len(lines), "sha256": _sha256(data)}


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, flush it to disk, then rename over `path`."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
