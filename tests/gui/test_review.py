"""Reviewing: compare panel keys, the large view, thumbnails, not-duplicates, find similar, export."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from PySide6.QtCore import Qt

from dupfinder.gui.cards import BEST_ROLE
from dupfinder.gui.dialogs import IgnoredDialog
from dupfinder.gui.similar import SimilarDialog
from dupfinder.gui.thumbnails import ThumbnailLoader, read_scaled
from dupfinder.gui.viewer import ImageViewer
from dupfinder.gui.window import MainWindow
from tests.gui.helpers import AnsweringPrompts, relative_groups, scan
from tests.imagegen import save, synthetic_photo, with_exif_orientation


def test_thumbnails_load_off_the_ui_thread_and_are_cached(qtbot, tmp_path: Path) -> None:
    path = str(save(synthetic_photo(1, (640, 480)), tmp_path / "a.jpg"))
    loader = ThumbnailLoader()
    assert loader.get(path, 128) is None
    with qtbot.waitSignal(loader.loaded, timeout=5000) as blocker:
        pass
    assert blocker.args == [path, 128]
    pixmap = loader.get(path, 128)
    assert pixmap is not None and (pixmap.width(), pixmap.height()) == (128, 96)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    loader.get(str(broken), 128)
    qtbot.waitUntil(lambda: loader.failed(str(broken), 128), timeout=5000)
    rotated = with_exif_orientation(synthetic_photo(2, (200, 100)), tmp_path / "r.jpg", 6)
    assert read_scaled(str(rotated), 0).size().toTuple() == (100, 200)
    loader.wait()


def test_compare_panel_keys_and_large_view(qtbot, window: MainWindow, library: Path) -> None:
    scan(qtbot, window, library)
    compare, view = window.compare, window.compare.view
    assert compare.group is not None and compare.model.data(compare.model.index(0), BEST_ROLE)
    view.setFocus()
    view.setCurrentIndex(compare.model.index(0))
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == 1
    qtbot.keyClick(view, Qt.Key.Key_Space)
    marked_path = compare.model.members[1].image.path
    assert window.review.marks.is_marked(marked_path)
    assert "1 marked" in compare.title.text()
    qtbot.keyClick(view, Qt.Key.Key_Return)
    viewer = next(d for d in window._dialogs if isinstance(d, ImageViewer))
    assert viewer.row == 1
    qtbot.waitUntil(lambda: not viewer.view.item.pixmap().isNull(), timeout=5000)
    assert viewer.view.item.pixmap().width() == compare.model.members[1].image.width
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    assert not viewer.view.fitting
    qtbot.keyClick(viewer, Qt.Key.Key_Space)
    assert not window.review.marks.is_marked(marked_path)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.row == 0
    viewer.close()
    window.step_group(1)
    assert window.groups_panel.view.currentIndex().row() == 1


def test_cards_paint_with_thumbnails(qtbot, window: MainWindow, library: Path) -> None:
    scan(qtbot, window, library)
    members = window.compare.group.members
    qtbot.waitUntil(lambda: all(window.loader.has(m.image.path) for m in members), timeout=5000)
    image = window.compare.view.viewport().grab().toImage()
    assert image.width() > 200 and image.pixelColor(130, 90) != image.pixelColor(5, 5)


def test_not_duplicates_is_remembered_across_scans(qtbot, window: MainWindow, library: Path) -> None:
    scan(qtbot, window, library)
    group = window.groups_panel.current_group()
    names = {os.path.relpath(m.image.path, library) for m in group.members}
    window.commands.ignore.trigger()
    assert names not in relative_groups(window, library)
    with qtbot.waitSignal(window.scanDone, timeout=30_000):
        window.start_scan()
    assert names not in relative_groups(window, library)
    assert len(window.review.groups) == 4
    dialog = IgnoredDialog(window.ignore, window)
    assert dialog.tree.topLevelItemCount() == len(names) * (len(names) - 1) // 2
    dialog.clear_button.click()
    assert len(window.ignore) == 0


def test_one_member_is_not_a_duplicate(qtbot, window: MainWindow, library: Path) -> None:
    scan(qtbot, window, library)
    group = window.groups_panel.current_group()
    member = group.members[-1].image.path
    window.compare.notDuplicateRequested.emit(member)
    assert window.review.group_of(member) is None
    assert len(window.review.groups) == 5  # the group lost one member, not its others


def test_dropping_one_picture_finds_similar_ones(
    qtbot, window: MainWindow, library: Path, tmp_path: Path
) -> None:
    query = save(synthetic_photo(106).resize((240, 180)), tmp_path / "query.jpg", quality=75)
    window.add_folders([library], scan=False)
    with qtbot.waitSignal(window.engine.similarFound, timeout=30_000) as blocker:
        window.drop_paths([str(query)])  # no scan yet: scans first, then searches
    path, matches = blocker.args
    assert path == str(query) and Path(matches[0].image.path).name == "IMG_6.jpg"
    assert matches[0].similarity > 0.95
    dialog = next(d for d in window._dialogs if isinstance(d, SimilarDialog))
    assert dialog.model.rowCount() == len(matches)
    dialog.close()


def test_export_json_and_csv(
    qtbot, window: MainWindow, library: Path, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    scan(qtbot, window, library)
    prompts.save_path = tmp_path / "out.json"
    window.commands.export.trigger()
    payload = json.loads((tmp_path / "out.json").read_text())
    assert payload["version"] == 1 and len(payload["groups"]) == 5
    assert payload["model"]["name"] == "tiny-test-model"
    prompts.save_path = tmp_path / "out.csv"
    window.commands.export.trigger()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert len(rows) == 11 and {r["role"] for r in rows} == {"reference", "duplicate"}


def test_export_writes_only_the_groups_the_filter_shows(
    qtbot, window: MainWindow, library: Path, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    scan(qtbot, window, library)
    window.groups_panel.filter.setText("IMG_3")
    assert window.groups_panel.proxy.rowCount() == 1
    prompts.save_path = tmp_path / "shown.json"
    window.commands.export.trigger()
    payload = json.loads((tmp_path / "shown.json").read_text())
    assert len(payload["groups"]) == 1
    assert all("IMG_3" in m["path"] for m in payload["groups"][0]["members"])
    assert "the filter shows" in window.statusBar().currentMessage()
