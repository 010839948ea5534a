"""An append-only journal of file operations, so a crash mid-action loses nothing.

Each record is one JSON line, flushed and fsynced before the operation it announces starts
(write-ahead), so after a crash the journal says exactly which operation may be half done.
A torn last line (the crash hit while writing it) is ignored: its operation never started.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

Record = dict[str, Any]


class Journal:
    """JSON-lines records in one file; `append` returns only once the record is on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: Record) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def records(self) -> list[Record]:
        """Every complete record, oldest first; unreadable lines (a torn write) are skipped."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        records: list[Record] = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def rewrite(self, records: list[Record]) -> None:
        """Replace the journal atomically (used to drop old, finished actions)."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        _fsync_dir(self.path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable; not every platform can open a folder, which is fine."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
