"""The list of groups: a thin table model over the engine's groups, and a filter proxy.

The model only maps groups to cells and roles; the view draws only visible rows, so tens of
thousands of groups scroll smoothly. Sorting happens in the model, once per key in Python
(sorting in the proxy would call back into Python for every comparison), by numbers, not text.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont

from dupfinder.report import Group

from .marking import Marks
from .text import human_bytes, short_folder

GROUP_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
HAYSTACK_ROLE = Qt.ItemDataRole.UserRole + 3

COLUMNS = ("Group", "Kind", "Files", "Marked", "Reclaimable", "Best copy", "Folder")
Index = QModelIndex | QPersistentModelIndex


class GroupsModel(QAbstractTableModel):
    """Rows are groups, in the engine's order; `marks` feeds the Marked column."""

    def __init__(self, marks: Marks | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.groups: list[Group] = []
        self.marks = marks or Marks()
        self.roots: list[str] = []
        self._row_of: dict[int, int] = {}
        self._haystacks: dict[int, str] = {}
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_groups(self, groups: list[Group], marks: Marks, roots: list[str]) -> None:
        self.beginResetModel()
        self.marks, self.roots = marks, roots
        self.groups = self._sorted(groups)
        self._row_of = {group.id: row for row, group in enumerate(self.groups)}
        self._haystacks = {}
        self.endResetModel()

    def _sorted(self, groups: list[Group]) -> list[Group]:
        if self._sort is None:
            return list(groups)
        column, order = self._sort
        keys = {g.id: (self._sort_key(g, COLUMNS[column]), g.id) for g in groups}
        return sorted(groups, key=lambda g: keys[g.id], reverse=order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Reorder the rows, keeping selections and other persistent indexes on their group."""
        self._sort = (column, order) if 0 <= column < len(COLUMNS) else None
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        held = [(self.groups[i.row()].id, i.column()) for i in persistent]
        self.groups = self._sorted(self.groups)
        self._row_of = {group.id: row for row, group in enumerate(self.groups)}
        self.changePersistentIndexList(persistent, [self.index(self._row_of[g], c) for g, c in held])
        self.layoutChanged.emit()

    def row_of(self, group_id: int) -> int | None:
        return self._row_of.get(group_id)

    def marks_changed(self, group_id: int | None = None) -> None:
        """Refresh the Marked column for one group, or for all."""
        column = COLUMNS.index("Marked")
        if group_id is None:
            first, last = 0, len(self.groups) - 1
        else:
            row = self._row_of.get(group_id)
            if row is None:
                return
            first = last = row
        if last >= first:
            self.dataChanged.emit(self.index(first, column), self.index(last, column))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.groups)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        group = self.groups[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(group, column)
        if role == SORT_ROLE:
            return self._sort_key(group, column)
        if role == GROUP_ROLE:
            return group
        if role == HAYSTACK_ROLE:
            return self._haystack(group)
        if role == Qt.ItemDataRole.ToolTipRole and column in ("Best copy", "Folder"):
            return group.reference.image.path
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("Group", "Files", "Reclaimable"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return self._decoration(group, column, role)

    def _display(self, group: Group, column: str) -> str:
        reference = group.reference.image
        if column == "Group":
            return str(group.id)
        if column == "Kind":
            return "Exact" if group.kind == "exact" else "Near"
        if column == "Files":
            return str(len(group.members))
        if column == "Marked":
            count = self.marks.count_in(group)
            return f"{count} of {len(group.members)}" if count else "–"
        if column == "Reclaimable":
            return human_bytes(group.reclaimable_bytes)
        if column == "Best copy":
            return os.path.basename(reference.path)
        return short_folder(reference.path, self.roots)

    def _sort_key(self, group: Group, column: str) -> Any:
        keys = {
            "Group": lambda: group.id,
            "Kind": lambda: (group.kind, group.id),
            "Files": lambda: len(group.members),
            "Marked": lambda: self.marks.count_in(group),
            "Reclaimable": lambda: group.reclaimable_bytes,
            "Best copy": lambda: os.path.basename(group.reference.image.path).lower(),
            "Folder": lambda: group.reference.image.path.lower(),
        }
        return keys[column]()

    def _decoration(self, group: Group, column: str, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and column == "Kind" and group.kind == "exact":
            return QColor("#0ea5e9")
        if role == Qt.ItemDataRole.FontRole and column == "Marked" and self.marks.count_in(group):
            font = QFont()
            font.setBold(True)
            return font
        return None

    def _haystack(self, group: Group) -> str:
        text = self._haystacks.get(group.id)
        if text is None:
            text = "\n".join(m.image.path for m in group.members).lower()
            self._haystacks[group.id] = text
        return text


class GroupsProxy(QSortFilterProxyModel):
    """Filters by words (all must occur in a member's path) and by folder; sorting is the model's."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self._folder = ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)

    def set_text(self, text: str) -> None:
        self._refilter(words=text.lower().split())

    def set_folder(self, folder: str) -> None:
        """Only groups with a member below `folder` ("" for all)."""
        self._refilter(folder=folder.rstrip(os.sep).lower() + os.sep if folder else "")

    def _refilter(self, words: list[str] | None = None, folder: str | None = None) -> None:
        modern = hasattr(self, "endFilterChange")  # Qt 6.10 deprecates invalidateRowsFilter
        if modern:
            self.beginFilterChange()
        self._words = self._words if words is None else words
        self._folder = self._folder if folder is None else folder
        if modern:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._words and not self._folder:
            return True
        model = self.sourceModel()
        haystack = model.data(model.index(source_row, 0, source_parent), HAYSTACK_ROLE)
        if self._folder and not any(line.startswith(self._folder) for line in haystack.split("\n")):
            return False
        return all(word in haystack for word in self._words)
