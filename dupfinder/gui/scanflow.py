"""Starting, following and ending a scan: options from the settings, the progress strip, the notice.

The scan itself runs in the engine host's worker; this only turns its signals into what the user
sees and tells the window when the scan is running and when a result is ready.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget

from dupfinder.scan import ScanOptions, ScanResult

from .engine import EngineHost
from .progress import ScanProgress
from .prompts import Prompts
from .settings import AppSettings
from .text import plural


class ScanFlow(QObject):
    running = Signal(bool)
    finished = Signal(object)  # ScanResult
    needFolders = Signal()

    def __init__(
        self, engine: EngineHost, settings: AppSettings, prompts: Prompts, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.engine, self.settings, self.prompts = engine, settings, prompts
        self.progress = ScanProgress(parent)
        self.progress.hide()
        self.notice = QLabel(parent)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setContentsMargins(10, 6, 10, 6)
        self.notice.setStyleSheet("QLabel#notice { background: #fef3c7; color: #78350f; }")
        self.notice.hide()
        progress = self.progress
        engine.scanStarted.connect(self.notice.hide)
        engine.progress.connect(progress.update_progress)
        engine.scanFinished.connect(self._finished)
        engine.scanFailed.connect(self._failed)
        engine.modelFailed.connect(self._model_failed)
        progress.cancelRequested.connect(self.cancel)
        self._active = False

    @property
    def active(self) -> bool:
        """A scan runs, or waits for the model to load."""
        return self._active

    def options(self) -> ScanOptions:
        return ScanOptions(
            roots=[Path(r) for r in self.settings.roots()],
            discover=self.settings.discover_options(),
            threshold=self.settings.threshold,
            workers=self.settings.workers,
            turned_copies=self.settings.turned_copies,
            mirrored_copies=self.settings.mirrored_copies,
            cropped_copies=self.settings.cropped_copies,
            aligned_copies=self.settings.aligned_copies,
        )

    def start(self) -> bool:
        """Scan the folders in the settings; False when nothing could start (and says why)."""
        if self._active:
            return False
        if not self.settings.roots():
            self.needFolders.emit()
            return False
        if self.engine.embedder is None and not self.engine.loading:
            self.prompts.inform(
                "No model",
                (self.engine.model_error or "No model is loaded.") + "\n\nChoose a model file in Settings.",
                warning=True,
            )
            return False
        if not self.engine.scan(self.options()):
            return False
        self._active = True
        self.progress.start()
        self.running.emit(True)
        return True

    def cancel(self) -> None:
        self.engine.cancel()
        if self._active and not self.engine.scanning:  # still waiting for the model
            self._end()

    def _end(self) -> None:
        self._active = False
        self.progress.hide()
        self.running.emit(False)

    def _model_failed(self, _message: str) -> None:
        if self._active:
            self._end()

    def _failed(self, message: str) -> None:
        self._end()
        self.prompts.inform("Scan failed", message, warning=True)

    def _finished(self, result: ScanResult) -> None:
        self._end()
        self._show_notice(result)
        self.finished.emit(result)

    def _show_notice(self, result: ScanResult) -> None:
        report, stats = result.report, result.report.stats
        parts = []
        if report.cancelled:
            parts.append(
                f"<b>Scan cancelled.</b> These groups cover the {stats.images:,} pictures "
                "scanned so far; scan again to finish (what was done is cached)."
            )
        if report.errors:
            parts.append(
                f"{plural(len(report.errors), 'file')} could not be read. <a href='errors'>Show them</a>"
            )
        self.notice.setText("&nbsp;&nbsp;".join(parts))
        self.notice.setVisible(bool(parts))
