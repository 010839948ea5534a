"""Marking, keep rules and the clean-up actions, with the confirmations each one needs.

The file operations themselves are `dupfinder.actions` (journaled, never clobbering, undoable);
this module decides when to ask, runs them off the UI thread and reports what happened.
A group is never fully marked, nor emptied by an action, without an explicit confirmation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from dupfinder.actions import ActionResult, FileActions
from dupfinder.jobs import Job, Progress
from dupfinder.report import Group

from .dialogs import rich_list
from .marking import RULES
from .prompts import Prompts
from .review import Review
from .tasks import Tasks
from .text import human_bytes, plural

VERBS = {"trash": "moved to the trash", "move": "moved", "undo": "put back"}


class Cleanup(QObject):
    marksChanged = Signal(object)  # a group id, or None for every group
    filesGone = Signal(list)
    filesBack = Signal(list)
    busyChanged = Signal(bool)
    undoChanged = Signal(str)  # the Undo entry's text; "" when there is nothing to undo
    message = Signal(str)

    def __init__(self, actions: FileActions, prompts: Prompts, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.actions, self.prompts = actions, prompts
        self.tasks = Tasks(self, threads=1)
        self.tasks.busyChanged.connect(self.busyChanged.emit)
        self.review: Review | None = None

    @property
    def busy(self) -> bool:
        return self.tasks.busy

    # -- marking ----------------------------------------------------------------------------------

    def mark(self, paths: list[str], on: bool) -> bool:
        """Mark or unmark files; asks before a group would have every file marked."""
        review = self.review
        if review is None or not paths:
            return False
        if on:
            refused = [p for p in paths if review.is_protected(p)]
            if refused:
                self.message.emit(f"{plural(len(refused), 'file')} in a reference folder: never marked")
            paths = [p for p in paths if p not in refused]
            if not self._confirm_full(review, paths):
                return False
        changed = {p for p in paths if review.marks.mark(p, on)}
        for group_id in {g.id for p in changed if (g := review.group_of(p)) is not None}:
            self.marksChanged.emit(group_id)
        return bool(changed)

    def _confirm_full(self, review: Review, paths: list[str]) -> bool:
        groups = {g.id: g for p in paths if (g := review.group_of(p)) is not None}
        full = [g for g in groups.values() if review.marks.would_empty(g, paths)]
        if not full:
            return True
        return self.prompts.confirm(
            "Mark every file of the group?",
            f"This would mark all {len(full[0].members)} files of group {full[0].id}: if you then "
            "trash or move them, no copy of this picture is kept.",
            action="Mark all",
            danger=True,
        )

    def apply_rule(self, rule: str) -> None:
        review = self.review
        if review is None:
            return
        count = review.marks.apply_rule(review.groups, rule)
        self.marksChanged.emit(None)
        self.message.emit(f"{RULES[rule].label}: {plural(count, 'file')} marked")

    def clear_marks(self) -> None:
        if self.review is not None:
            self.review.marks.clear()
            self.marksChanged.emit(None)

    # -- actions ----------------------------------------------------------------------------------

    def _marked(self) -> tuple[list[str], int] | None:
        """The marked files, once the user agreed to empty any fully marked group."""
        review = self.review
        records = review.marks.marked_in(review.groups) if review else []
        if review is None or not records:
            self.prompts.inform(
                "Nothing is marked",
                "Mark files first: Space on a picture, or a "
                "rule from the Mark menu (for example “Keep the largest resolution”).",
            )
            return None
        full: list[Group] = review.marks.fully_marked(review.groups)
        if full and not self.prompts.confirm(
            "Some groups would be emptied",
            f"In {plural(len(full), 'group')} every file is marked, so no copy of those "
            "pictures would be kept. Go on anyway?",
            details="\n".join(g.reference.image.path for g in full),
            action="Go on",
            danger=True,
        ):
            return None
        return [r.path for r in records], sum(r.bytes for r in records)

    def trash_marked(self) -> None:
        chosen = self._marked()
        if chosen is None:
            return
        paths, size = chosen
        if self.prompts.confirm(
            "Move to the trash",
            f"Move {plural(len(paths), 'file')} ({human_bytes(size)}) to the trash? You can undo this.",
            details="\n".join(paths),
            action="Move to Trash",
        ):
            self._run("trash", lambda job: self.actions.trash(paths, job))

    def move_marked(self) -> None:
        chosen = self._marked()
        if chosen is None or self.review is None:
            return
        paths, size = chosen
        destination = self.prompts.choose_folder("Move the marked files to…")
        if destination is None:
            return
        roots = list(self.review.result.report.roots)
        if self.prompts.confirm(
            "Move to a folder",
            f"Move {plural(len(paths), 'file')} ({human_bytes(size)}) to "
            f"{destination}? Their folders below the scanned folder are kept, "
            "and a name already taken gets a “ (1)” suffix: nothing is "
            "overwritten. You can undo this.",
            details="\n".join(paths),
            action="Move",
        ):
            self._run("move", lambda job: self.actions.move(paths, Path(destination), roots, job))

    def undo(self) -> None:
        if self.actions.last_undoable() is not None:
            self._run("undo", lambda job: self.actions.undo(job), quiet=True)

    def undo_text(self) -> str:
        info = self.actions.last_undoable()
        if info is None:
            return ""
        verb = "move to the trash" if info.kind == "trash" else "move to a folder"
        when = time.strftime("%H:%M", time.localtime(info.time))
        return f"Undo {verb} of {plural(info.files, 'file')} ({when})"

    def _run(self, kind: str, function: Callable[[Job], ActionResult], quiet: bool = False) -> None:
        def progress(event: Progress) -> None:
            self.message.emit(f"{event.done:,} / {event.total:,}: {event.current}")

        job = Job(progress, min_interval=0.1)
        self.tasks.submit(
            lambda: function(job),
            lambda result: self._finished(result, quiet),
            lambda error: self._crashed(kind, error),
        )

    def _finished(self, result: ActionResult, quiet: bool) -> None:
        if result.kind == "undo":
            self.filesBack.emit([item.target for item in result.done])
        else:
            self.filesGone.emit([item.source for item in result.done])
        self.undoChanged.emit(self.undo_text())
        summary = f"{plural(len(result.done), 'file')} ({human_bytes(result.bytes)}) {VERBS[result.kind]}."
        self.message.emit(summary)
        if result.failed or not quiet:
            failed = [f"{item.path}: {item.reason}" for item in result.failed]
            text = summary + (
                f"<br><br><b>{plural(len(failed), 'file')} failed:</b>{rich_list(failed)}" if failed else ""
            )
            done = "\n".join(f"{item.source} → {item.target}" for item in result.done)
            self.prompts.inform(
                "Done" if not failed else "Done, with failures",
                text,
                details=done + ("\n\nFailed:\n" + "\n".join(failed) if failed else ""),
                warning=bool(failed),
            )

    def _crashed(self, kind: str, error: BaseException) -> None:
        self.undoChanged.emit(self.undo_text())
        self.prompts.inform(
            "Action stopped",
            f"The {kind} action stopped: {error}. Files already "
            "handled are in the journal; Undo puts them back.",
            warning=True,
        )
