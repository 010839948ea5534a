"""What the right side shows before there is anything to compare: where to drop, or what is wrong."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .icons import app_icon, icon

WELCOME = (
    "Drag folders here to find duplicate pictures.<br>"
    "<span style='font-size:10pt'>Or drop one picture to find the ones that look like it.</span>"
)


class EmptyState(QWidget):
    addRequested = Signal()
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.logo = QLabel(self)
        self.logo.setPixmap(app_icon().pixmap(96, 96))
        self.logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = QLabel(self)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem.setMaximumWidth(620)
        self.add = QPushButton(icon("folder-add"), "Add folder…", self)
        self.add.clicked.connect(self.addRequested.emit)
        self.choose_model = QPushButton(icon("settings"), "Choose a model file…", self)
        self.choose_model.clicked.connect(self.settingsRequested.emit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add)
        buttons.addWidget(self.choose_model)
        buttons.addStretch(1)
        problem_row = QHBoxLayout()
        problem_row.addStretch(1)
        problem_row.addWidget(self.problem)
        problem_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.logo)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        layout.addSpacing(16)
        layout.addLayout(problem_row)
        layout.addStretch(3)
        self.set_hint(WELCOME)
        self.set_model_problem("")

    def set_hint(self, text: str) -> None:
        self.hint.setText(f"<span style='font-size:15pt'>{text}</span>")

    def set_model_problem(self, message: str) -> None:
        """Explain a missing or broken model, with the way out (Settings ▸ Model file)."""
        self.problem.setVisible(bool(message))
        self.choose_model.setVisible(bool(message))
        self.problem.setText(
            "<div style='background:#fef3c7; color:#78350f; padding:10px; border-radius:6px'>"
            f"<b>No model loaded.</b> {html.escape(message)}<br><br>Choose a model file in "
            "Settings to scan.</div>"
            if message
            else ""
        )
