"""Helpers for the window's tests: the picture library, answered prompts, waiting for a scan."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dupfinder.gui.prompts import Prompts
from dupfinder.gui.window import MainWindow
from tests.imagegen import save, synthetic_photo

YEAR = 365 * 24 * 3600
BASE_TIME = 1_600_000_000  # 2020-09-13

# Relative paths of the library, grouped as the tiny model must group them at its default threshold.
EXPECTED_GROUPS = [
    {"2023/IMG_0.jpg", "backup/IMG_0.jpg"},
    {"2023/IMG_1.jpg", "backup/IMG_1.jpg"},
    {"2023/IMG_2.jpg", "small/IMG_2_small.jpg"},
    {"2023/IMG_3.jpg", "edited/IMG_3.png"},
    {"2023/IMG_4.jpg", "small/IMG_4_small.jpg", "backup/IMG_4.jpg"},
]


class AnsweringPrompts(Prompts):
    """Answers every question the window asks, and records them."""

    def __init__(self) -> None:
        super().__init__(None)
        self.confirms: list[str] = []
        self.informs: list[tuple[str, str, str]] = []
        self.answer = True
        self.folder: Path | None = None
        self.save_path: Path | None = None
        self.open_path: Path | None = None

    def confirm(
        self, title: str, text: str, details: str = "", action: str = "OK", danger: bool = False
    ) -> bool:
        self.confirms.append(title)
        return self.answer

    def inform(self, title: str, text: str, details: str = "", warning: bool = False) -> None:
        self.informs.append((title, text, details))

    def choose_folder(self, title: str, start: str = "") -> Path | None:
        return self.folder

    def choose_open_file(self, title: str, filter: str, start: str = "") -> Path | None:
        return self.open_path

    def choose_save_file(self, title: str, filter: str, start: str = "") -> tuple[Path | None, str]:
        return self.save_path, "JSON (*.json)"


def write_library(root: Path) -> None:
    """Eight distinct photos and copies of five of them: exact, resized, re-encoded."""
    for seed in range(8):
        save(synthetic_photo(seed + 100), root / "2023" / f"IMG_{seed}.jpg", quality=90)
    photos = {seed: synthetic_photo(seed + 100) for seed in range(5)}
    (root / "backup").mkdir()
    for seed in (0, 1, 4):
        shutil.copyfile(root / "2023" / f"IMG_{seed}.jpg", root / "backup" / f"IMG_{seed}.jpg")
    save(photos[2].resize((160, 120)), root / "small" / "IMG_2_small.jpg", quality=95)
    save(photos[4].resize((200, 150)), root / "small" / "IMG_4_small.jpg", quality=70)
    save(photos[3], root / "edited" / "IMG_3.png")
    for index, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file())):
        stamp = BASE_TIME + index * 3600 + (-YEAR if "small" in path.parts else 0)
        os.utime(path, (stamp, stamp))


def relative_groups(window: MainWindow, root: Path) -> list[set[str]]:
    review = window.review
    assert review is not None
    return [{os.path.relpath(m.image.path, root) for m in g.members} for g in review.groups]


def scan(qtbot, window: MainWindow, folder: Path, timeout: int = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Drop `folder` on the window and wait for the review of its scan."""
    with qtbot.waitSignal(window.scanDone, timeout=timeout):
        window.drop_paths([str(folder)])


def wait_idle(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not window.cleanup.busy, timeout=10_000)
