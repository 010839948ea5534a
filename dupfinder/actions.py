"""Every action on user files: move to the trash, move to a folder, undo. Journaled, never clobbering.

Before each file operation an intent record is fsynced to the journal; after it, the outcome.
At start, `recover()` finishes or rolls back what a crash interrupted and says what it did.
No operation ever replaces an existing file: name clashes get " (1)", " (2)"… suffixes.
Undo puts files back at the same path with the same bytes and modification time.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dupfinder.jobs import Cancelled, Job
from dupfinder.journal import Journal, Record
from dupfinder.trash import TrashBackend, forget_trashinfo

PARTIAL_SUFFIX = ".dupfinder-partial"


@dataclass(frozen=True)
class Done:
    source: str
    target: str
    bytes: int


@dataclass(frozen=True)
class Failed:
    path: str
    reason: str


@dataclass
class ActionResult:
    """What one action did: each file that succeeded, and each that failed with the reason."""

    action: int
    kind: str  # "trash", "move" or "undo"
    done: list[Done] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    cancelled: bool = False

    @property
    def bytes(self) -> int:
        return sum(item.bytes for item in self.done)


@dataclass
class _Op:
    seq: int
    source: str
    target: str | None
    size: int
    mtime_ns: int
    status: str = "pending"  # "pending", "ok" or "fail"
    result: str = ""


@dataclass
class _Action:
    id: int
    kind: str
    time: float
    destination: str | None
    undoes: int | None
    ops: dict[int, _Op] = field(default_factory=dict)
    ended: bool = False


@dataclass(frozen=True)
class ActionInfo:
    """An action that can be undone, described for a menu entry or a confirmation."""

    action: int
    kind: str
    files: int
    bytes: int
    time: float


def free_name(path: Path) -> Path:
    """`path` itself, or `name (1).ext`, `name (2).ext`… whichever does not exist yet."""
    candidate, number = path, 1
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        number += 1
    return candidate


def move_no_clobber(source: str, target: str) -> None:
    """Move a file; raise FileExistsError rather than replace anything at `target`.

    A hard link claims the name atomically on the same drive; across drives the bytes are copied
    to a partial file first, so a crash never leaves a half-written file under the real name.
    """
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno == errno.EXDEV:
            _copy_across(source, target)
        else:  # no hard links here (FAT, some shares): check, then rename
            _rename_if_free(source, target)
            return
    os.unlink(source)


def _rename_if_free(source: str, target: str) -> None:
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "a file already exists there", target)
    os.rename(source, target)


def _copy_across(source: str, target: str) -> None:
    partial = target + PARTIAL_SUFFIX
    with open(source, "rb") as reader, open(partial, "xb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(source, partial)
    try:
        try:
            os.link(partial, target)
        except FileExistsError:
            raise
        except OSError:
            _rename_if_free(partial, target)
            return
    except BaseException:
        os.unlink(partial)
        raise
    os.unlink(partial)


def relative_destination(path: str, destination: Path, roots: Sequence[str]) -> Path:
    """Where a file goes when moved to `destination`, keeping its folders below its scan root."""
    for root in sorted((os.path.abspath(r) for r in roots), key=len, reverse=True):
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return destination / os.path.basename(root.rstrip(os.sep)) / os.path.relpath(path, root)
    return destination / os.path.basename(path)


class FileActions:
    """Journaled trash/move/undo on user files. One instance per journal; not for two threads."""

    def __init__(self, journal_path: Path, trash: TrashBackend, keep: int = 20) -> None:
        self.journal = Journal(journal_path)
        self.trash_backend = trash
        self.keep = keep

    # -- actions ---------------------------------------------------------------------------------

    def trash(self, paths: Iterable[str], job: Job | None = None) -> ActionResult:
        """Move files to the system trash."""
        return self._run("trash", [(p, None) for p in paths], None, job)

    def move(
        self, paths: Iterable[str], destination: Path, roots: Sequence[str] = (), job: Job | None = None
    ) -> ActionResult:
        """Move files into `destination`, keeping their folders below their scan root."""
        destination = Path(os.path.abspath(destination))
        plan = [(p, relative_destination(os.path.abspath(p), destination, roots)) for p in paths]
        return self._run("move", plan, str(destination), job)

    def last_undoable(self) -> ActionInfo | None:
        """The most recent trash or move that has not been undone, if it moved anything."""
        actions = _parse(self.journal.records())
        undone = {a.undoes for a in actions.values() if a.kind == "undo"}
        for action in sorted(actions.values(), key=lambda a: a.id, reverse=True):
            if action.kind == "undo" or action.id in undone:
                continue
            moved = [op for op in action.ops.values() if op.status == "ok" and op.result]
            if moved:
                return ActionInfo(
                    action.id, action.kind, len(moved), sum(op.size for op in moved), action.time
                )
        return None

    def undo(self, job: Job | None = None) -> ActionResult:
        """Put back every file of the last undoable action, at its old path, bytes and mtime."""
        info = self.last_undoable()
        if info is None:
            return ActionResult(0, "undo")
        action = _parse(self.journal.records())[info.action]
        ops = [op for op in sorted(action.ops.values(), key=lambda o: -o.seq) if op.status == "ok"]
        result = self._run(
            "undo",
            [(op.result, op.source) for op in ops if op.result],
            None,
            job,
            undoes=action.id,
            mtimes={op.source: op.mtime_ns for op in ops},
        )
        if action.kind == "move" and action.destination:
            _remove_empty_folders({op.result for op in ops}, Path(action.destination))
        return result

    # -- running one action ----------------------------------------------------------------------

    def _run(
        self,
        kind: str,
        plan: Sequence[tuple[str, Path | str | None]],
        destination: str | None,
        job: Job | None,
        undoes: int | None = None,
        mtimes: dict[str, int] | None = None,
    ) -> ActionResult:
        job = job or Job()
        action_id = max(_parse(self.journal.records()), default=0) + 1
        self.journal.append(
            {
                "t": "begin",
                "id": action_id,
                "kind": kind,
                "time": time.time(),
                "dest": destination,
                "undoes": undoes,
            }
        )
        result = ActionResult(action_id, kind)
        try:
            for seq, (source, target) in enumerate(plan):
                job.progress(kind, seq, len(plan), source)
                job.check()
                self._one(result, seq, source, None if target is None else str(target), mtimes)
            job.progress(kind, len(plan), len(plan))
        except Cancelled:
            result.cancelled = True
        finally:
            self.journal.append({"t": "end", "id": action_id})
        return result

    def _one(
        self, result: ActionResult, seq: int, source: str, target: str | None, mtimes: dict[str, int] | None
    ) -> None:
        try:
            info = os.stat(source, follow_symlinks=False)
        except OSError as error:
            result.failed.append(Failed(source, _reason(error)))
            return
        if result.kind == "move" and target is not None:
            target = str(free_name(Path(target)))
        self.journal.append(
            {
                "t": "op",
                "id": result.action,
                "seq": seq,
                "src": source,
                "dst": target,
                "size": info.st_size,
                "mtime_ns": info.st_mtime_ns,
            }
        )
        try:
            landed = self._perform(result.kind, source, target, mtimes)
        except OSError as error:
            self.journal.append({"t": "fail", "id": result.action, "seq": seq, "reason": _reason(error)})
            result.failed.append(Failed(source, _reason(error)))
            return
        self.journal.append({"t": "ok", "id": result.action, "seq": seq, "dst": landed})
        result.done.append(Done(source, landed, info.st_size))

    def _perform(self, kind: str, source: str, target: str | None, mtimes: dict[str, int] | None) -> str:
        if kind == "trash":
            return self.trash_backend.trash(source)
        assert target is not None
        if kind == "undo" and os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, f"a file now exists at {target}; the file stays at {source}")
        move_no_clobber(source, target)
        if kind == "undo":
            forget_trashinfo(source)
            _restore_mtime(target, (mtimes or {}).get(target))
        return target

    # -- crash recovery --------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or roll back operations a crash interrupted; one line per thing done.

        Also drops actions older than the last `keep` from the journal.
        """
        actions = _parse(self.journal.records())
        lines: list[str] = []
        for action in sorted(actions.values(), key=lambda a: a.id):
            for op in action.ops.values():
                if op.status == "pending":
                    lines.append(self._recover_op(action, op))
            if not action.ended:
                self.journal.append({"t": "end", "id": action.id})
        self._compact()
        return lines

    def _recover_op(self, action: _Action, op: _Op) -> str:
        outcome, detail = self._settle(action.kind, op)
        record: Record = {"t": outcome, "id": action.id, "seq": op.seq, "recovered": True}
        record.update({"dst": detail} if outcome == "ok" else {"reason": detail})
        self.journal.append(record)
        verb = {"trash": "moving to the trash", "move": "moving", "undo": "restoring"}[action.kind]
        if outcome == "ok":
            return f"Completed {verb} {op.source} (now at {detail})"
        return f"Not done: {verb} {op.source}: {detail}"

    def _settle(self, kind: str, op: _Op) -> tuple[str, str]:
        """("ok", where the file is) or ("fail", why), judged from what is on disk now."""
        source_there = os.path.lexists(op.source)
        if kind == "trash":
            if source_there:
                return "fail", "interrupted before the file was touched; it is still in place"
            found = self.trash_backend.locate(op.source)
            if found:
                return "ok", found
            return "fail", "no longer in place and not found in the trash; look in the system trash"
        assert op.target is not None
        partial = op.target + PARTIAL_SUFFIX
        if os.path.lexists(partial):
            os.unlink(partial)  # an unfinished copy; the source is intact
        target_there = os.path.lexists(op.target)
        if source_there and target_there and _same_bytes(op.source, op.target):
            os.unlink(op.source)  # both names hold the same file: finish the move
            source_there = False
        if target_there and not source_there:
            if kind == "undo":
                forget_trashinfo(op.source)
            return "ok", op.target
        if source_there:
            return "fail", "interrupted before the file was moved; it is still in place"
        return "fail", f"found neither at {op.source} nor at {op.target}"

    def _compact(self) -> None:
        records = self.journal.records()
        ids = sorted({r["id"] for r in records if r.get("t") == "begin"})
        kept = set(ids[-self.keep :]) if self.keep > 0 else set()
        if len(kept) < len(ids):
            self.journal.rewrite([r for r in records if r.get("id") in kept])


