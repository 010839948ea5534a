"""Discovery: extensions, hidden and excluded paths, size filter, symlink loops, one file once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dupfinder.discover import DiscoverOptions, discover
from dupfinder.jobs import Cancelled, Job


def _touch(path: Path, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def _names(root: Path, **options: object) -> list[str]:
    result = discover([root], DiscoverOptions(**options))  # type: ignore[arg-type]
    return sorted(os.path.relpath(found.path, root) for found in result.files)


def test_finds_pictures_by_extension_recursively(tmp_path: Path) -> None:
    _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "sub" / "deeper" / "b.PNG")
    _touch(tmp_path / "notes.txt")
    assert _names(tmp_path) == ["a.jpg", os.path.join("sub", "deeper", "b.PNG")]


def test_hidden_files_and_folders_skipped_unless_asked(tmp_path: Path) -> None:
    _touch(tmp_path / ".hidden.jpg")
    _touch(tmp_path / ".thumbs" / "c.jpg")
    _touch(tmp_path / "shown.jpg")
    assert _names(tmp_path) == ["shown.jpg"]
    assert len(_names(tmp_path, include_hidden=True)) == 3


def test_excluded_globs_match_names_and_paths(tmp_path: Path) -> None:
    _touch(tmp_path / "keep.jpg")
    _touch(tmp_path / "skip_me.jpg")
    _touch(tmp_path / "cache" / "x.jpg")
    assert _names(tmp_path, exclude=["skip_*", str(tmp_path / "cache")]) == ["keep.jpg"]


def test_min_size_filters_small_files(tmp_path: Path) -> None:
    _touch(tmp_path / "tiny.jpg", 5)
    _touch(tmp_path / "big.jpg", 500)
    assert _names(tmp_path, min_size=100) == ["big.jpg"]


def test_symlink_loop_terminates_and_is_not_followed_by_default(tmp_path: Path) -> None:
    _touch(tmp_path / "a" / "p.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    assert _names(tmp_path) == [os.path.join("a", "p.jpg")]
    assert _names(tmp_path, follow_symlinks=True) == [os.path.join("a", "p.jpg")]


def test_same_file_through_two_paths_counted_once(tmp_path: Path) -> None:
    original = _touch(tmp_path / "photos" / "p.jpg")
    os.link(original, tmp_path / "photos" / "hardlink.jpg")
    os.symlink(tmp_path / "photos", tmp_path / "alias")
    result = discover(
        [tmp_path / "photos", tmp_path / "alias", tmp_path], DiscoverOptions(follow_symlinks=True)
    )
    assert len(result.files) == 1


def test_missing_root_is_an_error_record_not_an_exception(tmp_path: Path) -> None:
    result = discover([tmp_path / "nope"])
    assert result.files == []
    assert result.errors and "cannot open" in result.errors[0][1]


def test_explicit_file_root_is_taken(tmp_path: Path) -> None:
    picture = _touch(tmp_path / "single.jpg")
    assert [found.path for found in discover([picture]).files] == [str(picture)]


def test_cancel_stops_the_walk(tmp_path: Path) -> None:
    for index in range(5):
        _touch(tmp_path / f"d{index}" / "p.jpg")
    job = Job()
    job.cancel()
    with pytest.raises(Cancelled):
        discover([tmp_path], job=job)
