"""Numbers, dates and paths as the window shows them."""

from __future__ import annotations

import os
import time


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def human_date(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def short_folder(path: str, roots: list[str] | None = None) -> str:
    """The folder of `path`, relative to the scan root holding it when there is one."""
    folder = os.path.dirname(path)
    for root in sorted(roots or [], key=len, reverse=True):
        base = root.rstrip(os.sep)
        if folder == base or folder.startswith(base + os.sep):
            name = os.path.basename(base) or base
            rest = folder[len(base) :].lstrip(os.sep)
            return os.path.join(name, rest) if rest else name
    home = os.path.expanduser("~")
    return "~" + folder[len(home) :] if folder.startswith(home + os.sep) else folder
