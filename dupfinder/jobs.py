"""Progress reporting and cancellation shared by every long engine operation.

Engine functions take a `Job`; the default one does nothing, so they stay testable without a UI.
A progress callback returns False to ask for cancellation (as dupeGuru's job objects do), and
`cancel()` can be called from any thread. The engine never learns who is listening.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One progress event: which stage, how far, and what is being worked on."""

    stage: str  # "discover", "hash", "embed", "group", "align"
    done: int
    total: int  # 0 when not known yet
    current: str = ""  # the file being worked on, if any
    rate: float = 0.0  # items per second in this stage
    eta_seconds: float | None = None


ProgressCallback = Callable[[Progress], "bool | None"]


class Cancelled(Exception):
    """Raised inside the engine when the job was cancelled; callers keep the partial results."""


class Job:
    """Carries a progress callback and a cancel flag through the engine.

    Events are throttled to `min_interval` seconds per stage so a UI is never flooded; the first
    and last event of a stage always get through.
    """

    def __init__(self, callback: ProgressCallback | None = None, min_interval: float = 0.05) -> None:
        self._callback = callback
        self._cancel = threading.Event()
        self._min_interval = min_interval
        self._stage = ""
        self._stage_start = 0.0
        self._last_sent = 0.0

    def cancel(self) -> None:
        """Ask the engine to stop at the next check; safe from any thread."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if cancellation was asked for."""
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, stage: str, done: int, total: int, current: str = "") -> None:
        """Report progress; a callback that returns False cancels the job."""
        now = time.monotonic()
        if stage != self._stage:
            self._stage, self._stage_start, self._last_sent = stage, now, 0.0
        final = total > 0 and done >= total
        if not final and done > 0 and now - self._last_sent < self._min_interval:
            return
        self._last_sent = now
        if self._callback is None:
            return
        elapsed = now - self._stage_start
        rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
        eta = (total - done) / rate if rate > 0 and total >= done else None
        if self._callback(Progress(stage, done, total, current, rate, eta)) is False:
            self._cancel.set()
