"""The window as a whole: settings across restarts, 20,000 groups, recovery at start, theme, About."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from dupfinder import __version__
from dupfinder.gui import theme
from dupfinder.gui.app import open_window
from dupfinder.gui.dialogs import about_text
from dupfinder.gui.engine import describe
from dupfinder.gui.environment import Environment
from dupfinder.gui.folders import classify_drop
from dupfinder.gui.groups_panel import GroupsPanel
from dupfinder.gui.marking import Marks
from dupfinder.gui.window import MainWindow
from dupfinder.jobs import Progress
from dupfinder.journal import Journal
from dupfinder.report import Group, ImageRecord, Member
from tests.gui.helpers import AnsweringPrompts, scan


def test_settings_survive_a_restart(qtbot, environment: Environment, tiny_model: Path, library: Path) -> None:
    first = MainWindow(environment, model=tiny_model)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitUntil(lambda: first.engine.embedder is not None, timeout=10_000)
    scan(qtbot, first, library)
    first.folders.tree.topLevelItem(0).setCheckState(1, Qt.CheckState.Checked)
    first.folders.hidden.setChecked(True)
    assert not first.folders.turned.isChecked()  # off unless asked for: it slows a first scan
    first.folders.turned.setChecked(True)
    assert not first.folders.mirrored.isChecked()  # off unless asked for: mirror-image designs group
    first.folders.mirrored.setChecked(True)
    assert not first.folders.cropped.isChecked()  # off unless asked for: six more inferences each
    first.folders.cropped.setChecked(True)
    assert not first.folders.aligned.isChecked()  # off unless asked for: near pairs are read again
    first.folders.aligned.setChecked(True)
    first.folders.min_size.setValue(12)
    with qtbot.waitSignal(first.groups_panel.thresholdChanged, timeout=2000):
        first.groups_panel.slider.setValue(950)
    first.settings.device = "cpu"
    first.settings.workers = 3
    first.resize(780, 610)
    first.split.setSizes([300, 480])
    size, split = first.size().toTuple(), first.split.sizes()
    first.close()
    second = MainWindow(environment, model=tiny_model)
    qtbot.addWidget(second)
    second.show()
    entries = second.settings.folders
    assert [(e.path, e.reference) for e in entries] == [(str(library), True)]
    assert second.folders.hidden.isChecked() and second.folders.min_size.value() == 12
    assert second.settings.threshold == 0.95 and second.settings.device == "cpu"
    assert second.settings.workers == 3
    assert second.size().toTuple() == size and size[1] == 610
    assert second.split.sizes() == split
    assert second.settings.discover_options().min_size == 12 * 1024
    assert second.folders.turned.isChecked() and second.scanflow.options().turned_copies
    assert second.folders.mirrored.isChecked() and second.scanflow.options().mirrored_copies
    assert second.folders.cropped.isChecked() and second.scanflow.options().cropped_copies
    assert second.folders.aligned.isChecked() and second.scanflow.options().aligned_copies
    second.close()


def test_twenty_thousand_groups_scroll_smoothly(qtbot) -> None:
    groups = [
        Group(
            i + 1,
            "near" if i % 3 else "exact",
            tuple(
                Member(
                    ImageRecord(
                        f"/photos/{i % 50}/img_{i}_{j}.jpg", 4000, 3000, 2_000_000 + i * 7 + j, 1e9 + i
                    ),
                    1.0 - j * 0.01,
                )
                for j in range(2 + i % 4)
            ),
        )
        for i in range(20_000)
    ]
    panel = GroupsPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 600)
    panel.show()
    started = time.perf_counter()
    panel.set_groups(groups, Marks(), ["/photos"])
    QApplication.processEvents()
    loaded = time.perf_counter() - started
    assert panel.proxy.rowCount() == 20_000
    bar = panel.view.verticalScrollBar()
    worst = 0.0
    for step in range(40):
        tick = time.perf_counter()
        bar.setValue(bar.maximum() * step // 39)
        panel.view.viewport().repaint()
        worst = max(worst, time.perf_counter() - tick)
    tick = time.perf_counter()
    panel.view.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    sort_time = time.perf_counter() - tick
    tick = time.perf_counter()
    panel.filter.setText("img_1999")
    filter_time = time.perf_counter() - tick
    assert panel.proxy.rowCount() == 11  # img_1999_*, img_19990.. img_19999
    # Budgets 4-5x what this 2-core machine takes while training runs beside it (0.33-0.48 s to load,
    # 0.03-0.06 s worst scroll, 0.3 s to sort or filter): they catch a model that does per-row work
    # in Python (seconds), not a busy machine. The earlier 0.5 s / 50 ms budgets failed under load.
    assert loaded < 2.0 and worst < 0.25 and sort_time < 2.0 and filter_time < 2.0, (
        loaded,
        worst,
        sort_time,
        filter_time,
    )


def test_an_interrupted_action_is_reported_at_start(
    qtbot, environment: Environment, tiny_model: Path, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"bytes")
    journal = Journal(environment.journal_path)
    journal.append({"t": "begin", "id": 1, "kind": "trash", "time": 0})
    journal.append(
        {
            "t": "op",
            "id": 1,
            "seq": 0,
            "src": str(photo),
            "dst": None,
            "size": 5,
            "mtime_ns": photo.stat().st_mtime_ns,
        }
    )
    window = MainWindow(environment, model=tiny_model)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: bool(prompts.informs), timeout=5000)
    title, _text, details = prompts.informs[0]
    assert title == "An interrupted action was finished" and str(photo) in details
    assert photo.exists()
    window.close()


def test_open_window_with_folders_starts_scanning(
    qtbot, environment: Environment, tiny_model: Path, library: Path
) -> None:
    window = open_window([library], model=tiny_model, environment=environment)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.scanDone, timeout=30_000):
        pass
    assert len(window.review.groups) == 5
    window.close()


def test_themes_follow_the_colour_scheme(qtbot) -> None:
    app = QApplication.instance()
    before = app.palette()
    theme.apply(app, Qt.ColorScheme.Dark)
    assert theme.is_dark() and theme.accents().marked.isValid()
    theme.apply(app, Qt.ColorScheme.Light)
    assert not theme.is_dark()
    app.setPalette(before)


def test_about_shows_version_and_model_card(window: MainWindow) -> None:
    text = about_text(window.engine.embedder, "")
    assert __version__ in text and "tiny-test-model" in text and "CPU" in text
    assert "No model loaded" in about_text(None, "no model found")


def test_progress_text_and_drop_classification(tmp_path: Path) -> None:
    line = describe(Progress("embed", 120, 480, "/x.jpg", 60.0, 6.0))
    assert line == "Reading pictures · 120 / 480 · 60 images/s · 6 s left"
    assert describe(Progress("discover", 30, 0)) == "Finding pictures · 30"
    picture = tmp_path / "a.jpg"
    picture.write_bytes(b"x")
    other = tmp_path / "sub" / "notes.txt"
    other.parent.mkdir()
    other.write_text("x")
    assert classify_drop([str(picture)]) == ([], str(picture))
    assert classify_drop([str(other)]) == ([str(other.parent)], None)
    assert classify_drop([str(picture), str(tmp_path), str(tmp_path / "missing")]) == ([str(tmp_path)], None)


def test_settings_dialog_writes_choices(qtbot, window: MainWindow, tiny_model: Path) -> None:
    from dupfinder.gui.dialogs import SettingsDialog

    dialog = SettingsDialog(window.settings, window.prompts, 0.9, window)
    qtbot.addWidget(dialog)
    assert dialog.use_default.isChecked() and not dialog.threshold.isEnabled()
    dialog.use_default.setChecked(False)
    dialog.threshold.setValue(0.875)
    dialog.workers.setValue(5)
    dialog.model.setText(str(tiny_model))
    assert dialog.apply() is True  # a new model file: reload
    assert window.settings.threshold == 0.875 and window.settings.workers == 5
    assert window.settings.model_path == str(tiny_model)
    dialog.use_default.setChecked(True)
    assert dialog.apply() is False and window.settings.threshold is None
