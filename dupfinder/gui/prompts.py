"""Questions the window asks the user, behind one small interface so tests can answer them.

The window never calls QMessageBox or QFileDialog directly; it asks its `Prompts`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


class Prompts:
    """Modal dialogs parented to the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def confirm(
        self, title: str, text: str, details: str = "", action: str = "OK", danger: bool = False
    ) -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Warning if danger else QMessageBox.Icon.Question, title, text, parent=self.parent
        )
        if details:
            box.setDetailedText(details)
        accept = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel if danger else accept)
        box.exec()
        return box.clickedButton() is accept

    def inform(self, title: str, text: str, details: str = "", warning: bool = False) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Information,
            title,
            text,
            parent=self.parent,
        )
        if details:
            box.setDetailedText(details)
        box.exec()

    def choose_folder(self, title: str, start: str = "") -> Path | None:
        chosen = QFileDialog.getExistingDirectory(self.parent, title, start)
        return Path(chosen) if chosen else None

    def choose_folders(self, title: str, start: str = "") -> list[Path]:
        chosen = self.choose_folder(title, start)
        return [chosen] if chosen else []

    def choose_open_file(self, title: str, filter: str, start: str = "") -> Path | None:
        chosen, _ = QFileDialog.getOpenFileName(self.parent, title, start, filter)
        return Path(chosen) if chosen else None

    def choose_save_file(self, title: str, filter: str, start: str = "") -> tuple[Path | None, str]:
        chosen, selected = QFileDialog.getSaveFileName(self.parent, title, start, filter)
        return (Path(chosen) if chosen else None), selected
