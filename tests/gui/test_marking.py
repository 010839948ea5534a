"""Keep rules and marks (no Qt needed): each rule keeps what it says and never empties a group."""

from __future__ import annotations

import pytest

from dupfinder.gui.marking import RULES, Marks, in_folders
from dupfinder.report import Group, ImageRecord, Member

# Three groups whose best file differs by rule (see each rule's expectation below).
ORIGINAL_0 = ImageRecord("/p/2023/IMG_0.jpg", 320, 240, 30_000, 100.0)
BACKUP_0 = ImageRecord("/p/backup/IMG_0.jpg", 320, 240, 30_000, 500.0)  # exact copy, newer
ORIGINAL_2 = ImageRecord("/p/2023/IMG_2.jpg", 320, 240, 28_000, 200.0)
SMALL_2 = ImageRecord("/p/small/IMG_2_small.jpg", 160, 120, 9_000, 50.0)  # smaller, but oldest
ORIGINAL_3 = ImageRecord("/p/2023/IMG_3.jpg", 320, 240, 12_000, 300.0)
PNG_3 = ImageRecord("/p/edited/IMG_3.png", 320, 240, 90_000, 400.0)  # same pixels, more bytes

GROUPS = [
    Group(1, "exact", (Member(ORIGINAL_0, 1.0), Member(BACKUP_0, 1.0))),
    Group(2, "near", (Member(ORIGINAL_2, 1.0), Member(SMALL_2, 0.97))),
    Group(3, "near", (Member(PNG_3, 1.0), Member(ORIGINAL_3, 0.99))),
]

KEPT = {
    "largest": {ORIGINAL_0, ORIGINAL_2, PNG_3},  # ties on pixels fall back to bytes, then age
    "biggest": {ORIGINAL_0, ORIGINAL_2, PNG_3},
    "oldest": {ORIGINAL_0, SMALL_2, ORIGINAL_3},
    "newest": {BACKUP_0, ORIGINAL_2, PNG_3},
    "shortest": {ORIGINAL_0, ORIGINAL_2, ORIGINAL_3},
}


@pytest.mark.parametrize("rule", sorted(KEPT))
def test_each_rule_keeps_one_file_per_group(rule: str) -> None:
    marks = Marks()
    assert marks.apply_rule(GROUPS, rule) == 3
    kept = {m.image for g in GROUPS for m in g.members if not marks.is_marked(m.image.path)}
    assert kept == KEPT[rule]
    assert marks.fully_marked(GROUPS) == []


def test_reference_rule_keeps_reference_folders_and_leaves_other_groups_alone() -> None:
    marks = Marks(lambda path: in_folders(path, ["/p/backup"]))
    marks.mark(SMALL_2.path, True)
    assert marks.apply_rule(GROUPS, "reference") == 1
    assert marks.is_marked(ORIGINAL_0.path) and not marks.is_marked(BACKUP_0.path)
    assert marks.is_marked(SMALL_2.path)  # group 2 has no reference file: untouched
    assert not marks.is_marked(PNG_3.path) and not marks.is_marked(ORIGINAL_3.path)


def test_rules_replace_the_marks_of_the_groups_they_decide() -> None:
    marks = Marks()
    marks.apply_rule(GROUPS, "oldest")
    marks.apply_rule(GROUPS, "newest")
    assert {p for g in GROUPS for m in g.members if marks.is_marked(p := m.image.path)} == {
        ORIGINAL_0.path,
        SMALL_2.path,
        ORIGINAL_3.path,
    }


def test_files_in_reference_folders_are_never_marked() -> None:
    marks = Marks(lambda path: in_folders(path, ["/p/2023"]))
    assert not marks.mark(ORIGINAL_0.path, True)
    assert marks.apply_rule(GROUPS, "newest") == 1  # only SMALL_2: the 2023 files are protected
    assert not any(marks.is_marked(r.path) for r in (ORIGINAL_0, ORIGINAL_2, ORIGINAL_3))
    assert marks.is_marked(PNG_3.path) is False and marks.is_marked(SMALL_2.path)


def test_would_empty_and_fully_marked() -> None:
    marks = Marks()
    marks.mark(ORIGINAL_0.path, True)
    assert marks.would_empty(GROUPS[0], [BACKUP_0.path])
    assert not marks.would_empty(GROUPS[1], [SMALL_2.path])
    marks.mark(BACKUP_0.path, True)
    assert marks.fully_marked(GROUPS) == [GROUPS[0]]
    assert [r.path for r in marks.marked_in(GROUPS)] == [ORIGINAL_0.path, BACKUP_0.path]
    marks.drop_protected()
    assert len(marks) == 2
    marks.forget([ORIGINAL_0.path])
    assert marks.count_in(GROUPS[0]) == 1


def test_in_folders_matches_whole_folder_names() -> None:
    assert in_folders("/p/backup/x.jpg", ["/p/backup/"])
    assert not in_folders("/p/backup2/x.jpg", ["/p/backup"])
    assert set(RULES) == {"largest", "biggest", "oldest", "newest", "reference", "shortest"}
