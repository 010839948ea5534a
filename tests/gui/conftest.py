"""Fixtures for the window's tests: picture folders, a sandboxed environment, answered prompts.

Everything the window writes goes to the test's temporary folder: settings (an INI file), the
action journal, the "not duplicates" list, the cache, and the trash ($XDG_DATA_HOME/Trash).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from dupfinder.gui.desktop import QtTrash
from dupfinder.gui.environment import Environment
from dupfinder.gui.window import MainWindow
from tests.gui.helpers import AnsweringPrompts, write_library
from tests.imagegen import save, synthetic_photo


@pytest.fixture(scope="session")
def library_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "Photos"
    write_library(root)
    return root


@pytest.fixture()
def library(library_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the picture library (tests move and trash its files)."""
    target = tmp_path / "Photos"
    shutil.copytree(library_template, target, copy_function=shutil.copy2)
    return target


@pytest.fixture(scope="session")
def many_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred small pictures, a tenth of them with a resized copy."""
    root = tmp_path_factory.mktemp("many") / "Many"
    for seed in range(330):
        photo = synthetic_photo(seed + 1000, (320, 240))
        save(photo, root / f"d{seed % 7}" / f"p{seed}.jpg", quality=85)
        if seed % 10 == 0:
            save(photo.resize((160, 120)), root / "copies" / f"p{seed}-small.jpg", quality=80)
    return root


@pytest.fixture()
def prompts() -> AnsweringPrompts:
    return AnsweringPrompts()


@pytest.fixture()
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prompts: AnsweringPrompts) -> Environment:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DUPFINDER_MODEL", raising=False)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    return Environment(settings, tmp_path / "data", tmp_path / "cache.sqlite3", QtTrash(), prompts)


@pytest.fixture()
def window(qtbot, environment: Environment, tiny_model: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    created = MainWindow(environment, model=tiny_model)
    qtbot.addWidget(created)
    created.show()
    qtbot.waitUntil(lambda: created.engine.embedder is not None, timeout=10_000)
    yield created
    created.close()
