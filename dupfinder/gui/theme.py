"""Light and dark themes that follow the system, and the few accent colours the window uses.

Fusion everywhere, so the window looks the same on every platform; the palette follows the
system's colour scheme (Qt 6.5+ reports it) and changes when the system does.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Accents:
    marked: QColor  # a file marked for clean-up
    best: QColor  # the group's best copy
    protected: QColor  # a file in a reference folder
    card: QColor  # the card behind a thumbnail
    muted: QColor  # secondary text


def is_dark(palette: QPalette | None = None) -> bool:
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def accents(palette: QPalette | None = None) -> Accents:
    palette = palette or QGuiApplication.palette()
    dark = is_dark(palette)
    base = palette.color(QPalette.ColorRole.Base)
    return Accents(
        marked=QColor("#ef4444") if dark else QColor("#dc2626"),
        best=QColor("#34d399") if dark else QColor("#059669"),
        protected=QColor("#60a5fa") if dark else QColor("#2563eb"),
        card=base.lighter(112) if dark else base.darker(104),
        muted=palette.color(QPalette.ColorRole.PlaceholderText),
    )


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        # Base is lighter than Window: Fusion outlines check boxes with Window.darker(), which
        # would vanish on a Base as dark as that outline.
        QPalette.ColorRole.Window: "#202328",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#2a2e34",
        QPalette.ColorRole.AlternateBase: "#30343b",
        QPalette.ColorRole.ToolTipBase: "#2b2f36",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#2a2e35",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3b82f6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#60a5fa",
        QPalette.ColorRole.PlaceholderText: "#8b929c",
        QPalette.ColorRole.Mid: "#3a3f47",
        QPalette.ColorRole.Dark: "#111316",
        QPalette.ColorRole.Light: "#3a3f47",
        QPalette.ColorRole.Midlight: "#30343b",
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b717a"))
    return palette


def light_palette() -> QPalette:
    palette = QApplication.style().standardPalette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#2563eb"))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor("#6b7280"))
    return palette


def apply(app: QApplication, scheme: Qt.ColorScheme | None = None) -> None:
    """Fusion with a palette for the system's colour scheme (or `scheme`), kept in step with it."""
    app.setStyle("Fusion")
    chosen = scheme if scheme is not None else app.styleHints().colorScheme()
    app.setPalette(dark_palette() if chosen == Qt.ColorScheme.Dark else light_palette())
    if scheme is None and not app.property("dupfinderThemeFollows"):
        app.setProperty("dupfinderThemeFollows", True)
        app.styleHints().colorSchemeChanged.connect(lambda new: apply(app, new))
