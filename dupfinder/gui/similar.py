"""The "find similar" results: the dropped picture beside the closest scanned pictures."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from dupfinder.query import Match
from dupfinder.report import Member
from dupfinder.scan import ScanResult

from . import desktop
from .cards import CardDelegate, MembersModel
from .compare import CardsView
from .marking import Marks
from .text import plural
from .thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from .window import MainWindow

QUERY_SIDE = 180


class SimilarSearch(QObject):
    """Find similar, from a dropped or chosen picture: search the scan, or scan first."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.pending: str | None = None
        window.engine.similarFound.connect(self._found)
        window.engine.similarFailed.connect(
            lambda path, why: window.prompts.inform(
                "Cannot search", f"Cannot look for pictures like {path}: {why}", warning=True
            )
        )

    def choose(self) -> None:
        chosen = self.window.prompts.choose_open_file("Find pictures similar to…", "Pictures (*.*)")
        if chosen:
            self.find(str(chosen))

    def find(self, path: str) -> None:
        """Search the scanned pictures; without a scan yet, scan the folders first."""
        window, embedder = self.window, self.window.engine.embedder
        current = (
            window.review is not None
            and embedder is not None
            and window.review.result.report.model_sha256 == embedder.sha256
        )
        if current and window.review is not None and not window.scanflow.active:
            window.engine.find_similar(path, window.review.result)
        elif not window.settings.roots():
            window.prompts.inform(
                "Nothing to search", "Add the folders to search first, then drop the picture again."
            )
        else:
            self.pending = path
            if not window.scanflow.active:
                window.start_scan()

    def scan_finished(self, result: ScanResult) -> None:
        if self.pending:
            path, self.pending = self.pending, None
            self.window.engine.find_similar(path, result)

    def _found(self, path: str, matches: list[Match]) -> None:
        review = self.window.review
        roots = list(review.result.report.roots) if review else []
        dialog = SimilarDialog(path, matches, self.window.loader, roots, self.window)
        dialog.openRequested.connect(lambda paths: [desktop.open_file(p) for p in paths])
        self.window.keep(dialog)


class SimilarDialog(QDialog):
    """Shows matches as cards; double click or Enter opens the picture in the default viewer."""

    openRequested = Signal(list)

    def __init__(
        self,
        query: str,
        matches: list[Match],
        loader: ThumbnailLoader,
        roots: list[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Pictures similar to {os.path.basename(query)}")
        self.query, self.loader = query, loader
        self.model = MembersModel(parent=self, review=False)
        self.model.set_members([Member(m.image, m.similarity) for m in matches], Marks(), roots)
        self.view = CardsView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegate(CardDelegate(loader, self.view))
        self.view.doubleClicked.connect(self._open)
        self.view.enterPressed.connect(lambda: self._open(self.view.currentIndex()))
        loader.loaded.connect(self._loaded)
        self.picture = QLabel(self)
        self.picture.setFixedSize(QUERY_SIDE, QUERY_SIDE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        heading = QLabel(
            f"<b>{os.path.basename(query)}</b><br>{query}<br><br>"
            f"{plural(len(matches), 'closest picture')} among the scanned folders, "
            "most similar first.",
            self,
        )
        heading.setWordWrap(True)
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.picture)
        top.addWidget(heading, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(1040, 760)
        self._loaded(query, QUERY_SIDE)

    def _loaded(self, path: str, box: int) -> None:
        if path == self.query and box == QUERY_SIDE:
            pixmap = self.loader.get(path, QUERY_SIDE)
            if pixmap is not None:
                self.picture.setPixmap(pixmap)
        else:
            self.model.refresh(path)

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit([self.model.members[index.row()].image.path])
