"""The system trash, as the engine sees it: a backend that can trash a file and find it again.

The GUI injects a backend built on `QFile.moveToTrash`; the CLI and the tests can use
`FreedesktopTrash`, which follows the freedesktop.org trash specification (the home trash under
$XDG_DATA_HOME/Trash, as file managers on Linux and Qt use it).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote


class TrashBackend(Protocol):
    """Moves files to a trash and finds them there again (for undo and crash recovery)."""

    def trash(self, path: str) -> str:
        """Move `path` to the trash; return where it now lives. Raise OSError on failure."""
        ...

    def locate(self, original: str) -> str | None:
        """Where the file last trashed from `original` lives now, if it can be known."""
        ...


def home_trash() -> Path:
    """The freedesktop home trash: $XDG_DATA_HOME/Trash (default ~/.local/share/Trash)."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "Trash"


def forget_trashinfo(trashed: str) -> None:
    """Remove the `.trashinfo` beside a freedesktop trash entry once the file left the trash."""
    location = Path(trashed)
    if location.parent.name == "files":
        info = location.parent.parent / "info" / (location.name + ".trashinfo")
        info.unlink(missing_ok=True)


class FreedesktopTrash:
    """The freedesktop.org home trash; refuses files on another drive rather than copying them."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else home_trash()

    def trash(self, path: str) -> str:
        source = os.path.abspath(path)
        files, info = self.root / "files", self.root / "info"
        files.mkdir(parents=True, exist_ok=True)
        info.mkdir(parents=True, exist_ok=True)
        if os.stat(source).st_dev != os.stat(files).st_dev:
            raise OSError(errno.EXDEV, "the trash is on another drive", source)
        name, info_path = self._reserve(source, files, info)
        try:
            os.rename(source, files / name)
        except OSError:
            info_path.unlink(missing_ok=True)
            raise
        return str(files / name)

    @staticmethod
    def _reserve(source: str, files: Path, info: Path) -> tuple[str, Path]:
        """Claim a free name by creating its info file exclusively, as the spec asks."""
        stem, suffix = os.path.splitext(os.path.basename(source))
        text = f"[Trash Info]\nPath={quote(source)}\nDeletionDate={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
        for attempt in range(10_000):
            name = f"{stem}{suffix}" if attempt == 0 else f"{stem}.{attempt}{suffix}"
            info_path = info / (name + ".trashinfo")
            if (files / name).exists():
                continue
            try:
                with open(info_path, "x", encoding="utf-8") as handle:
                    handle.write(text)
            except FileExistsError:
                continue
            return name, info_path
        raise OSError(errno.EEXIST, "no free name in the trash", source)

    def locate(self, original: str) -> str | None:
        best: tuple[str, str] | None = None  # (deletion date, name)
        for info_path in (self.root / "info").glob("*.trashinfo"):
            fields = _read_trashinfo(info_path)
            if unquote(fields.get("Path", "")) != original:
                continue
            name = info_path.name[: -len(".trashinfo")]
            date = fields.get("DeletionDate", "")
            if (self.root / "files" / name).exists() and (best is None or date >= best[0]):
                best = (date, name)
        return str(self.root / "files" / best[1]) if best else None


def _read_trashinfo(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)
