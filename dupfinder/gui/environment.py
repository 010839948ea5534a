"""Where the window keeps its state, injected so tests can point everything at temporary folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from dupfinder.cache import default_cache_dir
from dupfinder.trash import TrashBackend

from .desktop import QtTrash
from .prompts import Prompts


@dataclass
class Environment:
    settings: QSettings
    data_dir: Path  # the action journal and the "not duplicates" list
    cache_path: Path | None  # the embedding cache (None: in memory)
    trash: TrashBackend
    prompts: Prompts | None = None  # None: real dialogs parented to the window

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.jsonl"

    @property
    def ignore_path(self) -> Path:
        return self.data_dir / "not-duplicates.json"


def default_environment() -> Environment:
    """The platform's places: QSettings' default store, the app data folder, the cache folder."""
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Environment(
        settings=QSettings(),
        data_dir=Path(data),
        cache_path=default_cache_dir() / "cache.sqlite3",
        trash=QtTrash(),
    )
