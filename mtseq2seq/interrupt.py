"""Graceful stops: SIGINT / SIGTERM set a flag that training, validation and test decoding read.

The training loop reads the flag at the end of each update; validation and test decoding call
`check()` between batches, which raises `Interrupted` once a stop was asked for, so a stop lands
within one batch. A second signal while the first is being handled raises `StopNow` (a
KeyboardInterrupt) at once; the command line turns either into a one-line message and the exit
status 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), never a traceback.
In a run of several processes a stop must land on every rank at the same point, so there the
trainer validates inside `deferred()`, and the ranks agree on stopping after the validation.
"""
from __future__ import annotations

import logging
import signal
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)
_active: "StopRequest | None" = None
_deferred = 0  # inside `deferred()`: `check` does not raise


class Interrupted(Exception):
    """A stop was asked for during validation or decoding (raised between batches)."""

    def __init__(self, signame: str) -> None:
        super().__init__(f"stopped by {signame}")
        self.signame = signame


class StopNow(KeyboardInterrupt):
    """A second stop signal: leave at once (nothing half-written survives: saves are atomic)."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


def exit_status(signame: str) -> int:
    """128 + the signal's number, as a shell reports a process the signal ended."""
    return 128 + int(getattr(signal, signame, signal.SIGINT))


def check() -> None:
    """Raise `Interrupted` if a stop signal came; cheap enough to call once per batch."""
    if _active is not None and _active.requested and not _deferred:
        raise Interrupted(_active.requested)


@contextmanager
def deferred():
    """`check` does not raise inside; the signal stays requested for the caller to act on."""
    global _deferred
    _deferred += 1
    try:
        yield
    finally:
        _deferred -= 1


class StopRequest:
    """Context manager installing the handlers; `requested` holds the signal's name once one came."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, what: str = "saving a checkpoint at the end of this step") -> None:
        self.requested: str | None = None
        self.what = what
        self._previous: dict[int, Any] = {}
        self._outer: StopRequest | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:
            raise StopNow(name)
        self.requested = name
        # the signal may land while the main thread writes to stderr: a log line then is a
        # reentrant write, whose error logging would print as a traceback; drop it instead
        raising, logging.raiseExceptions = logging.raiseExceptions, False
        try:
            log.warning("%s received: %s, then stopping (send it again to stop at once)",
                        name, self.what)
        finally:
            logging.raiseExceptions = raising

    def __enter__(self) -> "StopRequest":
        global _active
        for sig in self.SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        self._outer, _active = _active, self
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        _active = self._outer
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
