"""The scan progress strip: bar, images done / total, images per second, time left, current file."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from dupfinder.embedder import Embedder
from dupfinder.jobs import Progress

from .engine import EngineHost, describe
from .icons import icon


class ScanProgress(QWidget):
    """Shown while a scan runs; Cancel keeps what was done."""

    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.label = QLabel("Starting…", self)
        self.current = QLabel("", self)
        self.current.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.current.setMinimumWidth(100)
        self.cancel = QPushButton(icon("stop"), "Cancel", self)
        self.cancel.setToolTip("Stop now and review what was scanned so far (Esc)")
        self.cancel.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.label)
        text.addWidget(self.bar)
        text.addWidget(self.current)
        layout.addLayout(text, 1)
        layout.addWidget(self.cancel)
        font = self.current.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.current.setFont(font)

    def start(self) -> None:
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.label.setText("Starting…")
        self.current.setText("")
        self.cancel.setEnabled(True)
        self.show()

    def update_progress(self, event: Progress) -> None:
        if event.total > 0:
            self.bar.setRange(0, event.total)
            self.bar.setValue(min(event.done, event.total))
        else:
            self.bar.setRange(0, 0)
        self.label.setText(describe(event))
        if event.current:
            metrics = self.current.fontMetrics()
            width = max(100, self.current.width())
            self.current.setText(metrics.elidedText(event.current, Qt.TextElideMode.ElideMiddle, width))
            self.current.setToolTip(event.current)

    def _cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.label.setText("Cancelling… keeping what was scanned")
        self.cancelRequested.emit()


class ModelStatus(QLabel):
    """The status bar's word on the model: which one, on which device (CUDA or CPU), or what failed."""

    def __init__(self, engine: EngineHost, parent: QWidget | None = None) -> None:
        super().__init__("Loading model…", parent)
        engine.modelLoading.connect(lambda: self.setText("Loading model…"))
        engine.modelReady.connect(self._ready)
        engine.modelFailed.connect(self._failed)

    def _ready(self, embedder: Embedder) -> None:
        device = "CUDA (GPU)" if embedder.device == "cuda" else "CPU"
        self.setText(f"Model: {embedder.card.name} · {device}")
        self.setToolTip(f"{embedder.model_path}\nProviders: {', '.join(embedder.providers)}")

    def _failed(self, message: str) -> None:
        self.setText("<span style='color:#dc2626'>No model loaded</span>")
        self.setToolTip(message)
