"""Application start-up: QApplication, the main window, and the folders given on the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


def run(folders: list[Path] | None = None, model: Path | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("dupfinder")
    window.setCentralWidget(QLabel("Drop folders here to find duplicate pictures."))
    window.resize(900, 600)
    window.show()
    return app.exec()
