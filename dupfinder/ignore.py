"""The "not duplicates" list: pairs of pictures the user said are different, remembered across scans.

Stored as JSON (a versioned list of path pairs) and written atomically. `prune` applies it, and
the files already moved away, to a list of groups; the neighbour graph applies it to near pairs
(`ScanResult.regroup(ignored=...)`), and `prune` covers what the graph cannot (exact copies).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from dupfinder.report import Group

log = logging.getLogger(__name__)

IGNORE_VERSION = 1

Pair = frozenset[str]


def pair(first: str, second: str) -> Pair:
    return frozenset((first, second))


class IgnoreList:
    """A set of path pairs; `path=None` keeps it in memory only."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._pairs: set[Pair] = set()
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, json.JSONDecodeError) as error:
            log.warning("ignore list %s is unreadable (%s); starting with an empty one", path, error)
            return
        for entry in payload.get("pairs", []) if isinstance(payload, dict) else []:
            if isinstance(entry, list) and len(entry) == 2 and all(isinstance(p, str) for p in entry):
                self._pairs.add(pair(entry[0], entry[1]))

    @property
    def pairs(self) -> frozenset[Pair]:
        return frozenset(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """Pairs as sorted tuples, in a stable order for display."""
        return iter(sorted(tuple(sorted(p)) for p in self._pairs))  # type: ignore[misc]

    def __contains__(self, item: object) -> bool:
        return item in self._pairs

    def add_group(self, paths: Sequence[str]) -> int:
        """Every pair within the group is "not a duplicate"; returns how many pairs were new."""
        return self._add(pair(a, b) for a, b in itertools.combinations(paths, 2))

    def add_member(self, member: str, others: Iterable[str]) -> int:
        """`member` is not a duplicate of any of `others`."""
        return self._add(pair(member, other) for other in others if other != member)

    def _add(self, pairs: Iterable[Pair]) -> int:
        before = len(self._pairs)
        self._pairs.update(p for p in pairs if len(p) == 2)
        self.save()
        return len(self._pairs) - before

    def remove(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs.difference_update(pair(a, b) for a, b in pairs)
        self.save()

    def clear(self) -> None:
        self._pairs.clear()
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": IGNORE_VERSION, "pairs": [list(p) for p in self]}
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, self.path)


def prune(
    groups: Iterable[Group],
    ignored: frozenset[Pair] = frozenset(),
    gone: frozenset[str] | set[str] = frozenset(),
) -> list[Group]:
    """Groups without members that were moved away or are ignored against the reference.

    A group left with fewer than two members disappears. When the reference itself is gone, the
    next member becomes the reference (similarities stay those measured against the old one).
    """
    pruned: list[Group] = []
    for group in groups:
        members = [m for m in group.members if m.image.path not in gone]
        if ignored and members:
            reference = members[0].image.path
            members = [members[0], *(m for m in members[1:] if pair(reference, m.image.path) not in ignored)]
        if len(members) >= 2:
            kept = (
                group if len(members) == len(group.members) else Group(group.id, group.kind, tuple(members))
            )
            pruned.append(kept)
    return pruned
