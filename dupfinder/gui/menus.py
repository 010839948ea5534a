"""The window's commands: one QAction each, shared by the menu bar, the toolbar and shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from .icons import icon
from .marking import RULES

if TYPE_CHECKING:
    from .window import MainWindow


class Commands:
    """Creates the actions, wires them to the window and fills the menu bar and the toolbar."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        w = window
        self.add = self._make("folder-add", "&Add folder…", w.choose_folders, QKeySequence.StandardKey.Open)
        self.scan = self._make("scan", "&Scan", w.start_scan, "F5", "Scan the folders for duplicates")
        self.cancel = self._make("stop", "&Cancel scan", w.cancel_scan, "Esc")
        self.similar = self._make(
            "similar", "Find &similar to a picture…", lambda: w.similar.choose(), "Ctrl+F"
        )
        self.export = self._make(
            "export", "&Export groups…", w.export, "Ctrl+E", "Save the groups as JSON or CSV"
        )
        self.quit = self._make("", "&Quit", w.close, QKeySequence.StandardKey.Quit)
        self.undo = self._make(
            "undo",
            "&Undo",
            w.cleanup.undo,
            QKeySequence.StandardKey.Undo,
            "Put back the files of the last action",
        )
        self.settings = self._make("settings", "Se&ttings…", w.open_settings, "Ctrl+,")
        self.trash = self._make(
            "trash",
            "Move marked to &Trash",
            w.cleanup.trash_marked,
            "Del",
            "Move the marked files to the system trash (undoable)",
        )
        self.move = self._make(
            "move",
            "&Move marked to…",
            w.cleanup.move_marked,
            "Ctrl+M",
            "Move the marked files to a folder, keeping their sub-folders",
        )
        self.clear = self._make("unmark", "&Clear all marks", w.cleanup.clear_marks, "Ctrl+Shift+U")
        self.rules = {
            name: self._make("", rule.label, lambda _c=False, n=name: w.cleanup.apply_rule(n))
            for name, rule in RULES.items()
        }
        self.ignore = self._make(
            "not-duplicate",
            "&Not duplicates",
            w.not_duplicates,
            "Ctrl+D",
            "These pictures are not duplicates: never group them again",
        )
        self.ignored = self._make("ignore-list", "Not-duplicates &list…", w.show_ignored)
        self.next = self._make("", "&Next group", lambda: w.step_group(1), "Ctrl+Down")
        self.previous = self._make("", "&Previous group", lambda: w.step_group(-1), "Ctrl+Up")
        self.copy = self._make("copy", "&Copy path", w.copy_selected, "Ctrl+Shift+C")
        self.about = self._make("about", "&About dupfinder", w.show_about)
        self.rules_menu = QMenu("&Mark", window)
        self.rules_menu.addActions(list(self.rules.values()))
        self.rules_menu.addSeparator()
        self.rules_menu.addAction(self.clear)

    def _make(
        self,
        name: str,
        text: str,
        slot: Callable[..., object],
        shortcut: str | QKeySequence.StandardKey | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(icon(name) if name else icon("none"), text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
            action.setStatusTip(tip)
        action.setProperty("iconName", name)
        action.triggered.connect(slot)
        return action

    def fill_menus(self) -> None:
        bar = self.window.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.add, self.scan, self.cancel])
        file.addSeparator()
        file.addActions([self.similar, self.export])
        file.addSeparator()
        file.addAction(self.quit)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo, self.copy])
        edit.addSeparator()
        edit.addAction(self.settings)
        bar.addMenu(self.rules_menu)
        self.rules_menu.addSeparator()
        self.rules_menu.addActions([self.trash, self.move])
        review = bar.addMenu("&Review")
        review.addActions([self.next, self.previous])
        review.addSeparator()
        review.addActions([self.ignore, self.ignored])
        bar.addMenu("&Help").addAction(self.about)

    def fill_toolbar(self, toolbar: QToolBar) -> None:
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([self.add, self.scan])
        toolbar.addSeparator()
        mark = QToolButton(toolbar)
        mark.setMenu(self.rules_menu)
        mark.setIcon(icon("rules"))
        mark.setText("Mark")
        mark.setToolTip("Mark every group at once by a rule")
        mark.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        mark.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        mark.setObjectName("markButton")
        toolbar.addWidget(mark)
        toolbar.addActions([self.trash, self.move, self.undo])
        toolbar.addSeparator()
        toolbar.addActions([self.ignore, self.export, self.settings])

    def refresh_icons(self) -> None:
        """Redraw icons in the current palette (after a light/dark switch)."""
        for action in self.window.findChildren(QAction):
            name = action.property("iconName")
            if name:
                action.setIcon(icon(name))
        for button in self.window.findChildren(QToolButton, "markButton"):
            button.setIcon(icon("rules"))
