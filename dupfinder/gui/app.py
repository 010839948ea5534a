"""Application start-up: QApplication, theme, the main window, and the folders given on the command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from dupfinder import __version__

from . import theme
from .environment import Environment, default_environment
from .icons import app_icon
from .window import MainWindow


def application() -> QApplication:
    """The one QApplication, named so QSettings and the data folders land in the right place."""
    QCoreApplication.setOrganizationName("dupfinder")
    QCoreApplication.setApplicationName("dupfinder")
    QCoreApplication.setApplicationVersion(__version__)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setDesktopFileName("dupfinder")
    app.setWindowIcon(app_icon())
    theme.apply(app)
    return app


def open_window(
    folders: list[Path] | None = None, model: Path | None = None, environment: Environment | None = None
) -> MainWindow:
    """Create and show the window; with folders, add them and start scanning."""
    window = MainWindow(environment or default_environment(), model=model)
    window.show()
    if folders:
        window.add_folders(list(folders), scan=True)
    return window


def run(folders: list[Path] | None = None, model: Path | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="dupfinder: %(message)s")
    app = application()
    window = open_window(folders, model)
    code = app.exec()
    del window
    return code
