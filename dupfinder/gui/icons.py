"""Icons from resources/icons, drawn in the palette's text colour so they suit light and dark themes.

The SVGs use `currentColor`; it is replaced by the palette colour before rendering. A missing
icon folder (an unusual install) gives empty icons, never an error.
"""

from __future__ import annotations

import sys
from functools import cache, lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 20, 24, 32, 48)


def icon_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent.parent
    return [package.parent / "resources" / "icons", Path(sys.prefix) / "share" / "dupfinder" / "icons"]


@cache
def _svg(name: str) -> str | None:
    for folder in icon_dirs():
        path = folder / f"{name}.svg"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def icon(name: str, colour: str | None = None) -> QIcon:
    """A themed icon; `colour` overrides the palette's text colour (a CSS colour name or #hex)."""
    text = _svg(name)
    if text is None:
        return QIcon()
    colour = colour or QGuiApplication.palette().color(QPalette.ColorRole.WindowText).name()
    return _render(text.replace("currentColor", colour))


@lru_cache(maxsize=256)
def _render(svg: str) -> QIcon:
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    result = QIcon()
    for size in SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(pixmap)
    return result


def app_icon() -> QIcon:
    text = _svg("dupfinder")
    return _render(text) if text else QIcon()
