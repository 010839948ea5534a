"""Marking and cleaning up through the window: rules, trash and undo, move, never emptying a group."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import Qt

from dupfinder.gui.window import MainWindow
from tests.gui.helpers import AnsweringPrompts, relative_groups, scan, wait_idle


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _marked(window: MainWindow, root: Path) -> set[str]:
    review = window.review
    assert review is not None
    return {os.path.relpath(r.path, root) for r in review.marks.marked_in(review.groups)}


def test_rule_from_the_menu_marks_every_group(qtbot, window: MainWindow, library: Path) -> None:
    scan(qtbot, window, library)
    window.commands.rules["largest"].trigger()
    assert _marked(window, library) == {
        "backup/IMG_0.jpg",
        "backup/IMG_1.jpg",
        "small/IMG_2_small.jpg",
        "2023/IMG_3.jpg",
        "small/IMG_4_small.jpg",
        "backup/IMG_4.jpg",
    }
    assert window.groups_panel.model.data(window.groups_panel.model.index(0, 3)) != "–"
    window.commands.clear.trigger()
    assert _marked(window, library) == set()


def test_trash_then_undo_restores_every_file_byte_for_byte(
    qtbot, window: MainWindow, library: Path, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    before = _snapshot(library)
    scan(qtbot, window, library)
    window.commands.rules["oldest"].trigger()
    marked = _marked(window, library)
    assert len(marked) == 6
    window.commands.trash.trigger()
    wait_idle(qtbot, window)
    assert "Move to the trash" in prompts.confirms
    assert prompts.informs[-1][0] == "Done"
    assert not any((library / p).exists() for p in marked)
    trashed = list((tmp_path / "xdg" / "Trash" / "files").iterdir())
    assert len(trashed) == 6
    assert window.review.groups == []  # every group is down to one file
    assert window.commands.undo.isEnabled() and "Undo" in window.commands.undo.text()
    window.commands.undo.trigger()
    wait_idle(qtbot, window)
    assert _snapshot(library) == before
    assert not list((tmp_path / "xdg" / "Trash" / "files").iterdir())
    assert not list((tmp_path / "xdg" / "Trash" / "info").iterdir())
    assert len(window.review.groups) == 5
    assert not window.commands.undo.isEnabled()


def test_move_to_a_folder_with_name_clashes_loses_nothing(
    qtbot, window: MainWindow, library: Path, prompts: AnsweringPrompts, tmp_path: Path
) -> None:
    before = _snapshot(library)
    destination = tmp_path / "moved"
    clash = destination / "Photos" / "backup" / "IMG_0.jpg"
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"someone else's file")
    prompts.folder = destination
    scan(qtbot, window, library)
    window.commands.rules["largest"].trigger()
    marked = _marked(window, library)
    window.commands.move.trigger()
    wait_idle(qtbot, window)
    assert clash.read_bytes() == b"someone else's file"
    assert (destination / "Photos" / "backup" / "IMG_0 (1).jpg").exists()
    assert (destination / "Photos" / "small" / "IMG_2_small.jpg").exists()
    moved = _snapshot(destination)
    remaining = _snapshot(library)
    assert sorted(list(moved.values()) + list(remaining.values())) == sorted(
        [*before.values(), (hashlib.sha256(b"someone else's file").hexdigest(), clash.stat().st_mtime_ns)]
    )
    assert not any((library / p).exists() for p in marked)
    window.commands.undo.trigger()
    wait_idle(qtbot, window)
    assert _snapshot(library) == before
    assert _snapshot(destination) == {"Photos/backup/IMG_0.jpg": moved["Photos/backup/IMG_0.jpg"]}


def test_a_group_cannot_be_emptied_by_accident(
    qtbot, window: MainWindow, library: Path, prompts: AnsweringPrompts
) -> None:
    scan(qtbot, window, library)
    view = window.compare.view
    group = window.compare.group
    assert group is not None and len(group.members) == 3
    view.setFocus()
    for row in range(len(group.members)):
        view.setCurrentIndex(window.compare.model.index(row))
        prompts.answer = False
        qtbot.keyClick(view, Qt.Key.Key_Space)
    review = window.review
    assert review.marks.count_in(group) == 2 and prompts.confirms == ["Mark every file of the group?"]
    prompts.answer = True
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert review.marks.count_in(group) == 3
    prompts.answer = False
    window.commands.trash.trigger()
    wait_idle(qtbot, window)
    assert prompts.confirms[-1] == "Some groups would be emptied"
    assert all(os.path.exists(m.image.path) for m in group.members)
    qtbot.keyClick(view, Qt.Key.Key_Space)  # Space again unmarks the selected card
    assert review.marks.count_in(group) == 2


def test_reference_folder_files_are_never_marked(qtbot, window: MainWindow, library: Path) -> None:
    window.add_folders([library / "backup"], scan=False)
    scan(qtbot, window, library)
    items = window.folders.tree
    backup = next(
        items.topLevelItem(i)
        for i in range(items.topLevelItemCount())
        if items.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole + 1) == str(library / "backup")
    )
    backup.setCheckState(1, Qt.CheckState.Checked)
    assert window.settings.references() == [str(library / "backup")]
    with qtbot.waitSignal(window.scanDone, timeout=30_000):
        window.start_scan()
    window.commands.rules["newest"].trigger()
    assert not any(p.startswith("backup") for p in _marked(window, library))
    window.commands.rules["reference"].trigger()
    assert {"2023/IMG_0.jpg", "2023/IMG_1.jpg", "2023/IMG_4.jpg"} <= _marked(window, library)
    assert len(relative_groups(window, library)) == 5


def test_nothing_marked_says_so(qtbot, window: MainWindow, library: Path, prompts: AnsweringPrompts) -> None:
    scan(qtbot, window, library)
    window.commands.trash.trigger()
    assert prompts.informs[-1][0] == "Nothing is marked"
    assert prompts.confirms == []


def test_marks_are_kept_across_a_rescan_but_never_mark_a_whole_group(
    qtbot, window: MainWindow, library: Path
) -> None:
    scan(qtbot, window, library)
    window.commands.rules["largest"].trigger()
    marked = _marked(window, library)
    review = window.review
    assert review is not None
    whole = review.groups[0]  # mark every copy of one group by hand, as a careless earlier scan might
    for member in whole.members:
        review.marks.mark(member.image.path, True)
    with qtbot.waitSignal(window.scanDone, timeout=30_000):
        window.start_scan()
    assert window.review is not review
    kept = _marked(window, library)
    whole_paths = {os.path.relpath(m.image.path, library) for m in whole.members}
    assert kept == marked - whole_paths  # the others carried over; the over-marked group dropped
    assert "kept from the last scan" in window.statusBar().currentMessage()
