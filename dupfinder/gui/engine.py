"""The window's handle on the engine: loads the model, runs scans and queries off the UI thread.

Progress events from the engine's `Job` become the `progress` signal; cancelling sets the job's
flag from the UI thread, and the scan returns what it had done (partial groups, consistent cache).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from dupfinder.cache import EmbeddingCache
from dupfinder.embedder import Embedder, ModelError
from dupfinder.jobs import Job, Progress
from dupfinder.modelcard import ModelCardError
from dupfinder.models import ModelNotFound, find_model
from dupfinder.query import Match, embed_file, similar_in
from dupfinder.scan import Scanner, ScanOptions, ScanResult

from .tasks import Tasks

MODEL_ERRORS = (ModelNotFound, ModelError, ModelCardError, OSError)

# Scan threads run Python too; a short GIL switch interval (default 5 ms) lets the UI thread in
# often enough that it never waits long behind them, at a negligible cost in throughput.
UI_SWITCH_INTERVAL = 0.001


@dataclass(frozen=True)
class ModelChoice:
    path: str  # "" for the default search ($DUPFINDER_MODEL, then the bundled model)
    device: str


class EngineHost(QObject):
    """Owns the embedder, the cache and the running scan; talks to the window through signals."""

    modelLoading = Signal()
    modelReady = Signal(object)  # Embedder
    modelFailed = Signal(str)
    scanStarted = Signal()
    progress = Signal(object)  # jobs.Progress
    scanFinished = Signal(object)  # ScanResult
    scanFailed = Signal(str)
    similarFound = Signal(str, object)  # query path, list[Match]
    similarFailed = Signal(str, str)  # query path, reason

    def __init__(self, cache_path: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        sys.setswitchinterval(min(sys.getswitchinterval(), UI_SWITCH_INTERVAL))
        self.tasks = Tasks(self, threads=2)
        self.cache = EmbeddingCache(cache_path)
        self.embedder: Embedder | None = None
        self.model_error = ""
        self._job: Job | None = None
        self._queued: ScanOptions | None = None
        self._loading = False
        self._closed = False

    @property
    def scanning(self) -> bool:
        return self._job is not None

    @property
    def loading(self) -> bool:
        return self._loading

    def load_model(self, choice: ModelChoice) -> None:
        """Find and load the model in the background; a scan asked for meanwhile waits for it."""
        self._loading, self.embedder, self.model_error = True, None, ""
        self.modelLoading.emit()

        def load() -> Embedder:
            return Embedder(find_model(choice.path or None), device=choice.device)  # type: ignore[arg-type]

        self.tasks.submit(load, self._model_loaded, self._model_failed)

    def _model_loaded(self, embedder: Embedder) -> None:
        self._loading, self.embedder = False, embedder
        self.modelReady.emit(embedder)
        if self._queued is not None:
            options, self._queued = self._queued, None
            self.scan(options)

    def _model_failed(self, error: BaseException) -> None:
        self._loading, self.model_error = False, str(error)
        self._queued = None
        self.modelFailed.emit(self.model_error)

    def scan(self, options: ScanOptions) -> bool:
        """Start a scan (or queue it behind the model load); False when no model can run it."""
        if self.scanning:
            return False
        if self._loading:
            self._queued = options
            return True
        if self.embedder is None:
            return False
        scanner = Scanner(self.embedder, self.cache)
        job = Job(self.progress.emit, min_interval=0.05)
        self._job = job
        self.scanStarted.emit()
        self.tasks.submit(lambda: scanner.scan(options, job), self._scan_done, self._scan_failed)
        return True

    def cancel(self) -> None:
        self._queued = None
        if self._job is not None:
            self._job.cancel()

    def _scan_done(self, result: ScanResult) -> None:
        self._job = None
        self.scanFinished.emit(result)

    def _scan_failed(self, error: BaseException) -> None:
        self._job = None
        self.scanFailed.emit(f"{type(error).__name__}: {error}")

    def find_similar(self, path: str, result: ScanResult, count: int = 30) -> None:
        """Embed one picture and search the scanned pictures for it, in the background."""
        embedder = self.embedder
        if embedder is None:
            self.similarFailed.emit(path, self.model_error or "no model is loaded")
            return

        def query() -> list[Match]:
            return similar_in(result, embed_file(embedder, Path(path)), count)

        self.tasks.submit(
            query,
            lambda matches: self.similarFound.emit(path, matches),
            lambda error: self.similarFailed.emit(path, str(error)),
        )

    def close(self) -> None:
        """Cancel what runs, wait for it, and close the cache (at window close)."""
        self.cancel()
        self.tasks.wait(10_000)
        if not self._closed:
            self._closed = True
            self.cache.close()


def describe(event: Progress) -> str:
    """One line for the progress label: what, how many, how fast, how long."""
    names = {
        "discover": "Finding pictures",
        "hash": "Checking files",
        "embed": "Reading pictures",
        "group": "Grouping",
        "align": "Comparing close pairs",
    }
    parts = [names.get(event.stage, event.stage.capitalize())]
    parts.append(f"{event.done:,} / {event.total:,}" if event.total else f"{event.done:,}")
    if event.rate >= 1 and event.stage == "embed":
        parts.append(f"{event.rate:,.0f} images/s")
    if event.eta_seconds is not None and event.stage == "embed" and event.done < event.total:
        parts.append(f"{_duration(event.eta_seconds)} left")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
