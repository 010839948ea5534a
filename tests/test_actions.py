"""Journaled file actions: trash, move, undo, and recovery after a crash in the middle of one."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from dupfinder import actions
from dupfinder.actions import FileActions, free_name, move_no_clobber, relative_destination
from dupfinder.jobs import Job
from dupfinder.journal import Journal
from dupfinder.trash import FreedesktopTrash


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path, count: int, prefix: str = "photo") -> list[Path]:
    paths = []
    for index in range(count):
        path = root / f"{prefix}{index}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(2000 + index))
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_500_000_000_123_456_789 + index))
        paths.append(path)
    return paths


@pytest.fixture()
def trash(tmp_path: Path) -> FreedesktopTrash:
    return FreedesktopTrash(tmp_path / "Trash")


@pytest.fixture()
def file_actions(tmp_path: Path, trash: FreedesktopTrash) -> FileActions:
    return FileActions(tmp_path / "state" / "journal.jsonl", trash)


def test_trash_then_undo_restores_path_bytes_and_mtime(
    tmp_path: Path, file_actions: FileActions, trash: FreedesktopTrash
) -> None:
    paths = _files(tmp_path / "photos", 3)
    before = {p: (_digest(p), p.stat().st_mtime_ns) for p in paths}
    result = file_actions.trash([str(p) for p in paths])
    assert [d.source for d in result.done] == [str(p) for p in paths] and not result.failed
    assert not any(p.exists() for p in paths)
    assert len(list((trash.root / "info").glob("*.trashinfo"))) == 3
    info = file_actions.last_undoable()
    assert info is not None and info.kind == "trash" and info.files == 3
    undone = file_actions.undo()
    assert len(undone.done) == 3 and not undone.failed
    assert {p: (_digest(p), p.stat().st_mtime_ns) for p in paths} == before
    assert not list((trash.root / "info").glob("*.trashinfo"))
    assert file_actions.last_undoable() is None


def test_trash_names_do_not_clash_in_the_trash(tmp_path: Path, file_actions: FileActions) -> None:
    first = _files(tmp_path / "a", 1)[0]
    second = _files(tmp_path / "b", 1)[0]
    result = file_actions.trash([str(first), str(second)])
    assert len({d.target for d in result.done}) == 2


def test_move_keeps_relative_folders_and_never_overwrites(tmp_path: Path, file_actions: FileActions) -> None:
    root_a, root_b = tmp_path / "A" / "Photos", tmp_path / "B" / "Photos"
    sources = _files(root_a / "2020", 2) + _files(root_b / "2020", 2)
    destination = tmp_path / "dest"
    taken = destination / "Photos" / "2020" / "photo0.jpg"
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"already here")
    digests = sorted(_digest(p) for p in sources)
    result = file_actions.move([str(p) for p in sources], destination, [str(root_a), str(root_b)])
    assert not result.failed and len(result.done) == 4
    assert taken.read_bytes() == b"already here"
    landed = sorted(Path(d.target) for d in result.done)
    assert all(p.parent == destination / "Photos" / "2020" for p in landed)
    assert {p.name for p in landed} == {"photo0 (1).jpg", "photo0 (2).jpg", "photo1.jpg", "photo1 (1).jpg"}
    assert sorted(_digest(p) for p in landed) == digests


def test_undo_move_restores_and_removes_folders_it_made(tmp_path: Path, file_actions: FileActions) -> None:
    root = tmp_path / "Photos"
    sources = _files(root / "deep" / "er", 2)
    before = {p: (_digest(p), p.stat().st_mtime_ns) for p in sources}
    destination = tmp_path / "dest"
    destination.mkdir()
    file_actions.move([str(p) for p in sources], destination, [str(root)])
    assert not any(p.exists() for p in sources)
    file_actions.undo()
    assert {p: (_digest(p), p.stat().st_mtime_ns) for p in sources} == before
    assert list(destination.iterdir()) == []


def test_undo_steps_back_one_action_at_a_time(tmp_path: Path, file_actions: FileActions) -> None:
    first, second = _files(tmp_path / "p", 2)
    file_actions.trash([str(first)])
    file_actions.trash([str(second)])
    file_actions.undo()
    assert second.exists() and not first.exists()
    file_actions.undo()
    assert first.exists()
    assert file_actions.undo().done == []


def test_undo_never_overwrites_a_new_file(tmp_path: Path, file_actions: FileActions) -> None:
    path = _files(tmp_path / "p", 1)[0]
    result = file_actions.trash([str(path)])
    path.write_bytes(b"a new file took the name")
    undone = file_actions.undo()
    assert undone.failed and "now exists" in undone.failed[0].reason
    assert path.read_bytes() == b"a new file took the name"
    assert Path(result.done[0].target).exists()


def test_missing_file_is_a_failure_not_an_exception(tmp_path: Path, file_actions: FileActions) -> None:
    present = _files(tmp_path / "p", 1)[0]
    result = file_actions.trash([str(tmp_path / "gone.jpg"), str(present)])
    assert [f.path for f in result.failed] == [str(tmp_path / "gone.jpg")]
    assert len(result.done) == 1


def test_cancel_stops_between_files_and_keeps_what_was_done(
    tmp_path: Path, file_actions: FileActions
) -> None:
    paths = _files(tmp_path / "p", 4)
    job = Job(lambda event: event.done < 2, min_interval=0)
    result = file_actions.trash([str(p) for p in paths], job)
    assert result.cancelled and len(result.done) == 2
    file_actions.undo()
    assert all(p.exists() for p in paths)


class _CrashingTrash(FreedesktopTrash):
    """Trashes `survive` files, then dies the way a killed process would (mid-operation)."""

    def __init__(self, root: Path, survive: int, move_then_die: bool) -> None:
        super().__init__(root)
        self.left, self.move_then_die = survive, move_then_die

    def trash(self, path: str) -> str:
        if self.left == 0:
            if self.move_then_die:
                super().trash(path)
            raise SystemExit("killed")
        self.left -= 1
        return super().trash(path)


@pytest.mark.parametrize("move_then_die", [False, True])
def test_crash_mid_action_loses_nothing(tmp_path: Path, move_then_die: bool) -> None:
    paths = _files(tmp_path / "p", 4)
    before = {p: _digest(p) for p in paths}
    journal = tmp_path / "journal.jsonl"
    with pytest.raises(SystemExit):
        FileActions(journal, _CrashingTrash(tmp_path / "Trash", 2, move_then_die)).trash(map(str, paths))
    restarted = FileActions(journal, FreedesktopTrash(tmp_path / "Trash"))
    report = restarted.recover()
    assert len(report) == 1
    assert ("Completed" in report[0]) == move_then_die
    assert restarted.recover() == []  # settled once, never again
    restarted.undo()
    assert {p: _digest(p) for p in paths} == before


def test_recovery_finishes_a_move_interrupted_between_link_and_unlink(tmp_path: Path) -> None:
    source = _files(tmp_path / "p", 1)[0]
    target = tmp_path / "dest" / source.name
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append({"t": "begin", "id": 1, "kind": "move", "time": 0, "dest": str(target.parent)})
    journal.append(
        {
            "t": "op",
            "id": 1,
            "seq": 0,
            "src": str(source),
            "dst": str(target),
            "size": source.stat().st_size,
            "mtime_ns": source.stat().st_mtime_ns,
        }
    )
    target.parent.mkdir()
    os.link(source, target)  # the crash came before the source name was removed
    file_actions = FileActions(journal.path, FreedesktopTrash(tmp_path / "Trash"))
    assert file_actions.recover()[0].startswith("Completed")
    assert target.exists() and not source.exists()
    file_actions.undo()
    assert source.exists() and not target.exists()


def test_recovery_removes_a_partial_copy_and_keeps_the_source(tmp_path: Path) -> None:
    source = _files(tmp_path / "p", 1)[0]
    target = tmp_path / "dest" / source.name
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append({"t": "begin", "id": 1, "kind": "move", "time": 0, "dest": str(target.parent)})
    journal.append(
        {"t": "op", "id": 1, "seq": 0, "src": str(source), "dst": str(target), "size": 1, "mtime_ns": 1}
    )
    target.parent.mkdir()
    Path(str(target) + actions.PARTIAL_SUFFIX).write_bytes(b"half")
    with open(journal.path, "a") as handle:
        handle.write('{"t": "ok", "id": 1, "se')  # a torn record: the crash hit mid-write
    report = FileActions(journal.path, FreedesktopTrash(tmp_path / "Trash")).recover()
    assert report[0].startswith("Not done") and source.exists()
    assert list(target.parent.iterdir()) == []


def test_cross_drive_move_copies_then_removes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_link = os.link

    def no_cross_link(source: str, target: str, **kwargs: object) -> None:
        if not source.endswith(actions.PARTIAL_SUFFIX):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(source, target)

    monkeypatch.setattr(actions.os, "link", no_cross_link)
    source = _files(tmp_path / "p", 1)[0]
    digest, mtime = _digest(source), source.stat().st_mtime_ns
    target = tmp_path / "other" / "x.jpg"
    move_no_clobber(str(source), str(target))
    assert not source.exists() and _digest(target) == digest and target.stat().st_mtime_ns == mtime
    assert not Path(str(target) + actions.PARTIAL_SUFFIX).exists()


def test_move_no_clobber_refuses_an_existing_target(tmp_path: Path) -> None:
    source, target = _files(tmp_path, 2)
    with pytest.raises(FileExistsError):
        move_no_clobber(str(source), str(target))
    assert source.exists()


def test_free_name_and_relative_destination(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "a (1).jpg").write_bytes(b"x")
    assert free_name(tmp_path / "a.jpg") == tmp_path / "a (2).jpg"
    assert free_name(tmp_path / "b.jpg") == tmp_path / "b.jpg"
    dest = tmp_path / "d"
    assert relative_destination("/r/Photos/x/y.jpg", dest, ["/r/Photos"]) == dest / "Photos" / "x" / "y.jpg"
    assert relative_destination("/elsewhere/y.jpg", dest, ["/r/Photos"]) == dest / "y.jpg"


def test_journal_is_compacted_to_the_last_actions(tmp_path: Path, trash: FreedesktopTrash) -> None:
    file_actions = FileActions(tmp_path / "journal.jsonl", trash, keep=2)
    for path in _files(tmp_path / "p", 4):
        file_actions.trash([str(path)])
    file_actions.recover()
    ids = {json.loads(line)["id"] for line in (tmp_path / "journal.jsonl").read_text().splitlines()}
    assert ids == {3, 4}


def test_action_modules_import_no_qt() -> None:
    import subprocess
    import sys

    modules = "dupfinder.actions, dupfinder.journal, dupfinder.trash, dupfinder.ignore, dupfinder.query"
    code = (
        f"import sys; import {modules}; "
        "sys.exit(1 if any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
