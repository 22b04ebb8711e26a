"""Graceful stops: SIGINT / SIGTERM set a flag that the training loop reads at the next step boundary.

A second Ctrl-C while the first is being handled stops at once (the default handler is back).
"""
from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


class StopRequest:
    """Context manager installing the handlers; `requested` holds the signal's name once one came."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = signal.Signals(signum).name
        log.warning("%s received: saving a checkpoint at the end of this step, then stopping "
                    "(send it again to stop at once)", self.requested)
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __enter__(self) -> "StopRequest":
        for sig in self.SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
