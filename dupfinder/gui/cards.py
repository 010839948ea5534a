"""The members of one group as cards: a thin list model and the delegate that draws each card.

A card shows the thumbnail (loaded asynchronously), a mark box, a "best copy" or "reference
folder" badge, and the facts that decide what to keep: pixel size, bytes, date, folder and the
similarity to the group's reference. The best value of each fact in the group is emphasised.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from dupfinder.report import Member

from .marking import Marks
from .text import human_bytes, human_date, short_folder
from .theme import accents
from .thumbnails import ThumbnailLoader

MEMBER_ROLE = Qt.ItemDataRole.UserRole + 10
MARKED_ROLE = Qt.ItemDataRole.UserRole + 11
PROTECTED_ROLE = Qt.ItemDataRole.UserRole + 12
BEST_ROLE = Qt.ItemDataRole.UserRole + 13
EMPHASIS_ROLE = Qt.ItemDataRole.UserRole + 14
MARKABLE_ROLE = Qt.ItemDataRole.UserRole + 15

CARD = QSize(244, 318)
THUMB = QSize(228, 184)
PAD = 8
Index = QModelIndex | QPersistentModelIndex


class MembersModel(QAbstractListModel):
    """Rows are the members of one group (or the matches of a query), reference first."""

    def __init__(self, marks: Marks | None = None, parent: Any = None, review: bool = True) -> None:
        super().__init__(parent)
        self.members: list[Member] = []
        self.marks = marks or Marks()
        self.roots: list[str] = []
        self.review = review  # False: a query's results, with no best copy and no marks
        self._best: dict[str, float] = {}

    def set_members(self, members: list[Member], marks: Marks, roots: list[str]) -> None:
        self.beginResetModel()
        self.members, self.marks, self.roots = list(members), marks, roots
        images = [m.image for m in self.members]
        self._best = {
            "pixels": max((i.pixels for i in images), default=0),
            "bytes": max((i.bytes for i in images), default=0),
            "oldest": min((i.mtime for i in images), default=0.0),
        }
        self.endResetModel()

    def refresh(self, path: str | None = None) -> None:
        """Repaint one card (its thumbnail arrived, its mark changed) or all of them."""
        rows = [r for r, m in enumerate(self.members) if path is None or m.image.path == path]
        for row in rows:
            self.dataChanged.emit(self.index(row), self.index(row))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.members)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        member = self.members[index.row()]
        path = member.image.path
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return path
        if role == MEMBER_ROLE:
            return member
        if role == MARKED_ROLE:
            return self.marks.is_marked(path)
        if role == PROTECTED_ROLE:
            return self.marks.protected(path)
        if role == MARKABLE_ROLE:
            return self.review and not self.marks.protected(path)
        if role == BEST_ROLE:
            return self.review and index.row() == 0
        if role == EMPHASIS_ROLE:
            image = member.image
            return {
                "pixels": len(self.members) > 1 and image.pixels == self._best["pixels"],
                "bytes": len(self.members) > 1 and image.bytes == self._best["bytes"],
                "oldest": len(self.members) > 1 and image.mtime == self._best["oldest"],
                "folder": short_folder(path, self.roots),
            }
        return None


def mark_box(card: QRect) -> QRect:
    return QRect(card.right() - PAD - 26, card.top() + PAD + 6, 20, 20)


class CardDelegate(QStyledItemDelegate):
    """Draws a member card; a click on its mark box asks to toggle the mark."""

    toggleRequested = Signal(int)  # row

    def __init__(self, loader: ThumbnailLoader, parent: Any = None) -> None:
        super().__init__(parent)
        self.loader = loader

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return CARD

    def editorEvent(self, event: QEvent, model: Any, option: QStyleOptionViewItem, index: Index) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and index.data(MARKABLE_ROLE)
            and mark_box(option.rect).adjusted(-4, -4, 4, 4).contains(event.position().toPoint())
        ):
            self.toggleRequested.emit(index.row())
            return True
        return super().editorEvent(event, model, option, index)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette, colours = option.palette, accents(option.palette)  # type: ignore[attr-defined]
        rect: QRect = option.rect.adjusted(3, 3, -3, -3)  # type: ignore[attr-defined]
        marked, best = index.data(MARKED_ROLE), index.data(BEST_ROLE)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        outline = (
            palette.color(QPalette.ColorRole.Highlight)
            if selected
            else (colours.marked if marked else palette.color(QPalette.ColorRole.Mid))
        )
        path = QPainterPath()
        path.addRoundedRect(rect, 8, 8)
        painter.fillPath(path, colours.card)
        painter.setPen(QPen(outline, 3 if selected or marked else 1))
        painter.drawPath(path)
        member: Member = index.data(MEMBER_ROLE)
        thumb = QRect(rect.left() + PAD, rect.top() + PAD, rect.width() - 2 * PAD, THUMB.height())
        self._thumbnail(painter, thumb, member.image.path, palette, marked)
        self._badges(painter, thumb, best, index.data(PROTECTED_ROLE), marked, colours)
        if index.data(MARKABLE_ROLE):
            self._mark_box(painter, option.rect, marked, colours, palette)  # type: ignore[attr-defined]
        text = QRect(
            rect.left() + PAD, thumb.bottom() + 8, rect.width() - 2 * PAD, rect.bottom() - thumb.bottom() - 10
        )
        self._facts(painter, text, member, index.data(EMPHASIS_ROLE), best, option.font, palette, colours)  # type: ignore[attr-defined]
        painter.restore()

    def _thumbnail(self, painter: QPainter, box: QRect, path: str, palette: QPalette, marked: bool) -> None:
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        side = int(max(box.width(), box.height()) * ratio)
        pixmap = self.loader.get(path, side)
        if pixmap is None:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            label = "Cannot show this picture" if self.loader.failed(path, side) else "Loading…"
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
            return
        size = pixmap.size() / pixmap.devicePixelRatio() / ratio
        size = (
            size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            if (size.width() > box.width() or size.height() > box.height())
            else size
        )
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(box.center())
        if marked:
            painter.setOpacity(0.55)
        painter.drawPixmap(target, pixmap)
        painter.setOpacity(1.0)

    def _badges(
        self, painter: QPainter, box: QRect, best: bool, protected: bool, marked: bool, colours: Any
    ) -> None:
        badges = [
            (text, colour)
            for text, colour, shown in (
                ("BEST COPY", colours.best, best),
                ("REFERENCE FOLDER", colours.protected, protected),
                ("MARKED", colours.marked, marked),
            )
            if shown
        ]
        font = QFont(painter.font())
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.75))
        font.setBold(True)
        painter.setFont(font)
        y = box.top() + 6
        for text, colour in badges:
            width = painter.fontMetrics().horizontalAdvance(text) + 12
            pill = QRect(box.left() + 6, y, width, painter.fontMetrics().height() + 4)
            pill_path = QPainterPath()
            pill_path.addRoundedRect(pill, pill.height() / 2, pill.height() / 2)
            painter.fillPath(pill_path, colour)
            painter.setPen(QColor("white"))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
            y += pill.height() + 4

    def _mark_box(
        self, painter: QPainter, card: QRect, marked: bool, colours: Any, palette: QPalette
    ) -> None:
        box = mark_box(card)
        painter.setPen(QPen(colours.marked if marked else palette.color(QPalette.ColorRole.Mid), 2))
        painter.setBrush(colours.marked if marked else palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(box, 4, 4)
        if marked:
            painter.setPen(QPen(QColor("white"), 2.5))
            corner = box.topLeft()
            painter.drawPolyline([corner + QPoint(4, 10), corner + QPoint(8, 14), corner + QPoint(16, 5)])
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _facts(
        self,
        painter: QPainter,
        box: QRect,
        member: Member,
        emphasis: dict[str, Any],
        best: bool,
        base: QFont,
        palette: QPalette,
        colours: Any,
    ) -> None:
        image, text_colour = member.image, palette.color(QPalette.ColorRole.Text)
        lines: list[tuple[str, QColor, bool]] = [
            (os.path.basename(image.path), text_colour, True),
            (
                f"{image.width:,} × {image.height:,} px",
                colours.best if emphasis["pixels"] else text_colour,
                bool(emphasis["pixels"]),
            ),
            (
                human_bytes(image.bytes),
                colours.best if emphasis["bytes"] else text_colour,
                bool(emphasis["bytes"]),
            ),
            (human_date(image.mtime) + ("  · oldest" if emphasis["oldest"] else ""), text_colour, False),
            (emphasis["folder"], colours.muted, False),
            (
                "Best copy (reference)" if best else f"Similarity {member.similarity_text}",
                colours.muted,
                False,
            ),
        ]
        y = box.top()
        for text, colour, bold in lines:
            font = QFont(base)
            font.setBold(bold)
            painter.setFont(font)
            painter.setPen(colour)
            height = painter.fontMetrics().height()
            elided = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, box.width())
            painter.drawText(QRect(box.left(), y, box.width(), height), Qt.AlignmentFlag.AlignLeft, elided)
            y += height + 1
