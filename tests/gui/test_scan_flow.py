"""Dropping folders, scanning, cancelling, regrouping with the slider, a responsive UI thread."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from dupfinder import imaging
from dupfinder.gui.window import MainWindow
from tests.gui.helpers import EXPECTED_GROUPS, relative_groups, scan


def _sorted(groups: list[set[str]]) -> list[list[str]]:
    return sorted(sorted(g) for g in groups)


def test_dropping_a_folder_scans_it_and_shows_the_expected_groups(
    qtbot, window: MainWindow, library: Path
) -> None:
    scan(qtbot, window, library)
    assert _sorted(relative_groups(window, library)) == _sorted(EXPECTED_GROUPS)
    assert window.settings.roots() == [str(library)]
    assert str(library) in window.settings.recent
    assert not window.scanflow.progress.isVisible()
    assert window.stack.currentWidget() is window.compare
    assert window.compare.group is not None and window.compare.model.rowCount() >= 2
    assert "CPU" in window.model_label.text() and "tiny-test-model" in window.model_label.text()
    assert window.groups_panel.proxy.rowCount() == len(EXPECTED_GROUPS)


def test_a_real_drop_event_of_a_file_adds_its_folder(qtbot, window: MainWindow, library: Path) -> None:
    mime = QMimeData()
    mime.setUrls(
        [
            QUrl.fromLocalFile(str(library / "2023" / "IMG_0.jpg")),
            QUrl.fromLocalFile(str(library / "backup" / "IMG_0.jpg")),
        ]
    )
    enter = QDragEnterEvent(
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.scanDone, timeout=30_000):
        QApplication.sendEvent(window, drop)
    assert set(window.settings.roots()) == {str(library / "2023"), str(library / "backup")}
    assert len(window.review.groups) == 3  # IMG_0, IMG_1 and IMG_4 have exact copies in backup/


def test_cancel_keeps_what_was_scanned(qtbot, window: MainWindow, many_photos: Path) -> None:
    cancelled = []

    def cancel_once(event: object) -> None:
        if getattr(event, "stage", "") == "embed" and getattr(event, "done", 0) > 0 and not cancelled:
            cancelled.append(True)
            window.scanflow.progress.cancel.click()

    window.engine.progress.connect(cancel_once)
    window.settings.workers = 1
    scan(qtbot, window, many_photos)
    report = window.review.result.report
    assert report.cancelled and 0 < report.stats.images < report.stats.files
    assert window.scanflow.notice.isVisible() and "cancelled" in window.scanflow.notice.text()
    window.engine.progress.disconnect(cancel_once)
    with qtbot.waitSignal(window.scanDone, timeout=60_000):
        window.start_scan()
    again = window.review.result.report
    assert not again.cancelled and again.stats.images == again.stats.files
    assert again.stats.cached >= report.stats.images  # what was done before is not done again


def test_slider_regroups_without_reading_files(
    qtbot, window: MainWindow, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan(qtbot, window, library)
    monkeypatch.setattr(imaging, "load_for_model", lambda *a, **k: pytest.fail("a file was read"))
    slider = window.groups_panel.slider
    with qtbot.waitSignal(window.groups_panel.thresholdChanged, timeout=2000):
        slider.setValue(slider.maximum())
    exact = relative_groups(window, library)
    assert _sorted(exact) == _sorted(
        [
            {"2023/IMG_0.jpg", "backup/IMG_0.jpg"},
            {"2023/IMG_1.jpg", "backup/IMG_1.jpg"},
            {"2023/IMG_4.jpg", "backup/IMG_4.jpg"},
        ]
    )
    assert window.settings.threshold == pytest.approx(1.0)
    with qtbot.waitSignal(window.groups_panel.thresholdChanged, timeout=2000):
        slider.setValue(slider.minimum())
    loose = relative_groups(window, library)
    assert sum(len(g) for g in loose) >= sum(len(g) for g in EXPECTED_GROUPS)
    assert window.groups_panel.slider_label.text() == f"{window.review.floor:.3f}"
    with qtbot.waitSignal(window.groups_panel.thresholdChanged, timeout=2000):
        slider.setValue(900)
    assert _sorted(relative_groups(window, library)) == _sorted(EXPECTED_GROUPS)


def _longest_gaps(qtbot, window: MainWindow, folder: Path) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Scan `folder` with a 10 ms timer on the UI thread; the three longest gaps between its beats
    as (gap ms, at ms)."""
    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    scan(qtbot, window, folder, timeout=120_000)
    qtbot.wait(50)  # the first paint of the results counts too
    timer.stop()
    report = window.review.result.report
    assert report.stats.images - report.stats.cached >= 300  # decoded and embedded, not cached
    gaps = [b - a for a, b in zip([started, *beats], beats)]
    worst = sorted(
        ((round(g * 1000), round((b - started) * 1000)) for g, b in zip(gaps, beats)), reverse=True
    )[:3]
    print(f"scan {beats[-1] - started:.2f} s; longest gaps (ms, at ms): {worst}")
    return worst


def test_ui_thread_is_never_blocked_during_a_scan(
    qtbot, window: MainWindow, many_photos: Path, tmp_path: Path
) -> None:
    """A blocked UI thread shows in every scan; one late beat on a busy shared machine (seen once
    in a full run: a single 276 ms gap, never alone) does not, so a second uncached scan of a copy
    of the folder decides."""
    worst = _longest_gaps(qtbot, window, many_photos)
    if worst[0][0] >= 100:
        # shutil.copy gives new modification times: the copies are not recognised as cached files.
        again = shutil.copytree(many_photos, tmp_path / "Again", copy_function=shutil.copy)
        worst = _longest_gaps(qtbot, window, Path(again))
    assert worst[0][0] < 100, f"UI thread blocked: longest gaps (ms, at ms) {worst}"


def test_no_model_is_explained_and_can_be_chosen(
    qtbot,
    environment,
    tiny_model: Path,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("dupfinder.models.bundled_model_dirs", lambda: [Path("/nonexistent")])
    window = MainWindow(environment)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: bool(window.engine.model_error), timeout=10_000)
    assert "no model found" in window.empty.problem.text()
    assert window.empty.choose_model.isVisibleTo(window.empty)
    assert "No model" in window.model_label.text()
    window.settings.model_path = str(tiny_model)
    window.load_model()
    qtbot.waitUntil(lambda: window.engine.embedder is not None, timeout=10_000)
    assert not window.empty.problem.isVisibleTo(window.empty)
    window.close()
