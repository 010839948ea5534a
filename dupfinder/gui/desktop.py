"""What the window asks of the desktop: the system trash, opening and revealing files, the clipboard."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QFile, QProcess, QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from dupfinder.trash import FreedesktopTrash, home_trash


class QtTrash:
    """The trash backend the window injects into `FileActions`: `QFile.moveToTrash`.

    On Linux Qt uses the freedesktop home trash under $XDG_DATA_HOME (which must exist), so
    crash recovery can find a file there again; elsewhere the platform's own trash is used.
    """

    def trash(self, path: str) -> str:
        if sys.platform.startswith("linux"):
            data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
            os.makedirs(data, exist_ok=True)
        handle = QFile(path)
        if not handle.moveToTrash():
            raise OSError(handle.errorString() or "the system refused to move it to the trash")
        return handle.fileName()

    def locate(self, original: str) -> str | None:
        if sys.platform.startswith("linux"):
            return FreedesktopTrash(home_trash()).locate(original)
        return None


def open_file(path: str) -> bool:
    """Open with the user's default application."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def reveal(path: str) -> bool:
    """Show the file selected in the file manager (or at least its folder)."""
    if sys.platform == "win32":
        return QProcess.startDetached("explorer.exe", ["/select,", os.path.normpath(path)])[0]
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    uri = QUrl.fromLocalFile(path).toString()
    shown = QProcess.startDetached(
        "dbus-send",
        [
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.FileManager1",
            "/org/freedesktop/FileManager1",
            "org.freedesktop.FileManager1.ShowItems",
            f"array:string:{uri}",
            "string:",
        ],
    )[0]
    return shown or QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))


def copy_paths(paths: list[str]) -> None:
    QGuiApplication.clipboard().setText("\n".join(paths))
