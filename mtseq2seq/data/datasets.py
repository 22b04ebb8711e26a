"""Reading text corpora: UTF-8 checked line by line, parallel files checked for equal length.

Errors name the file and the line, so a user can open the file and fix it.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from ..errors import DataError


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a UTF-8 text file without their newline; a DataError names a bad line."""
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise DataError(f"cannot read data file '{path}': {err.strerror}") from None
    with handle:
        yield from decode_lines(_guarded(handle, path), str(path))


def read_stream(handle: BinaryIO, name: str = "<stdin>",
                on_bad: Callable[[DataError], str] | None = None) -> Iterator[str]:
    """Lines of a binary stream (``sys.stdin.buffer``), split and checked like a file's: only
    '\\n' ends a line, so a stray '\\r' or U+2028 cannot shift the output against the input.

    Lines are yielded as they are read, so a consumer keeps those before a bad line; ``on_bad``
    (if given) is called with a bad line's error and returns the text to yield in its place."""
    yield from decode_lines(handle, name, on_bad)


def decode_lines(raw_lines: Iterable[bytes], name: str,
                 on_bad: Callable[[DataError], str] | None = None) -> Iterator[str]:
    """UTF-8 lines without their newline; a DataError names the first bad line of ``name``
    (unless ``on_bad`` gives a replacement for it)."""
    for number, raw in enumerate(raw_lines, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            error = DataError(f"{name}, line {number}: not valid UTF-8 (byte "
                              f"{raw[err.start]:#04x} at column {err.start + 1})")
            if on_bad is None:
                raise error from None
            text = on_bad(error)
        yield text.rstrip("\r\n")


def _guarded(handle: BinaryIO, path: Path) -> Iterator[bytes]:
    """The handle's lines; a read error (e.g. a directory, a vanished disk) as a DataError."""
    try:
        yield from handle
    except OSError as err:
        raise DataError(f"cannot read data file '{path}': {err.strerror or err}") from None


def read_parallel(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Both sides of a parallel corpus; a DataError when their line counts differ."""
    src = list(read_lines(src_path))
    tgt = src if tgt_path == src_path else list(read_lines(tgt_path))
    if len(src) != len(tgt):
        raise DataError(f"parallel files differ in length: '{src_path}' has {len(src)} lines, "
                        f"'{tgt_path}' has {len(tgt)}")
    if not src:
        raise DataError(f"data file '{src_path}' is empty")
    return src, tgt
