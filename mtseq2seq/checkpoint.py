"""Checkpoints: atomic save (temporary file, fsync, rename) and safe load (weights_only).

A checkpoint is plain data: tensors, numbers, strings, bytes, lists, tuples and dicts (checked on
save). It carries the model, the training state, the resolved recipe and the vocabularies, so
translating needs nothing else. A crash while saving leaves the previous file whole, plus at most a
hidden `.<name>.<pid>.tmp` that no checkpoint name matches and `remove_stale_tmp` deletes.

For crash tests, the environment variable MTSEQ2SEQ_TEST_KILL_BEFORE_WRITE=N makes the process
SIGKILL itself just before its N-th checkpoint write (a save, a copy or a rename), so a test can
stop a run between any two writes without relying on timing.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import warnings
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch

from .errors import CheckpointError

FORMAT = 1
_PLAIN = (str, bytes, int, float, bool, type(None), torch.dtype, torch.Size)
_TMP = re.compile(r"^\..+\.(\d+)\.tmp$")
KILL_HOOK = "MTSEQ2SEQ_TEST_KILL_BEFORE_WRITE"
_writes = 0


def save_atomic(state: dict, path: Path) -> None:
    """Write ``state`` so that a crash at any moment leaves either the old or the new file."""
    where = not_plain(state)
    if where is not None:  # a bug of ours: weights_only loading would refuse the file later
        raise TypeError(f"checkpoint state is not plain data at {where}")
    _write_atomic(path, lambda handle: torch.save(state, handle))


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy a finished checkpoint file to ``dst`` with the same all-or-nothing guarantee."""
    def copy(handle: BinaryIO) -> None:
        with open(src, "rb") as reader:
            shutil.copyfileobj(reader, handle, 1 << 20)

    _write_atomic(dst, copy)


def rename_atomic(src: Path, dst: Path) -> None:
    """Move a finished file over ``dst`` (one rename, then the folder is synced)."""
    _test_kill_hook()
    os.replace(src, dst)
    _fsync_dir(dst.parent)


def _test_kill_hook() -> None:
    """Count checkpoint writes; SIGKILL this process before the one the crash tests name."""
    global _writes
    _writes += 1
    if os.environ.get(KILL_HOOK) == str(_writes):
        os.kill(os.getpid(), signal.SIGKILL)


def _write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """``write`` into a hidden temporary file beside ``path``, fsync it, rename it over ``path``."""
    _test_kill_hook()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


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


def not_plain(value: Any, where: str = "state") -> str | None:
    """Where in ``value`` something other than plain data sits (e.g. "state['rng'][1]"), or None."""
    if isinstance(value, _PLAIN) or type(value) in (torch.Tensor, torch.nn.Parameter):
        return None
    if isinstance(value, dict):
        items = value.items()
    elif type(value) in (list, tuple):
        items = enumerate(value)
    else:
        return f"{where} ({type(value).__module__}.{type(value).__qualname__})"
    for key, child in items:
        found = not_plain(key, f"{where} key") if not isinstance(key, (str, int)) else None
        found = found or not_plain(child, f"{where}[{key!r}]")
        if found:
            return found
    return None


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Delete temporary files that saves killed mid-write left behind (their process is gone)."""
    removed = []
    for tmp in folder.glob(".*.tmp") if folder.is_dir() else []:
        match = _TMP.match(tmp.name)
        if match and not _alive(int(match.group(1))):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True


def load(path: str | Path, map_location: Any = "cpu") -> dict:
    """Read a checkpoint; a CheckpointError (no torch traceback) if it is missing or damaged."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint '{path}' is a directory, not a checkpoint file "
                              "(e.g. runs/NAME/checkpoint_best.pt)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint '{path}' is empty (0 bytes): the save that wrote it "
                              "did not finish")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles; the error says enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for damaged files
        raise CheckpointError(f"checkpoint '{path}' cannot be read (truncated or not a "
                              f"checkpoint): {_load_failure(err)}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise CheckpointError(f"checkpoint '{path}' is not an mtseq2seq checkpoint (format {FORMAT})")
    return state


def _load_failure(err: Exception) -> str:
    """Torch's reason in a few words (its advice to load with weights_only=False is not for us)."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1].strip().splitlines()[0]
        return f"it holds more than tensors and plain data ({detail})"
    first = (text.strip().splitlines() or [""])[0]
    first = first.split(". ")[0][:160]
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def check_fits(expected: dict[str, torch.Tensor], stored: Any, path: str | Path, what: str,
               hints: list[str] = ()) -> None:
    """A CheckpointError naming the modules whose weights differ between a checkpoint's
    ``stored`` model state and the ``expected`` one (``what`` says where that comes from);
    ``hints`` (e.g. how the two recipes differ) come first in the message."""
    if not isinstance(stored, dict):
        raise CheckpointError(f"checkpoint '{path}' has no model weights")
    problems = []
    for module in sorted({_module(k) for k in expected} | {_module(k) for k in stored}):
        ours = {k for k in expected if _module(k) == module}
        theirs = {k for k in stored if _module(k) == module}
        if not theirs:
            problems.append(f"{module}: in {what}, not in the checkpoint")
        elif not ours:
            problems.append(f"{module}: in the checkpoint, not in {what}")
        elif ours != theirs:
            problems.append(f"{module}: other layers or type: {len(theirs - ours)} weights only in "
                            f"the checkpoint (e.g. {min(theirs - ours, default='-')}), "
                            f"{len(ours - theirs)} only in the model "
                            f"(e.g. {min(ours - theirs, default='-')})")
    wrong = [f"{key}: {_shape(stored[key])} in the checkpoint, {_shape(value)} in the model"
             for key, value in expected.items() if key in stored and _shape(stored[key]) !=
             _shape(value)]
    problems += wrong[:6] + ([f"... and {len(wrong) - 6} more weights of other sizes"]
                             if len(wrong) > 6 else [])
    if problems:
        raise CheckpointError([*hints, *problems], header=f"checkpoint '{path}' does not fit "
                              f"{what} (trained with another recipe or vocabulary?)")


def _module(key: str) -> str:
    """The module a weight belongs to: 'decoders.de' for 'decoders.de.embed.weight'."""
    return ".".join(key.split(".")[:2])


def _shape(value: Any) -> str:
    return str(list(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def prune_steps(run_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``checkpoint_step<N>.pt`` files."""
    found = []
    for path in run_dir.glob("checkpoint_step*.pt"):
        digits = path.stem[len("checkpoint_step"):]
        if digits.isdigit():
            found.append((int(digits), path))
    for _, path in sorted(found)[:-keep] if keep > 0 else []:
        path.unlink(missing_ok=True)
