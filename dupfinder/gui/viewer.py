"""The large view: one picture with zoom, stepping through the group's members.

Keys: + and - zoom, 0 fits the window, 1 shows actual pixels, Left/Right move between members,
Space marks, Escape closes. Ctrl+wheel zooms. Full-size pictures load off the UI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QPixmap, QShortcut, QWheelEvent
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dupfinder.report import Member

from .icons import icon
from .marking import Marks
from .text import human_bytes, human_date
from .thumbnails import ThumbnailLoader

FULL_SIZE = 8192  # pictures above this side are shown scaled down to it


class ZoomView(QGraphicsView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.fitting = True

    def show_pixmap(self, pixmap: QPixmap) -> None:
        self.item.setPixmap(pixmap)
        self.scene().setSceneRect(self.item.boundingRect())
        if self.fitting:
            self.fit()

    def fit(self) -> None:
        self.fitting = True
        self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)

    def actual(self) -> None:
        self.fitting = False
        self.resetTransform()

    def zoom(self, factor: float) -> None:
        self.fitting = False
        scale = self.transform().m11() * factor
        if 0.02 <= scale <= 40:
            self.scale(factor, factor)

    @property
    def scale_factor(self) -> float:
        return self.transform().m11()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self.fitting:
            self.fit()


class ImageViewer(QDialog):
    """Large view of a group's members; emits `markRequested` for Space."""

    markRequested = Signal(list, bool)

    def __init__(self, members: list[Member], row: int, marks: Marks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("dupfinder — view")
        self.members, self.row, self.marks = members, row, marks
        self.loader = ThumbnailLoader(self, capacity=4, threads=1)
        self.loader.loaded.connect(self._loaded)
        self.view = ZoomView(self)
        self.info = QLabel(self)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        bar = QHBoxLayout()
        for name, tip, slot in (
            ("zoom-out", "Zoom out (-)", lambda: self.view.zoom(0.8)),
            ("zoom-in", "Zoom in (+)", lambda: self.view.zoom(1.25)),
            ("zoom-fit", "Fit to window (0)", self.view.fit),
        ):
            button = QToolButton(self)
            button.setIcon(icon(name))
            button.setToolTip(tip)
            button.clicked.connect(slot)
            bar.addWidget(button)
        bar.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        QShortcut(QKeySequence("1"), self, self.view.actual)
        self.resize(1100, 800)
        self.show_row(row)

    def show_row(self, row: int) -> None:
        self.row = max(0, min(row, len(self.members) - 1))
        member = self.members[self.row]
        image = member.image
        mark = "  <b style='color:#dc2626'>MARKED</b>" if self.marks.is_marked(image.path) else ""
        self.info.setText(
            f"<b>{self.row + 1} / {len(self.members)}</b>  {image.path}<br>"
            f"{image.width:,} × {image.height:,} px · {human_bytes(image.bytes)} · "
            f"{human_date(image.mtime)} · similarity {member.similarity_text}{mark}"
        )
        pixmap = self.loader.get(image.path, FULL_SIZE)
        self.view.show_pixmap(pixmap if pixmap is not None else QPixmap())
        self.view.fit()

    def _loaded(self, path: str, _box: int) -> None:
        if path == self.members[self.row].image.path:
            pixmap = self.loader.get(path, FULL_SIZE)
            if pixmap is not None:
                self.view.show_pixmap(pixmap)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.view.zoom(1.25)
        elif key == Qt.Key.Key_Minus:
            self.view.zoom(0.8)
        elif key == Qt.Key.Key_0:
            self.view.fit()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.show_row(self.row + 1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.show_row(self.row - 1)
        elif key == Qt.Key.Key_Space:
            path = self.members[self.row].image.path
            self.markRequested.emit([path], not self.marks.is_marked(path))
            self.show_row(self.row)
        else:
            super().keyPressEvent(event)

    def done(self, result: int) -> None:
        self.loader.wait(2000)
        super().done(result)
