"""Running engine calls off the UI thread and getting their results back as Qt signals.

A worker never touches a widget: it calls the engine and emits a signal; Qt queues the signal to
the UI thread, where the slot runs. Engine progress callbacks become signals the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


class _Relay(QObject):
    """Lives in the UI thread; its signals carry a worker's outcome back to it."""

    finished = Signal(object)
    failed = Signal(object)


class _Work(QRunnable):
    def __init__(self, function: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.function = function
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.function()
        except BaseException as error:  # a worker must report every failure, never swallow it
            self.relay.failed.emit(error)
        else:
            self.relay.finished.emit(result)


class Tasks(QObject):
    """A small thread pool for engine calls; `busy` is True while any call runs."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._relays: set[_Relay] = set()

    @property
    def busy(self) -> bool:
        return bool(self._relays)

    def submit(
        self,
        function: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        """Run `function` in the pool; `done(result)` or `failed(error)` then runs in the UI thread."""
        relay = _Relay(self)
        self._relays.add(relay)
        relay.finished.connect(lambda result: self._finish(relay, done, result))
        relay.failed.connect(lambda error: self._finish(relay, failed, error))
        if len(self._relays) == 1:
            self.busyChanged.emit(True)
        self.pool.start(_Work(function, relay))

    def _finish(self, relay: _Relay, callback: Callable[[Any], None], value: Any) -> None:
        self._relays.discard(relay)
        relay.deleteLater()
        try:
            callback(value)
        finally:
            if not self._relays:
                self.busyChanged.emit(False)

    @Slot()
    def wait(self, msecs: int = -1) -> bool:
        """Block until every running call is done (used when the window closes)."""
        return self.pool.waitForDone(msecs)
