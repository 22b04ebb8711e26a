"""Checkpoints: atomic save (temporary file, fsync, rename) and safe load (weights_only).

A checkpoint is plain data: tensors, numbers, strings, bytes, lists and dicts. It carries the model,
the training state, the resolved recipe and the vocabularies, so translating needs nothing else.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError

FORMAT = 1


def save_atomic(state: dict, path: Path) -> None:
    """Write ``state`` so that a crash at any moment leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy a finished checkpoint file to ``dst`` with the same all-or-nothing guarantee."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with open(src, "rb") as reader, open(tmp, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(dst.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | Path, map_location: Any = "cpu") -> dict:
    """Read a checkpoint; a CheckpointError (no torch traceback) if it is missing or damaged."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for damaged files
        raise CheckpointError(f"checkpoint '{path}' cannot be read (truncated or not a "
                              f"checkpoint): {type(err).__name__}: {str(err).splitlines()[0][:200]}"
                              ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise CheckpointError(f"checkpoint '{path}' is not an mtseq2seq checkpoint (format {FORMAT})")
    return state


def prune_steps(run_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``checkpoint_step<N>.pt`` files."""
    found = []
    for path in run_dir.glob("checkpoint_step*.pt"):
        digits = path.stem[len("checkpoint_step"):]
        if digits.isdigit():
            found.append((int(digits), path))
    for _, path in sorted(found)[:-keep] if keep > 0 else []:
        path.unlink(missing_ok=True)
