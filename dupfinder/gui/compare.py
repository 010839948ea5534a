"""The compare panel: the selected group's members side by side, as cards.

Keyboard: arrows move between cards, Space marks or unmarks the selected ones, Enter (or a
double click) opens the large view. A right click offers open, reveal, copy path, find similar
and "not a duplicate". The panel only asks; the window decides (and confirms) what happens.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dupfinder.report import Group, Member

from .cards import CardDelegate, MembersModel
from .icons import icon
from .marking import Marks
from .text import human_bytes, plural
from .thumbnails import ThumbnailLoader


class CardsView(QListView):
    """Cards that wrap left to right; Space and Enter are the review keys."""

    spacePressed = Signal()
    enterPressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSpacing(6)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setMouseTracking(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.spacePressed.emit()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enterPressed.emit()
        else:
            super().keyPressEvent(event)


class ComparePanel(QWidget):
    """Shows one group; emits what the user asks for, with the paths concerned."""

    markRequested = Signal(list, bool)  # paths, mark?
    viewRequested = Signal(int)  # row in the group
    openRequested = Signal(list)
    revealRequested = Signal(str)
    copyRequested = Signal(list)
    similarRequested = Signal(str)
    notDuplicateRequested = Signal(str)  # one member
    notDuplicatesRequested = Signal()  # the whole group

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group: Group | None = None
        self.model = MembersModel(parent=self)
        self.view = CardsView(self)
        self.view.setModel(self.model)
        self.delegate = CardDelegate(loader, self.view)
        self.view.setItemDelegate(self.delegate)
        self.title = QLabel("Select a group to compare its pictures.")
        self.title.setObjectName("compareTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        self.ignore_button = self._tool(
            "not-duplicate",
            "Not duplicates",
            "These pictures are not duplicates: never group them again",
            self.notDuplicatesRequested.emit,
        )
        header.addWidget(self.ignore_button)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        loader.loaded.connect(lambda path, _box: self.model.refresh(path))
        self.delegate.toggleRequested.connect(self._toggle_index)
        self.view.spacePressed.connect(self._toggle_selected)
        self.view.enterPressed.connect(self._view_current)
        self.view.doubleClicked.connect(lambda index: self.viewRequested.emit(index.row()))
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.show_group(None, Marks(), [])

    def _tool(self, name: str, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon(name))
        button.setText(text)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def show_group(self, group: Group | None, marks: Marks, roots: list[str]) -> None:
        """Show `group` (keeping the selected card when it is the same group again)."""
        same = group is not None and self.group is not None and group.id == self.group.id
        current = self.view.currentIndex().row() if same else 0
        self.group = group
        self.model.set_members(list(group.members) if group else [], marks, roots)
        self.ignore_button.setEnabled(group is not None)
        self.update_title(marks)
        if group is not None:
            self.view.setCurrentIndex(self.model.index(min(max(current, 0), len(group.members) - 1)))

    def update_title(self, marks: Marks) -> None:
        group = self.group
        if group is None:
            self.title.setText("<span style='font-size:12pt'>Select a group to compare its pictures.</span>")
            return
        marked = marks.count_in(group)
        kind = "Exact copies" if group.kind == "exact" else "Near-duplicates"
        self.title.setText(
            f"<span style='font-size:12pt; font-weight:600'>Group {group.id} · {kind}</span>"
            f"&nbsp;&nbsp;{plural(len(group.members), 'file')} · "
            f"{human_bytes(group.reclaimable_bytes)} reclaimable · {marked} marked"
        )

    def refresh_marks(self, marks: Marks) -> None:
        self.model.refresh()
        self.update_title(marks)

    def selected_paths(self) -> list[str]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return [self.model.members[row].image.path for row in rows]

    def _toggle_index(self, row: int) -> None:
        member: Member = self.model.members[row]
        self.markRequested.emit([member.image.path], not self.model.marks.is_marked(member.image.path))

    def _toggle_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            mark = not all(self.model.marks.is_marked(p) for p in paths)
            self.markRequested.emit(paths, mark)

    def _view_current(self) -> None:
        if self.view.currentIndex().isValid():
            self.viewRequested.emit(self.view.currentIndex().row())

    def _context_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        paths = self.selected_paths()
        path = self.model.members[index.row()].image.path
        if path not in paths:
            paths = [path]
        menu = QMenu(self)
        marked = all(self.model.marks.is_marked(p) for p in paths)
        self._add(
            menu,
            "unmark" if marked else "mark",
            "Unmark" if marked else "Mark",
            lambda: self.markRequested.emit(paths, not marked),
            "Space",
        )
        self._add(menu, "zoom-in", "View large", lambda: self.viewRequested.emit(index.row()), "Enter")
        menu.addSeparator()
        self._add(menu, "open", "Open", lambda: self.openRequested.emit(paths))
        self._add(menu, "reveal", "Show in file manager", lambda: self.revealRequested.emit(path))
        self._add(menu, "copy", "Copy path", lambda: self.copyRequested.emit(paths))
        menu.addSeparator()
        self._add(menu, "similar", "Find similar pictures", lambda: self.similarRequested.emit(path))
        self._add(
            menu,
            "not-duplicate",
            "Not a duplicate of the others",
            lambda: self.notDuplicateRequested.emit(path),
        )
        menu.exec(self.view.viewport().mapToGlobal(position))

    @staticmethod
    def _add(menu: QMenu, name: str, text: str, slot: Any, shortcut: str = "") -> QAction:
        action = menu.addAction(icon(name), text)
        if shortcut:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        return action

    def sizeHint(self) -> QSize:
        return QSize(760, 600)
