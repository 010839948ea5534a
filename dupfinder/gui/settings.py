"""Typed access to the window's settings, persisted with QSettings.

Everything the user chooses lives here: folders and their roles, scan options, threshold, device,
model file, workers, recent folders, window state. Complex values are stored as JSON text, which
every QSettings backend keeps faithfully.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from dupfinder.discover import IMAGE_EXTENSIONS, DiscoverOptions
from dupfinder.scan import default_workers

MAX_RECENT = 10

FILE_TYPES: dict[str, frozenset[str]] = {
    "JPEG": frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    "PNG": frozenset({".png"}),
    "WebP": frozenset({".webp"}),
    "HEIC / AVIF": frozenset({".heic", ".heif", ".avif"}),
    "GIF": frozenset({".gif"}),
    "TIFF": frozenset({".tif", ".tiff"}),
    "BMP": frozenset({".bmp"}),
}
FILE_TYPES["Other"] = frozenset(IMAGE_EXTENSIONS - frozenset().union(*FILE_TYPES.values()))


@dataclass(frozen=True)
class FolderEntry:
    """A folder in the list: scanned, or a reference (never touched), or excluded (skipped)."""

    path: str
    reference: bool = False
    excluded: bool = False


class AppSettings:
    """A thin typed layer over one QSettings object (injected, so tests use a temporary file)."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def _get(self, key: str, default: Any, kind: type) -> Any:
        value = self.store.value(key, default)
        try:
            if kind is bool and isinstance(value, str):
                return value.lower() in ("1", "true", "yes")
            return kind(value)
        except (TypeError, ValueError):
            return default

    def _json(self, key: str, default: Any) -> Any:
        try:
            return json.loads(str(self.store.value(key, "")))
        except (json.JSONDecodeError, TypeError):
            return default

    # -- folders ----------------------------------------------------------------------------------

    @property
    def folders(self) -> list[FolderEntry]:
        raw = self._json("scan/folders", [])
        return [
            FolderEntry(**{k: v for k, v in item.items() if k in ("path", "reference", "excluded")})
            for item in raw
            if isinstance(item, dict) and isinstance(item.get("path"), str)
        ]

    @folders.setter
    def folders(self, entries: list[FolderEntry]) -> None:
        self.store.setValue("scan/folders", json.dumps([asdict(e) for e in entries]))

    @property
    def recent(self) -> list[str]:
        raw = self._json("scan/recent", [])
        return [p for p in raw if isinstance(p, str)][:MAX_RECENT]

    def remember(self, folder: str) -> None:
        """Put `folder` first in the recent-folders list."""
        recent = [folder, *(p for p in self.recent if p != folder)][:MAX_RECENT]
        self.store.setValue("scan/recent", json.dumps(recent))

    # -- scan options -----------------------------------------------------------------------------

    recursive = property(
        lambda self: self._get("scan/recursive", True, bool),
        lambda self, v: self.store.setValue("scan/recursive", bool(v)),
    )
    include_hidden = property(
        lambda self: self._get("scan/hidden", False, bool),
        lambda self, v: self.store.setValue("scan/hidden", bool(v)),
    )
    turned_copies = property(
        lambda self: self._get("scan/turned_copies", False, bool),
        lambda self, v: self.store.setValue("scan/turned_copies", bool(v)),
    )
    mirrored_copies = property(
        lambda self: self._get("scan/mirrored_copies", False, bool),
        lambda self, v: self.store.setValue("scan/mirrored_copies", bool(v)),
    )
    cropped_copies = property(
        lambda self: self._get("scan/cropped_copies", False, bool),
        lambda self, v: self.store.setValue("scan/cropped_copies", bool(v)),
    )
    aligned_copies = property(
        lambda self: self._get("scan/aligned_copies", False, bool),
        lambda self, v: self.store.setValue("scan/aligned_copies", bool(v)),
    )
    min_size_kib = property(
        lambda self: self._get("scan/min_size_kib", 0, int),
        lambda self, v: self.store.setValue("scan/min_size_kib", int(v)),
    )

    @property
    def file_types(self) -> list[str]:
        raw = self._json("scan/file_types", list(FILE_TYPES))
        return [t for t in raw if t in FILE_TYPES] if isinstance(raw, list) else list(FILE_TYPES)

    @file_types.setter
    def file_types(self, types: list[str]) -> None:
        self.store.setValue("scan/file_types", json.dumps([t for t in types if t in FILE_TYPES]))

    def discover_options(self) -> DiscoverOptions:
        extensions = frozenset().union(*(FILE_TYPES[t] for t in self.file_types))
        excluded = [e.path for e in self.folders if e.excluded]
        patterns = [p for path in excluded for p in (glob.escape(path), glob.escape(path) + os.sep + "*")]
        return DiscoverOptions(
            extensions=extensions,
            exclude=patterns,
            min_size=max(1, self.min_size_kib * 1024),
            include_hidden=self.include_hidden,
            recursive=self.recursive,
        )

    def roots(self) -> list[str]:
        return [e.path for e in self.folders if not e.excluded]

    def references(self) -> list[str]:
        return [e.path for e in self.folders if e.reference and not e.excluded]

    # -- engine -----------------------------------------------------------------------------------

    @property
    def threshold(self) -> float | None:
        """The chosen minimum similarity, or None for the model card's default."""
        value = self.store.value("engine/threshold", "")
        try:
            return float(str(value)) if value not in ("", None) else None
        except (TypeError, ValueError):
            return None

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self.store.setValue("engine/threshold", "" if value is None else f"{value:.4f}")

    device = property(
        lambda self: str(self.store.value("engine/device", "auto")),
        lambda self, v: self.store.setValue("engine/device", str(v)),
    )
    model_path = property(
        lambda self: str(self.store.value("engine/model", "") or ""),
        lambda self, v: self.store.setValue("engine/model", str(v or "")),
    )
    workers = property(
        lambda self: max(1, self._get("engine/workers", default_workers(), int)),
        lambda self, v: self.store.setValue("engine/workers", int(v)),
    )

    # -- window -----------------------------------------------------------------------------------

    def window_state(self, key: str) -> QByteArray | None:
        value = self.store.value(f"window/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, key: str, value: QByteArray) -> None:
        self.store.setValue(f"window/{key}", value)

    def save_widgets(self, widgets: dict[str, Any]) -> None:
        """Store each widget's `saveState()` (a main window, splitters) and write to disk."""
        for key, widget in widgets.items():
            self.set_window_state(key, widget.saveState())
        self.sync()

    def restore_widgets(self, widgets: dict[str, Any]) -> None:
        for key, widget in widgets.items():
            state = self.window_state(key)
            if state is not None:
                widget.restoreState(state)

    def sync(self) -> None:
        self.store.sync()
