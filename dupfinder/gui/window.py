"""The main window: folders and groups on the left, the compare panel on the right.

It wires the panels to the engine host (model, scans, queries), the review state (groups,
marks, threshold) and the clean-up controller (journaled actions), and persists its state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from dupfinder.actions import FileActions
from dupfinder.ignore import IgnoreList
from dupfinder.report import Group
from dupfinder.scan import ScanResult

from . import desktop
from .cleanup import Cleanup
from .compare import ComparePanel
from .dialogs import IgnoredDialog, SettingsDialog, about_text, errors_dialog, export_report
from .empty import EmptyState
from .engine import EngineHost, ModelChoice
from .environment import Environment
from .folders import FoldersPanel, classify_drop
from .groups_panel import GroupsPanel
from .icons import app_icon
from .menus import Commands
from .progress import ModelStatus
from .prompts import Prompts
from .review import Review
from .scanflow import ScanFlow
from .settings import AppSettings
from .similar import SimilarSearch
from .text import human_bytes, plural
from .thumbnails import ThumbnailLoader
from .viewer import ImageViewer


class MainWindow(QMainWindow):
    scanDone = Signal()  # the review of a finished (or cancelled) scan is on screen

    def __init__(self, environment: Environment, model: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("dupfinder")
        self.setWindowIcon(app_icon())
        self.environment = environment
        self.settings = AppSettings(environment.settings)
        self.prompts = environment.prompts or Prompts(self)
        self.ignore = IgnoreList(environment.ignore_path)
        self.engine = EngineHost(environment.cache_path, self)
        self.loader = ThumbnailLoader(self)
        actions = FileActions(environment.journal_path, environment.trash)
        self.cleanup = Cleanup(actions, self.prompts, self)
        self.review: Review | None = None
        self.model_override = model
        self._dialogs: list[QWidget] = []
        self._build()
        self._connect()
        self._restore_state()
        self.setAcceptDrops(True)
        recovered = actions.recover()
        if recovered:
            QTimer.singleShot(0, lambda: self._report_recovery(recovered))
        self.commands.undo.setEnabled(False)
        self._undo_changed(self.cleanup.undo_text())
        self.load_model()

    # -- construction -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.folders = FoldersPanel(self.settings, self)
        self.groups_panel = GroupsPanel(self)
        self.compare = ComparePanel(self.loader, self)
        self.empty = EmptyState(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.compare)
        self.left = QSplitter(Qt.Orientation.Vertical, self)
        self.left.addWidget(self.folders)
        self.left.addWidget(self.groups_panel)
        self.left.setSizes([320, 560])
        self.split = QSplitter(Qt.Orientation.Horizontal, self)
        self.split.addWidget(self.left)
        self.split.addWidget(self.stack)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([520, 1000])
        self.scanflow = ScanFlow(self.engine, self.settings, self.prompts, self)
        self.similar = SimilarSearch(self)
        self.scanflow.notice.linkActivated.connect(self._show_errors)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget in (self.scanflow.progress, self.scanflow.notice):
            layout.addWidget(widget)
        layout.addWidget(self.split, 1)
        self.setCentralWidget(central)
        self.commands = Commands(self)
        self.commands.fill_menus()
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        self.commands.fill_toolbar(toolbar)
        self.model_label = ModelStatus(self.engine, self)
        self.statusBar().addPermanentWidget(self.model_label)
        self._set_review_enabled(False)
        self.commands.cancel.setEnabled(False)
        self.commands.scan.setEnabled(True)

    def _connect(self) -> None:
        engine, cleanup, compare = self.engine, self.cleanup, self.compare
        engine.modelReady.connect(lambda _embedder: self.empty.set_model_problem(""))
        engine.modelFailed.connect(self._model_failed)
        self.scanflow.running.connect(self._scan_running)
        self.scanflow.finished.connect(self._scan_finished)
        self.scanflow.needFolders.connect(
            lambda: self.empty.set_hint("Add a folder first: drag it here, or use Add folder…")
        )
        self.folders.addRequested.connect(self.choose_folders)
        self.folders.scanRequested.connect(self.start_scan)
        self.folders.changed.connect(self._folders_changed)
        self.groups_panel.groupSelected.connect(self._group_selected)
        self.groups_panel.thresholdChanged.connect(self._threshold_changed)
        compare.markRequested.connect(cleanup.mark)
        compare.viewRequested.connect(self.view_large)
        compare.openRequested.connect(lambda paths: [desktop.open_file(p) for p in paths])
        compare.revealRequested.connect(desktop.reveal)
        compare.copyRequested.connect(desktop.copy_paths)
        compare.similarRequested.connect(self.similar.find)
        compare.notDuplicateRequested.connect(self.not_duplicate)
        compare.notDuplicatesRequested.connect(self.not_duplicates)
        cleanup.marksChanged.connect(self._marks_changed)
        cleanup.filesGone.connect(self._files_gone)
        cleanup.filesBack.connect(self._files_back)
        cleanup.undoChanged.connect(self._undo_changed)
        cleanup.busyChanged.connect(lambda busy: self._set_review_enabled(not busy and bool(self.review)))
        cleanup.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.empty.addRequested.connect(self.choose_folders)
        self.empty.settingsRequested.connect(self.open_settings)

    # -- model ------------------------------------------------------------------------------------

    def load_model(self) -> None:
        path = str(self.model_override or self.settings.model_path or "")
        self.engine.load_model(ModelChoice(path, self.settings.device))

    def _model_failed(self, message: str) -> None:
        self.empty.set_model_problem(message)
        self.stack.setCurrentWidget(self.empty)

    # -- scanning ---------------------------------------------------------------------------------

    def add_folders(self, folders: list[str | Path], scan: bool = True) -> None:
        self.folders.add_folders(str(f) for f in folders)
        if scan:
            self.start_scan()

    def choose_folders(self) -> None:
        chosen = self.prompts.choose_folders("Add a folder to scan")
        if chosen:
            self.add_folders(list(chosen), scan=False)

    def start_scan(self) -> None:
        if not self.cleanup.busy:
            self.scanflow.start()

    def cancel_scan(self) -> None:
        self.scanflow.cancel()

    def _scan_running(self, running: bool) -> None:
        self.commands.scan.setEnabled(not running)
        self.commands.cancel.setEnabled(running)
        self.folders.scan_button.setEnabled(not running and bool(self.settings.roots()))
        self._set_review_enabled(not running and self.review is not None)
        if running:
            self.statusBar().showMessage("Scanning…")
            self.empty.set_hint("Scanning… the groups appear here when it is done.")

    def _scan_finished(self, result: ScanResult) -> None:
        earlier = self.review
        self.review = Review(result, self.ignore, self.settings.references(), self.settings.threshold)
        carried = self.review.carry_marks(earlier.marks) if earlier is not None else 0
        self.cleanup.review = self.review
        self.groups_panel.set_roots(result.report.roots)
        self.groups_panel.set_threshold_range(self.review.floor, self.review.threshold)
        self._show_groups()
        self._set_review_enabled(True)
        stats = result.report.stats
        self.statusBar().showMessage(
            f"{plural(len(self.review.groups), 'group')} among {plural(stats.images, 'picture')} "
            f"({stats.cached:,} from the cache) in {stats.seconds:.1f} s · "
            f"{human_bytes(sum(g.reclaimable_bytes for g in self.review.groups))} reclaimable"
            + (f" · {plural(carried, 'mark')} kept from the last scan" if carried else "")
        )
        self.similar.scan_finished(result)
        self.scanDone.emit()

    def _show_errors(self, _link: str = "") -> None:
        if self.review is not None:
            self.keep(errors_dialog(self.review.result.report.errors, self))

    # -- reviewing --------------------------------------------------------------------------------

    def _show_groups(self, keep: str | None = None) -> None:
        review = self.review
        if review is None:
            return
        roots = list(review.result.report.roots)
        self.groups_panel.set_groups(review.groups, review.marks, roots, keep=keep)
        if review.groups:
            self.stack.setCurrentWidget(self.compare)
        else:
            self.empty.set_hint("No duplicates at this similarity. Lower the slider to find looser ones.")
            self.stack.setCurrentWidget(self.empty)

    def _current_reference(self) -> str | None:
        group = self.groups_panel.current_group()
        return group.reference.image.path if group else None

    def _group_selected(self, group: Group | None) -> None:
        review = self.review
        self.compare.show_group(
            group,
            review.marks if review else self.compare.model.marks,
            list(review.result.report.roots) if review else [],
        )

    def _threshold_changed(self, threshold: float) -> None:
        if self.review is None:
            return
        keep = self._current_reference()
        self.review.set_threshold(threshold)
        self.settings.threshold = self.review.threshold
        self._show_groups(keep)

    def _marks_changed(self, group_id: int | None) -> None:
        if self.review is not None:
            self.groups_panel.marks_changed(group_id)
            self.compare.refresh_marks(self.review.marks)

    def _files_gone(self, paths: list[str]) -> None:
        for path in paths:
            self.loader.forget(path)
        if self.review is not None:
            keep = self._current_reference()
            self.review.moved_away(paths)
            self._show_groups(keep)

    def _files_back(self, paths: list[str]) -> None:
        if self.review is not None:
            self.review.came_back(paths)
            self._show_groups(paths[0] if paths else None)

    def _undo_changed(self, text: str) -> None:
        self.commands.undo.setEnabled(bool(text) and not self.cleanup.busy)
        self.commands.undo.setText(text or "&Undo")

    def _set_review_enabled(self, enabled: bool) -> None:
        for action in (
            self.commands.trash,
            self.commands.move,
            self.commands.clear,
            self.commands.export,
            self.commands.ignore,
            *self.commands.rules.values(),
        ):
            action.setEnabled(enabled)
        self.commands.undo.setEnabled(not self.cleanup.busy and bool(self.cleanup.undo_text()))

    def step_group(self, step: int) -> None:
        view = self.groups_panel.view
        row = view.currentIndex().row() + step
        if 0 <= row < self.groups_panel.proxy.rowCount():
            self.groups_panel.select_index(self.groups_panel.proxy.index(row, 0))

    def view_large(self, row: int) -> None:
        group = self.compare.group
        if group is None or self.review is None:
            return
        viewer = ImageViewer(list(group.members), row, self.review.marks, self)
        viewer.markRequested.connect(self.cleanup.mark)
        self.keep(viewer)

    def not_duplicates(self) -> None:
        group = self.groups_panel.current_group()
        if group is None or self.review is None:
            return
        self.review.not_duplicates(group)
        self._show_groups()
        self.statusBar().showMessage(
            f"Group {group.id} will not be shown again (Review ▸ Not-duplicates list to change that).", 8000
        )

    def not_duplicate(self, path: str) -> None:
        group = self.groups_panel.current_group()
        if group is None or self.review is None:
            return
        self.review.not_duplicate(group, path)
        self._show_groups(group.reference.image.path if path != group.reference.image.path else None)
        self.statusBar().showMessage(
            f"{os.path.basename(path)} will not be grouped with those pictures again.", 8000
        )

    def show_ignored(self) -> None:
        dialog = IgnoredDialog(self.ignore, self)
        dialog.exec()
        if dialog.changed and self.review is not None:
            self.review.set_threshold(self.review.threshold)
            self._show_groups(self._current_reference())

    def copy_selected(self) -> None:
        desktop.copy_paths(self.compare.selected_paths())

    # -- export, settings, about ------------------------------------------------------------------

    def export(self) -> None:
        if self.review is None:
            return
        shown = self.groups_panel.shown_groups()  # a filter narrows what is exported, as shown
        written = export_report(self.prompts, self.review.report(shown))
        if written:
            part = (
                "the groups"
                if len(shown) == len(self.review.groups)
                else f"the {plural(len(shown), 'group')} the filter shows"
            )
            self.statusBar().showMessage(f"Exported {part} to {written}", 8000)

    def open_settings(self) -> None:
        default = self.engine.embedder.card.default_threshold if self.engine.embedder else None
        dialog = SettingsDialog(self.settings, self.prompts, default, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        if dialog.apply():
            self.load_model()
        if self.review is not None:
            chosen = self.settings.threshold
            self.review.set_threshold(chosen if chosen is not None else self.review.result.report.threshold)
            self.groups_panel.set_threshold_range(self.review.floor, self.review.threshold)
            self._show_groups(self._current_reference())

    def show_about(self) -> None:
        QMessageBox.about(self, "About dupfinder", about_text(self.engine.embedder, self.engine.model_error))

    # -- drops, state, closing --------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        event.acceptProposedAction()
        self.drop_paths(paths)

    def drop_paths(self, paths: list[str]) -> None:
        """Folders (or files' folders) are added and scanned; a lone picture is searched for."""
        folders, picture = classify_drop(paths)
        if picture is not None:
            self.similar.find(picture)
        elif folders:
            self.add_folders(list(folders), scan=True)

    def _folders_changed(self) -> None:
        if self.review is not None:
            self.review.references = self.settings.references()
            self.review.marks.drop_protected()
            self._marks_changed(None)

    def keep(self, dialog: QWidget) -> None:
        """Show a non-modal dialog and keep it alive until it closes."""
        self._dialogs = [d for d in self._dialogs if d.isVisible()] + [dialog]
        dialog.show()

    def _report_recovery(self, lines: list[str]) -> None:
        self.prompts.inform(
            "An interrupted action was finished",
            "dupfinder stopped while moving files last time. Nothing is lost; "
            "here is what was completed or rolled back.",
            details="\n".join(lines),
        )

    def _saved_widgets(self) -> dict[str, Any]:
        return {"state": self, "split": self.split, "left": self.left}

    def _restore_state(self) -> None:
        geometry = self.settings.window_state("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1500, 900)
        self.settings.restore_widgets(self._saved_widgets())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "commands"):
            self.commands.refresh_icons()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_window_state("geometry", self.saveGeometry())
        self.settings.save_widgets(self._saved_widgets())
        self.engine.close()
        self.cleanup.tasks.wait(30_000)
        self.loader.wait()
        super().closeEvent(event)
