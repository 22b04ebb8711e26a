"""Writing the toy corpus to disk: line-aligned files per split and slot, then a manifest, atomically.

The files are `{train,valid,test}.{en,de,fr,parse,pos,stype}` (one per split and text slot of `SLOTS`),
`{train,valid,test}.img.npy` (toy image features, one row per `.en` line; see `images.py`) and
`toy_manifest.json`, which lists the slots and arrays and each file's line count (rows) and sha256.

A crash never leaves a corpus that looks complete: the old manifest is removed before anything is
written, every file goes to a temporary name and is renamed into place, and the manifest comes last.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import UserError, choices_hint
from .corpus import SLOTS, SPLITS, Example, sample_splits
from .images import IMG_SLOT, IMG_SUFFIX, image_features, numpy_module

FORMAT_NAME = "mtseq2seq.toydata"
# Bump whenever the grammar, lexicon or file set changes the output: `is_current` then rejects an older
# corpus and it is regenerated. 2: added `.pos` and `.stype` (en, de, fr, parse unchanged). 3: added
# `.img.npy` (every text file unchanged).
FORMAT_VERSION = 3
MANIFEST_NAME = "toy_manifest.json"
DEFAULT_SIZES: dict[str, int] = {"train": 20000, "valid": 500, "test": 500}
ARRAYS = (IMG_SLOT,)  # array slots: `{split}.{slot}.npy`, one row per line of the text slots


def generate(out_dir: str | os.PathLike, seed: int = 1, sizes: Mapping[str, int] | None = None) -> dict:
    """Write `{train,valid,test}.{en,de,fr,parse,pos,stype}`, `{train,valid,test}.img.npy` and
    `toy_manifest.json` into `out_dir`.

    Per split: `.en` English-like sentences, `.de` and `.fr` their rule-based translations, `.parse`
    the linearized tree with words masked as XX, `.pos` one part-of-speech tag per English word,
    `.stype` one sentence-type label per line (tag set and type rule: `labels.py`) and `.img.npy`
    toy image features of each sentence, shape (N, 10, 32) float16 (regions from its noun phrases;
    see `images.py`). Needs numpy, for the features.

    Args:
        out_dir: directory to write to (created if missing; files of an older corpus are replaced).
        seed: the same seed and sizes always give byte-identical files.
        sizes: sentences per split; missing splits take `DEFAULT_SIZES`.

    Returns:
        The manifest that was written (format, version, seed, sizes, slots, arrays, and per file its
        line count and sha256; an array file also its shape and dtype).
    """
    resolved = resolve_sizes(sizes)
    numpy_module()  # fail before anything is written if numpy is missing
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # until the new manifest lands, the corpus is incomplete
    files: dict[str, dict] = {}
    for split, examples in sample_splits(seed, resolved).items():
        for slot in SLOTS:
            name = f"{split}.{slot}"
            files[name] = _write_lines(out / name, _lines(examples, slot))
        name = f"{split}.{IMG_SLOT}{IMG_SUFFIX}"
        files[name] = _write_array(out / name, image_features((e.tree for e in examples), seed))
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "seed": seed, "sizes": resolved,
                "slots": list(SLOTS), "arrays": list(ARRAYS), "files": files}
    write_manifest(out / MANIFEST_NAME, manifest)
    return manifest


def file_names() -> set[str]:
    """Every file of a complete toy corpus but the manifest."""
    texts = {f"{split}.{slot}" for split in SPLITS for slot in SLOTS}
    return texts | {f"{split}.{slot}{IMG_SUFFIX}" for split in SPLITS for slot in ARRAYS}


def resolve_sizes(sizes: Mapping[str, int] | None, defaults: Mapping[str, int] = DEFAULT_SIZES
                  ) -> dict[str, int]:
    """`defaults` overridden by `sizes`; unknown splits and negative sizes are user errors."""
    problems = []
    for split, size in (sizes or {}).items():
        if split not in SPLITS:
            problems.append(f"unknown split '{split}'{choices_hint(split, SPLITS)}")
        elif isinstance(size, bool) or not isinstance(size, int) or size < 0:
            problems.append(f"size of split '{split}' must be a non-negative integer, got {size!r}")
    if problems:
        raise UserError(problems, header="toy corpus sizes" if len(problems) > 1 else "")
    return {split: int((sizes or {}).get(split, defaults[split])) for split in SPLITS}


def read_manifest(out_dir: str | os.PathLike, name: str = MANIFEST_NAME) -> dict | None:
    """The manifest `name` in `out_dir`, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((Path(out_dir) / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_current(out_dir: str | os.PathLike, seed: int = 1, sizes: Mapping[str, int] | None = None,
               check_hashes: bool = True) -> bool:
    """True if `out_dir` holds a complete corpus of this format version, seed and sizes.

    With `check_hashes`, every file must also still match the sha256 recorded in the manifest.
    """
    expected = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "seed": seed, "sizes": resolve_sizes(sizes)}
    return manifest_matches(out_dir, MANIFEST_NAME, expected, file_names(), check_hashes)


def manifest_matches(out_dir: str | os.PathLike, name: str, expected: Mapping[str, object],
                     wanted: set[str], check_hashes: bool) -> bool:
    """True if manifest `name` has the `expected` values, lists exactly the files `wanted`, and each
    file exists (and, with `check_hashes`, still has its recorded sha256)."""
    manifest = read_manifest(out_dir, name)
    if manifest is None or any(manifest.get(key) != value for key, value in expected.items()):
        return False
    files = manifest.get("files", {})
    if not isinstance(files, dict) or set(files) != wanted:
        return False
    for file_name, record in files.items():
        path = Path(out_dir) / file_name
        if not path.is_file() or (check_hashes and _sha256(path.read_bytes()) != record.get("sha256")):
            return False
    return True


def write_manifest(path: Path, manifest: dict) -> None:
    """Write a manifest (sorted keys, so the bytes depend only on its content), atomically."""
    _write_atomic(path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def _lines(examples: list[Example], slot: str) -> list[str]:
    return [example.line(slot) for example in examples]


def _write_lines(path: Path, lines: list[str]) -> dict:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    _write_atomic(path, data)
    return {"lines": len(lines), "sha256": _sha256(data)}


def _write_array(path: Path, array: Any) -> dict:
    """np.save the array into memory, then write those bytes like a text file (temporary name, rename)."""
    buffer = io.BytesIO()
    numpy_module().save(buffer, array, allow_pickle=False)
    data = buffer.getvalue()
    _write_atomic(path, data)
    return {"lines": int(array.shape[0]), "sha256": _sha256(data), "shape": list(array.shape),
            "dtype": str(array.dtype)}


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
