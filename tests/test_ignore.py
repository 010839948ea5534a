"""The "not duplicates" list: persisted pairs, and pruning groups with it."""

from __future__ import annotations

from pathlib import Path

from dupfinder.ignore import IgnoreList, pair, prune
from dupfinder.report import Group, ImageRecord, Member


def _group(group_id: int, *paths: str, kind: str = "near") -> Group:
    members = tuple(
        Member(ImageRecord(p, 10, 10, 100, 0.0), 1.0 if i == 0 else 0.95) for i, p in enumerate(paths)
    )
    return Group(group_id, kind, members)  # type: ignore[arg-type]


def test_pairs_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ignored.json"
    ignore = IgnoreList(path)
    assert ignore.add_group(["/a", "/b", "/c"]) == 3
    assert ignore.add_member("/d", ["/a", "/d"]) == 1
    again = IgnoreList(path)
    assert again.pairs == ignore.pairs and pair("/a", "/d") in again
    assert next(iter(again)) == ("/a", "/b")


def test_remove_and_clear(tmp_path: Path) -> None:
    path = tmp_path / "ignored.json"
    ignore = IgnoreList(path)
    ignore.add_group(["/a", "/b", "/c"])
    ignore.remove([("/b", "/a")])
    assert pair("/a", "/b") not in IgnoreList(path) and len(IgnoreList(path)) == 2
    ignore.clear()
    assert len(IgnoreList(path)) == 0


def test_unreadable_file_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "ignored.json"
    path.write_text("{not json")
    assert len(IgnoreList(path)) == 0
    path.write_text('{"pairs": [["/a"], ["/a", 3], ["/a", "/b"]]}')
    assert IgnoreList(path).pairs == {pair("/a", "/b")}


def test_prune_drops_gone_and_ignored_members() -> None:
    groups = [_group(1, "/a", "/b", "/c", kind="exact"), _group(2, "/d", "/e"), _group(3, "/f", "/g")]
    pruned = prune(groups, frozenset({pair("/a", "/b")}), {"/e"})
    assert [g.id for g in pruned] == [1, 3]
    assert [m.image.path for m in pruned[0].members] == ["/a", "/c"]
    assert pruned[1] is groups[2]


def test_prune_promotes_the_next_member_when_the_reference_is_gone() -> None:
    pruned = prune([_group(1, "/a", "/b", "/c")], gone={"/a"})
    assert pruned[0].reference.image.path == "/b" and len(pruned[0].members) == 2