def _parse(records: list[Record]) -> dict[int, _Action]:
    """The journal's records folded into actions and their operations."""
    actions: dict[int, _Action] = {}
    for record in records:
        kind, action = record.get("t"), actions.get(record.get("id", -1))
        if kind == "begin":
            actions[record["id"]] = _Action(
                record["id"],
                record["kind"],
                record.get("time", 0.0),
                record.get("dest"),
                record.get("undoes"),
            )
        elif action is None:
            continue
        elif kind == "op":
            action.ops[record["seq"]] = _Op(
                record["seq"],
                record["src"],
                record.get("dst"),
                record.get("size", 0),
                record.get("mtime_ns", 0),
            )
        elif kind in ("ok", "fail") and record.get("seq") in action.ops:
            op = action.ops[record["seq"]]
            op.status, op.result = kind, record.get("dst", "") if kind == "ok" else ""
        elif kind == "end":
            action.ended = True
    return actions


def _restore_mtime(path: str, mtime_ns: int | None) -> None:
    if mtime_ns is not None and os.stat(path).st_mtime_ns != mtime_ns:
        os.utime(path, ns=(os.stat(path).st_atime_ns, mtime_ns))


def _same_bytes(first: str, second: str) -> bool:
    try:
        if os.path.samefile(first, second):
            return True
        if os.path.getsize(first) != os.path.getsize(second):
            return False
        with open(first, "rb") as a, open(second, "rb") as b:
            while True:
                block_a, block_b = a.read(1 << 20), b.read(1 << 20)
                if block_a != block_b:
                    return False
                if not block_a:
                    return True
    except OSError:
        return False


def _remove_empty_folders(files: Iterable[str], stop: Path) -> None:
    """After undoing a move, remove the folders it created that are now empty (not `stop`)."""
    for file in files:
        folder = Path(file).parent
        while folder != stop and stop in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _reason(error: OSError) -> str:
    text = error.strerror or str(error) or type(error).__name__
    return text[0].upper() + text[1:] if text else "unknown error"
