"""Plugin files over a run's life: what a checkpoint records, where its plugins are found again,
and how a plugin's own error is shown.

A checkpoint never holds a plugin's code. Its resolved recipe keeps the absolute path training
loaded (``plugins:``), and ``plugin_records`` adds, per file, the path relative to the recipe's
folder and the SHA-256 of the bytes that ran. ``relocate_plugins`` finds the files again for a
checkpoint used on its own (``translate``): at the path training used, else next to the
checkpoint; a file whose hash differs is loaded with a warning (users fix bugs in plugins), a
file found nowhere is a CheckpointError saying where it looked and what to do.
``registry.load_plugin`` stays the one place that imports a plugin file.
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import os
import textwrap
import traceback
from pathlib import Path

from .errors import CheckpointError
from .registry import loaded_sha256

log = logging.getLogger(__name__)
_PACKAGE = Path(__file__).resolve().parent
_IMPORTLIB = Path(importlib.__file__).resolve().parent


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 (hex) of a file's bytes; None if it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def plugin_records(plugins: list[str], recipe_path: str) -> list[dict]:
    """Per plugin file, in order: ``{"path": relative to the recipe's folder, "sha256"}``.

    The hash is of the file as it was loaded (it may have been edited since training began).
    """
    base = Path(recipe_path).resolve().parent if recipe_path else Path.cwd()
    records = []
    for plugin in plugins:
        full = Path(plugin).resolve()
        try:
            relative = Path(os.path.relpath(full, base)).as_posix()
        except ValueError:  # another drive (Windows): no relative path exists
            relative = str(full)
        records.append({"path": relative, "sha256": loaded_sha256(full) or file_sha256(full)})
    return records


def relocate_plugins(state: dict, checkpoint: str | Path) -> dict:
    """The checkpoint's stored recipe with its ``plugins:`` pointing at files that exist now.

    Old checkpoints (no records) look for the stored absolute path, then next to the checkpoint.

    Raises:
        CheckpointError: a plugin is found nowhere; it names the places looked and the remedy.
    """
    raw = dict(state["recipe"])
    stored = raw.get("plugins")
    if not isinstance(stored, list) or not all(isinstance(p, str) for p in stored):
        return raw  # absent or malformed: the recipe check reports what is wrong
    records = state.get("plugins")
    if not (isinstance(records, list) and len(records) == len(stored)
            and all(isinstance(r, dict) for r in records)):
        records = [{} for _ in stored]
    raw["plugins"] = [locate(path, record, Path(checkpoint))
                      for path, record in zip(stored, records)]
    return raw


def candidates(stored: str, record: dict, checkpoint: Path) -> list[tuple[Path, str]]:
    """(file, why) places to look for one plugin, best first, without repeats."""
    relative = record.get("path") if isinstance(record.get("path"), str) else Path(stored).name
    places = [(Path(stored), "where training loaded it")]
    if not Path(relative).is_absolute() and ".." not in Path(relative).parts:
        places.append((checkpoint.parent / relative, "next to the checkpoint"))
    places.append((checkpoint.parent / Path(stored).name, "next to the checkpoint"))
    seen: set[Path] = set()
    unique = []
    for place, why in places:
        if place.resolve() not in seen:
            seen.add(place.resolve())
            unique.append((place, why))
    return unique


def locate(stored: str, record: dict, checkpoint: Path) -> str:
    """The file to load for one stored plugin: the first place whose hash matches the record,
    else the first place that exists (with a warning naming both hashes)."""
    want = record.get("sha256") if isinstance(record.get("sha256"), str) else None
    places = candidates(stored, record, checkpoint)
    found = [place for place, _ in places if place.is_file()]
    if not found:
        raise CheckpointError(not_found_message(stored, want, places, checkpoint))
    if want is None:
        return str(found[0])
    hashes = {place: file_sha256(place) for place in found}
    match = next((place for place in found if hashes[place] == want), None)
    if match is not None:
        return str(match)
    log.warning("plugin %s is not the file checkpoint %s was trained with (sha256 of this file: "
                "%s; at training: %s); loading it anyway, as edits are usually fixes. If the "
                "weights do not load or the output looks wrong, restore the version used in "
                "training.", found[0], checkpoint, hashes[found[0]], want)
    return str(found[0])


def not_found_message(stored: str, want: str | None, places: list[tuple[Path, str]],
                      checkpoint: Path) -> str:
    name = Path(stored).name
    looked = "; ".join(f"{place} ({why})" for place, why in places)
    digest = f" (sha256 {want})" if want else ""
    return (f"checkpoint '{checkpoint}' needs the plugin file '{name}'{digest} that defines "
            f"module types of its recipe; it is in none of the places looked: {looked}. A "
            f"checkpoint stores only a plugin's path and hash, never its code: copy {name} next "
            f"to the checkpoint (to {checkpoint.parent / name}), or put it back at {stored}.")


def warn_changed_plugins(state: dict, plugins: list[str], recipe_path: str,
                         checkpoint: str | Path) -> None:
    """Warn when a plugin of the recipe at ``recipe_path`` (same file name as one the checkpoint
    recorded) is not the file the checkpoint was trained with; the recipe's own file is used
    either way."""
    records = state.get("plugins")
    if not isinstance(records, list):
        return
    mine = {Path(p).name: p for p in plugins if isinstance(p, str)}
    for record in records:
        if not (isinstance(record, dict) and isinstance(record.get("path"), str)):
            continue
        path = mine.get(Path(record["path"]).name)
        now = path and (loaded_sha256(path) or file_sha256(path))
        if now and isinstance(record.get("sha256"), str) and now != record["sha256"]:
            log.warning("plugin %s of recipe '%s' is not the file checkpoint %s was trained with "
                        "(sha256 of this file: %s; at training: %s); using it anyway.", path,
                        recipe_path, checkpoint, now, record["sha256"])


def plugin_failure(err: BaseException, indent: str = "    ") -> str:
    """``err`` as Python prints it, with only the plugin's own frames (ours and importlib's cut);
    a SyntaxError shows its file, line and the offending text."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if _users_frame(f.filename)]
    text = "".join(traceback.format_list(frames) + traceback.format_exception_only(type(err), err))
    if frames:
        text = "Traceback (most recent call last):\n" + text
    return textwrap.indent(text.rstrip("\n"), indent)


def _users_frame(filename: str) -> bool:
    if filename.startswith("<frozen importlib"):
        return False
    path = Path(filename).resolve()
    return not (path.is_relative_to(_PACKAGE) or path.is_relative_to(_IMPORTLIB))
