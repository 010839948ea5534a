"""The groups panel: filter box, folder filter, similarity slider, the sortable list, a summary.

The slider regroups while it moves (a short debounce keeps dragging smooth); the window does the
regrouping, from the scan's neighbour graph, without reading any file.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSlider,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from dupfinder.report import Group

from .groups_model import COLUMNS, GROUP_ROLE, GroupsModel, GroupsProxy
from .marking import Marks
from .text import human_bytes, plural

SLIDER_STEPS = 1000  # the slider moves in steps of 0.001 similarity


class GroupsPanel(QWidget):
    groupSelected = Signal(object)  # Group or None
    thresholdChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = GroupsModel(parent=self)
        self.proxy = GroupsProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter by file or folder name…")
        self.filter.setClearButtonEnabled(True)
        self.folder = QComboBox(self)
        self.folder.setToolTip("Only groups with a file in this folder")
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(500, SLIDER_STEPS)
        self.slider.setPageStep(10)
        self.slider.setToolTip("Minimum similarity: lower finds more (and looser) duplicates")
        self.slider_label = QLabel(self)
        self.slider_label.setMinimumWidth(44)
        self.view = self._make_view()
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self._debounce = QTimer(self, singleShot=True, interval=40)
        self._debounce.timeout.connect(self._emit_threshold)
        self._layout()
        self.filter.textChanged.connect(self.proxy.set_text)
        self.filter.textChanged.connect(lambda _t: self._update_summary())
        self.folder.currentIndexChanged.connect(self._folder_changed)
        self.slider.valueChanged.connect(self._slider_moved)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.set_roots([])
        self.slider.setEnabled(False)  # until there is a scan to regroup

    def _make_view(self) -> QTreeView:
        view = QTreeView(self)
        view.setModel(self.proxy)
        view.setRootIsDecorated(False)
        view.setUniformRowHeights(True)
        view.setAlternatingRowColors(True)
        view.setSortingEnabled(True)
        view.sortByColumn(COLUMNS.index("Reclaimable"), Qt.SortOrder.DescendingOrder)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = view.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in zip(range(len(COLUMNS)), (56, 52, 44, 64, 92, 150, 140)):
            view.setColumnWidth(column, width)
        return view

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        top = QHBoxLayout()
        top.addWidget(self.filter, 3)
        top.addWidget(self.folder, 2)
        layout.addLayout(top)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Similarity ≥", self))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.slider_label)
        layout.addLayout(slider_row)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)

    # -- content ----------------------------------------------------------------------------------

    def set_roots(self, roots: list[str]) -> None:
        chosen = self.folder.currentData()
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", "")
        for root in roots:
            self.folder.addItem(root, root)
        self.folder.setCurrentIndex(max(0, self.folder.findData(chosen)))
        self.folder.blockSignals(False)

    def set_threshold_range(self, floor: float, threshold: float) -> None:
        self.slider.setEnabled(True)
        self.slider.blockSignals(True)
        self.slider.setRange(round(floor * SLIDER_STEPS), SLIDER_STEPS)
        self.slider.setValue(round(threshold * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self.slider_label.setText(f"{threshold:.3f}")

    def set_groups(
        self, groups: list[Group], marks: Marks, roots: list[str], keep: str | None = None
    ) -> None:
        """Show `groups`; select the group holding `keep` (a path) when there is one."""
        self.model.set_groups(groups, marks, roots)
        self._update_summary()
        if not groups:
            self.groupSelected.emit(None)
            return
        target = next((g for g in groups if any(m.image.path == keep for m in g.members)), None)
        row = self.model.row_of(target.id) if target else None
        index = self.proxy.mapFromSource(self.model.index(row, 0)) if row is not None else QModelIndex()
        if not index.isValid():
            index = self.proxy.index(0, 0)
        self.select_index(index)

    def select_index(self, index: QModelIndex) -> None:
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)
        self.groupSelected.emit(self.current_group())

    def shown_groups(self) -> list[Group]:
        """The groups the filters let through, in the list's order."""
        return [self.proxy.index(row, 0).data(GROUP_ROLE) for row in range(self.proxy.rowCount())]

    def current_group(self) -> Group | None:
        index = self.view.currentIndex()
        return index.data(GROUP_ROLE) if index.isValid() else None

    def marks_changed(self, group_id: int | None = None) -> None:
        self.model.marks_changed(group_id)
        self._update_summary()

    def _update_summary(self) -> None:
        groups, marks = self.model.groups, self.model.marks
        shown = self.proxy.rowCount()
        files = sum(len(g.members) for g in groups)
        reclaim = sum(g.reclaimable_bytes for g in groups)
        marked = marks.marked_in(groups)
        text = (
            f"{plural(len(groups), 'group')} · {plural(files, 'file')} · {human_bytes(reclaim)} reclaimable"
        )
        if shown != len(groups):
            text = f"{shown:,} shown of " + text
        if marked:
            text += f"<br><b>{len(marked):,} marked ({human_bytes(sum(r.bytes for r in marked))})</b>"
        self.summary.setText(text)

    # -- slots ------------------------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.groupSelected.emit(current.data(GROUP_ROLE) if current.isValid() else None)

    def _folder_changed(self, _index: int) -> None:
        self.proxy.set_folder(self.folder.currentData() or "")
        self._update_summary()

    def _slider_moved(self, value: int) -> None:
        self.slider_label.setText(f"{value / SLIDER_STEPS:.3f}")
        self._debounce.start()

    def _emit_threshold(self) -> None:
        self.thresholdChanged.emit(self.slider.value() / SLIDER_STEPS)
