"""The state of reviewing one scan, kept apart from widgets so it can be tested without Qt.

It holds the scan result, the current threshold, the "not duplicates" list, the files moved away
since the scan and the marks, and derives the groups the window shows from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from dupfinder.ignore import IgnoreList, prune
from dupfinder.report import Group, Report
from dupfinder.scan import ScanResult

from .marking import Marks, in_folders


class Review:
    """One scan under review; `groups` is what the window lists."""

    def __init__(
        self,
        result: ScanResult,
        ignore: IgnoreList,
        references: Sequence[str] = (),
        threshold: float | None = None,
    ) -> None:
        self.result = result
        self.ignore = ignore
        self.references = [str(r) for r in references]
        self.marks = Marks(self.is_protected)
        self.gone: set[str] = set()
        self.threshold = result.report.threshold
        self._grouped: list[Group] = []
        self.groups: list[Group] = []
        self.set_threshold(self.threshold if threshold is None else threshold)

    @property
    def floor(self) -> float:
        """The lowest threshold the scan's neighbour graph can regroup at."""
        return self.result.graph.floor

    def is_protected(self, path: str) -> bool:
        return in_folders(path, self.references)

    def set_threshold(self, threshold: float) -> None:
        """Regroup at another minimum similarity, from the graph (no file is read)."""
        self.threshold = min(1.0, max(self.floor, threshold))
        self._grouped = self.result.regroup(self.threshold, self.ignore.pairs).groups
        self.refresh()

    def refresh(self) -> None:
        self.groups = prune(self._grouped, self.ignore.pairs, self.gone)

    def not_duplicates(self, group: Group) -> None:
        """The whole group is not duplicates: remember every pair and regroup."""
        self.ignore.add_group([m.image.path for m in group.members])
        self.marks.forget(m.image.path for m in group.members)
        self.set_threshold(self.threshold)

    def not_duplicate(self, group: Group, path: str) -> None:
        """One member is not a duplicate of the others."""
        self.ignore.add_member(path, [m.image.path for m in group.members])
        self.marks.forget([path])
        self.set_threshold(self.threshold)

    def moved_away(self, paths: Iterable[str]) -> None:
        """Files trashed or moved: they leave the groups (and come back on undo)."""
        paths = set(paths)
        self.gone |= paths
        self.marks.forget(paths)
        self.refresh()

    def came_back(self, paths: Iterable[str]) -> None:
        self.gone -= set(paths)
        self.refresh()

    def carry_marks(self, earlier: Marks) -> int:
        """Keep an earlier scan's marks on files that are still in a group; returns how many.

        A mark that would leave a group with every copy marked is not carried: a rescan may have
        grouped differently, and the clean-up must always keep one copy of each picture.
        """
        carried = 0
        for group in self.groups:
            marked = [m.image.path for m in group.members if earlier.is_marked(m.image.path)]
            if marked and not self.marks.would_empty(group, marked):
                carried += sum(self.marks.mark(path, True) for path in marked)
        return carried

    def report(self, groups: Sequence[Group] | None = None) -> Report:
        """The groups as shown (or `groups`, a filtered part), in the CLI's report structure."""
        chosen = self.groups if groups is None else groups
        return replace(self.result.report, threshold=self.threshold, groups=list(chosen))

    def group_of(self, path: str) -> Group | None:
        return next((g for g in self.groups if any(m.image.path == path for m in g.members)), None)
