"""Which files are marked for clean-up, and the rules that mark every group at once. No Qt here.

Files in reference folders are never marked. A rule keeps one file per group (or, for the
reference rule, the files in reference folders) and marks the others, so a rule never empties a
group; marking by hand can, and the window asks before it lets that happen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dupfinder.grouping import quality_key
from dupfinder.report import Group, ImageRecord


@dataclass(frozen=True)
class Rule:
    label: str
    key: Callable[[ImageRecord], Any] | None  # the file with the smallest key is kept


RULES: dict[str, Rule] = {
    "largest": Rule("Keep the largest resolution", lambda r: (-r.pixels, quality_key(r))),
    "biggest": Rule("Keep the biggest file", lambda r: (-r.bytes, quality_key(r))),
    "oldest": Rule("Keep the oldest", lambda r: (r.mtime, quality_key(r))),
    "newest": Rule("Keep the newest", lambda r: (-r.mtime, quality_key(r))),
    "reference": Rule("Keep the ones in reference folders", None),
    "shortest": Rule("Keep the shortest path", lambda r: (len(r.path), r.path)),
}


class Marks:
    """A set of marked paths; `protected(path)` says which files may never be marked."""

    def __init__(self, protected: Callable[[str], bool] | None = None) -> None:
        self.protected = protected or (lambda path: False)
        self._marked: set[str] = set()

    def __len__(self) -> int:
        return len(self._marked)

    def is_marked(self, path: str) -> bool:
        return path in self._marked

    def mark(self, path: str, marked: bool) -> bool:
        """Mark or unmark one file; returns whether anything changed (protected files never mark)."""
        if marked and (self.protected(path) or path in self._marked):
            return False
        if not marked and path not in self._marked:
            return False
        (self._marked.add if marked else self._marked.discard)(path)
        return True

    def clear(self) -> None:
        self._marked.clear()

    def forget(self, paths: Iterable[str]) -> None:
        self._marked.difference_update(paths)

    def drop_protected(self) -> None:
        """Unmark files that became protected (their folder was made a reference)."""
        self._marked = {p for p in self._marked if not self.protected(p)}

    def count_in(self, group: Group) -> int:
        return sum(member.image.path in self._marked for member in group.members)

    def would_empty(self, group: Group, adding: Iterable[str]) -> bool:
        """Whether marking `adding` too would leave no file of `group` unmarked."""
        after = self._marked | set(adding)
        return all(member.image.path in after for member in group.members)

    def apply_rule(self, groups: Iterable[Group], rule: str) -> int:
        """Re-mark every group by `rule`; returns how many files are marked in those groups."""
        chosen = RULES[rule]
        total = 0
        for group in groups:
            records = [member.image for member in group.members]
            keep = self._keepers(records, chosen)
            if keep is None:
                continue  # the rule has no opinion on this group: leave it as it is
            self._marked.difference_update(r.path for r in records)
            marked = [r.path for r in records if r.path not in keep and not self.protected(r.path)]
            self._marked.update(marked)
            total += len(marked)
        return total

    def _keepers(self, records: list[ImageRecord], rule: Rule) -> set[str] | None:
        if rule.key is None:
            kept = {r.path for r in records if self.protected(r.path)}
            return kept or None
        return {min(records, key=rule.key).path}

    def marked_in(self, groups: Iterable[Group]) -> list[ImageRecord]:
        """The marked files among `groups`, in group order."""
        return [m.image for g in groups for m in g.members if m.image.path in self._marked]

    def fully_marked(self, groups: Iterable[Group]) -> list[Group]:
        return [g for g in groups if all(m.image.path in self._marked for m in g.members)]


def in_folders(path: str, folders: Iterable[str]) -> bool:
    """Whether `path` is one of `folders` or lies below one of them."""
    for folder in folders:
        base = os.path.abspath(folder).rstrip(os.sep)
        if path == base or path.startswith(base + os.sep):
            return True
    return False
