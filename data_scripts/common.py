"""Helpers shared by the corpus preparation scripts: errors, checksums, downloads, atomic writes.

Kept free of torch and of the ``mtseq2seq`` package so that a script that only moves text around
starts fast. Scripts raise `PrepError` for anything the user can fix (a missing file, a bad
checksum, no network) and wrap their ``main`` in `run_cli`, which prints one ``error: ...`` line
and exits with status 2 instead of showing a traceback.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

CHUNK = 1 << 16
EXIT_USER_ERROR = 2


class PrepError(Exception):
    """A problem with the user's data, paths or network, described in one message."""


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None,
            errors: Sequence[type[BaseException]] = ()) -> int:
    """Run ``main(argv)``; turn `PrepError` (and ``errors``) into ``error: ...`` and status 2."""
    try:
        return main(argv)
    except (PrepError, *errors) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def sha256_of(path: Path) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checksums(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum`` listing (``<hex>  <name>`` or ``<hex> *<name>``) into name -> digest.

    Raises:
        PrepError: on a line that is not ``<64 hex digits> <name>``.
    """
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise PrepError(f"{path}, line {number}: expected '<sha256 hex>  <file name>', "
                            f"got {line.strip()!r}")
        sums[name] = digest.lower()
    return sums


def check_sha256(path: Path, expected: str) -> None:
    """Raise `PrepError` naming ``path`` unless its SHA-256 digest is ``expected``."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise PrepError(f"{path}: SHA-256 is {actual}, expected {expected.lower()} "
                        "(the file is corrupt, truncated, or a different version; "
                        "delete it and fetch it again)")


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest`` with a progress bar, unless ``dest`` already holds it.

    An existing ``dest`` whose checksum matches ``sha256`` (or any existing ``dest`` when no
    checksum is given) is reused, so a second run needs no network. The file appears under its
    final name only once complete and verified.

    Raises:
        PrepError: when the URL cannot be fetched (offline, moved) or the checksum differs.
    """
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256.lower()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            _fetch(url, out, dest.name, timeout)
        if sha256 is not None:
            check_sha256(temp, sha256)
        _make_readable(temp)
        os.replace(temp, dest)
    except PrepError as error:
        raise PrepError(str(error).replace(str(temp), f"{dest} (downloaded from {url})")) from None
    finally:
        temp.unlink(missing_ok=True)
    return dest


def _fetch(url: str, out, name: str, timeout: float) -> None:
    """Stream ``url`` into the open binary file ``out`` with a tqdm bar."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {name}",
                      disable=None, leave=False) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise PrepError(f"could not download {url}: {reason}. If this machine is offline, fetch "
                        "the file elsewhere and point --from at it or its folder "
                        "(see --help)") from None


def _make_readable(path: Path) -> None:
    """Give a temp file (created 0600) the permissions a plain ``open`` would have given it."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (each followed by a newline, UTF-8) to ``path`` via a temp file and rename.

    A reader never sees a half-written file, and an interrupted run leaves the old file intact.

    Returns:
        The number of lines written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            for line in lines:
                out.write(line + "\n")
                count += 1
        _make_readable(Path(temp_name))
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)
    return count


@contextlib.contextmanager
def atomic_binary(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write whose contents replace ``path`` only if the ``with`` block succeeds.

    The data go to a temp file beside ``path`` that is renamed at the end, so a reader never sees a
    half-written file; an error or an interrupt leaves the old file intact and no temp file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        _make_readable(Path(temp_name))
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def output_dir(path: Path) -> Path:
    """Create the output folder (with parents) or raise `PrepError` saying why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or error
        raise PrepError(f"cannot create the output folder {path}: {reason}") from None
    return path
