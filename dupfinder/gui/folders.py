"""The folders panel: which folders to scan, their roles, the scan options, and what a drop means.

Each folder can be a reference (its files are never marked or touched) or excluded (skipped).
Everything chosen here is written to the settings at once, so it survives a restart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dupfinder.discover import IMAGE_EXTENSIONS

from .icons import icon
from .settings import FILE_TYPES, AppSettings, FolderEntry

PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def classify_drop(paths: Iterable[str]) -> tuple[list[str], str | None]:
    """Folders to add, and the picture to look for when exactly one picture file was dropped.

    Dropped files that are not a lone picture add their parent folders.
    """
    paths = [os.path.abspath(p) for p in paths if os.path.exists(p)]
    if (
        len(paths) == 1
        and os.path.isfile(paths[0])
        and os.path.splitext(paths[0])[1].lower() in IMAGE_EXTENSIONS
    ):
        return [], paths[0]
    folders: list[str] = []
    for path in paths:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        if folder not in folders:
            folders.append(folder)
    return folders, None


class FoldersPanel(QWidget):
    """Folder list with Reference / Excluded columns, Add / Remove / Recent, and options."""

    changed = Signal()
    scanRequested = Signal()
    addRequested = Signal()

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Folder", "Reference", "Exclude"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.headerItem().setToolTip(1, "Files in reference folders are never marked or moved")
        self.tree.headerItem().setToolTip(2, "Skip this folder (for example a sub-folder of another)")
        self.tree.itemChanged.connect(self._item_changed)
        self.recent_menu = QMenu(self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._build()
        self.reload()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.tree, 1)
        buttons = QHBoxLayout()
        add = self._button("folder-add", "Add…", "Add a folder to scan", self.addRequested.emit)
        remove = self._button("folder-remove", "Remove", "Remove the selected folders", self.remove_selected)
        recent = self._button("recent", "Recent", "Add a recently used folder", None)
        recent.setMenu(self.recent_menu)
        recent.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        for button in (add, remove, recent):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addLayout(self._options())
        self.scan_button = QPushButton(icon("scan"), "Scan", self)
        self.scan_button.setDefault(True)
        self.scan_button.setToolTip("Scan the folders for duplicates (F5)")
        self.scan_button.clicked.connect(self.scanRequested.emit)
        layout.addWidget(self.scan_button)

    def _button(self, name: str, text: str, tip: str, slot: object) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon(name))
        button.setText(text)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        if slot is not None:
            button.clicked.connect(slot)
        return button

    def _options(self) -> QFormLayout:
        form = QFormLayout()
        form.setContentsMargins(0, 4, 0, 4)
        self.recursive = QCheckBox("Include sub-folders", self)
        self.hidden = QCheckBox("Include hidden files", self)
        self.turned = QCheckBox(
            "Find copies turned a quarter (first scan of portrait photos is slower)", self
        )
        self.turned.setToolTip(
            "A copy turned in its pixels. Portrait pictures are also read turned (a slower first\n"
            "scan), and every picture's pHash is also compared turned, so the arrows of an icon\n"
            "set (left, up, right, down) group as well."
        )
        self.mirrored = QCheckBox("Find mirrored copies (mirror-image designs group too)", self)
        self.mirrored.setToolTip(
            "A copy flipped left to right. A left and a right arrow, or any design drawn as its own\n"
            "mirror image, are then grouped as copies as well."
        )
        self.cropped = QCheckBox("Find cropped copies (first scan is several times slower)", self)
        self.aligned = QCheckBox("Compare close pairs closely (finds crops and tilts; slower)", self)
        self.aligned.setToolTip(
            "Pairs a little below the threshold are checked for one picture being a crop, a tilt or\n"
            "a frame of the other: both files are read again, so a first scan of a folder with many\n"
            "near pairs takes much longer. A rescan remembers the answers."
        )
        self.min_size = QSpinBox(self)
        self.min_size.setRange(0, 1_000_000)
        self.min_size.setSuffix(" KB")
        self.min_size.setSpecialValueText("any size")
        self.types = QToolButton(self)
        self.types.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        types_menu = QMenu(self.types)
        for name in FILE_TYPES:
            action = QAction(name, types_menu, checkable=True)
            action.toggled.connect(self._types_changed)
            types_menu.addAction(action)
        self.types.setMenu(types_menu)
        form.addRow(self.recursive)
        form.addRow(self.hidden)
        form.addRow(self.turned)
        form.addRow(self.mirrored)
        form.addRow(self.cropped)
        form.addRow(self.aligned)
        form.addRow("Minimum size", self.min_size)
        form.addRow("File types", self.types)
        self.recursive.toggled.connect(self._options_changed)
        self.hidden.toggled.connect(self._options_changed)
        self.turned.toggled.connect(self._options_changed)
        self.mirrored.toggled.connect(self._options_changed)
        self.cropped.toggled.connect(self._options_changed)
        self.aligned.toggled.connect(self._options_changed)
        self.min_size.valueChanged.connect(self._options_changed)
        return form

    # -- reading and writing the settings ---------------------------------------------------------

    def reload(self) -> None:
        """Show what the settings hold."""
        self.tree.blockSignals(True)
        self.tree.clear()
        for entry in self.settings.folders:
            self._add_item(entry)
        self.tree.blockSignals(False)
        for widget, value in (
            (self.recursive, self.settings.recursive),
            (self.hidden, self.settings.include_hidden),
            (self.turned, self.settings.turned_copies),
            (self.mirrored, self.settings.mirrored_copies),
            (self.cropped, self.settings.cropped_copies),
            (self.aligned, self.settings.aligned_copies),
        ):
            widget.blockSignals(True)
            widget.setChecked(value)
            widget.blockSignals(False)
        self.min_size.blockSignals(True)
        self.min_size.setValue(self.settings.min_size_kib)
        self.min_size.blockSignals(False)
        chosen = set(self.settings.file_types)
        for action in self.types.menu().actions():
            action.blockSignals(True)
            action.setChecked(action.text() in chosen)
            action.blockSignals(False)
        self._types_label()
        self.scan_button.setEnabled(bool(self.settings.roots()))

    def _add_item(self, entry: FolderEntry) -> None:
        item = QTreeWidgetItem(self.tree, [_display(entry.path), "", ""])
        item.setData(0, PATH_ROLE, entry.path)
        item.setToolTip(0, entry.path)
        item.setIcon(0, icon("reveal"))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(1, Qt.CheckState.Checked if entry.reference else Qt.CheckState.Unchecked)
        item.setCheckState(2, Qt.CheckState.Checked if entry.excluded else Qt.CheckState.Unchecked)

    def entries(self) -> list[FolderEntry]:
        items = [
            item
            for i in range(self.tree.topLevelItemCount())
            if (item := self.tree.topLevelItem(i)) is not None
        ]
        return [
            FolderEntry(
                item.data(0, PATH_ROLE),
                item.checkState(1) == Qt.CheckState.Checked,
                item.checkState(2) == Qt.CheckState.Checked,
            )
            for item in items
        ]

    def add_folders(self, folders: Iterable[str]) -> list[str]:
        """Add folders not yet in the list (and remember them as recent); returns those added."""
        known = {e.path for e in self.settings.folders}
        added = []
        for folder in folders:
            folder = os.path.abspath(os.path.expanduser(str(folder)))
            if folder not in known and os.path.isdir(folder):
                known.add(folder)
                added.append(folder)
            if os.path.isdir(folder):
                self.settings.remember(folder)
        if added:
            self.settings.folders = [*self.settings.folders, *(FolderEntry(f) for f in added)]
            self.reload()
            self.changed.emit()
        return added

    def remove_selected(self) -> None:
        chosen = {item.data(0, PATH_ROLE) for item in self.tree.selectedItems()}
        if chosen:
            self.settings.folders = [e for e in self.settings.folders if e.path not in chosen]
            self.reload()
            self.changed.emit()

    def _item_changed(self, _item: QTreeWidgetItem, _column: int) -> None:
        self.settings.folders = self.entries()
        self.scan_button.setEnabled(bool(self.settings.roots()))
        self.changed.emit()

    def _options_changed(self) -> None:
        self.settings.recursive = self.recursive.isChecked()
        self.settings.include_hidden = self.hidden.isChecked()
        self.settings.turned_copies = self.turned.isChecked()
        self.settings.mirrored_copies = self.mirrored.isChecked()
        self.settings.cropped_copies = self.cropped.isChecked()
        self.settings.aligned_copies = self.aligned.isChecked()
        self.settings.min_size_kib = self.min_size.value()
        self.changed.emit()

    def _types_changed(self) -> None:
        chosen = [a.text() for a in self.types.menu().actions() if a.isChecked()]
        self.settings.file_types = chosen or list(FILE_TYPES)
        self._types_label()
        self.changed.emit()

    def _types_label(self) -> None:
        chosen = self.settings.file_types
        self.types.setText("All picture types" if len(chosen) == len(FILE_TYPES) else ", ".join(chosen))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent:
            action = self.recent_menu.addAction(_display(folder))
            action.setToolTip(folder)
            action.triggered.connect(lambda _checked=False, f=folder: self.add_folders([f]))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No recent folders").setEnabled(False)


def _display(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if path.startswith(home + os.sep) else path
