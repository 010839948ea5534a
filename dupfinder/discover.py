"""Finding the picture files under the folders a user gives.

Walks roots without recursion limits, filters by extension, size, hidden and excluded paths,
never loops through symbolic links, and counts each real file once by (device, inode) so a file
reached through two paths or two overlapping roots is scanned once.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dupfinder.jobs import Job

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".bmp",
        ".gif",
        ".tif",
        ".tiff",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".tga",
        ".ico",
        ".jp2",
        ".j2k",
        ".avif",
        ".heic",
        ".heif",
    }
)


@dataclass(frozen=True)
class FoundFile:
    """A picture file to scan, with the stat facts the cache keys on."""

    path: str  # absolute, as reached (not resolved through links)
    size: int
    mtime_ns: int
    device: int
    inode: int


@dataclass
class DiscoverOptions:
    extensions: frozenset[str] = IMAGE_EXTENSIONS
    exclude: list[str] = field(default_factory=list)  # globs on the full path or the name
    min_size: int = 1
    include_hidden: bool = False
    follow_symlinks: bool = False
    recursive: bool = True


@dataclass
class DiscoverResult:
    files: list[FoundFile] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _excluded(path: str, name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in patterns)


class _Walker:
    """Depth-first walk that remembers visited directories and files by (device, inode)."""

    def __init__(self, options: DiscoverOptions, job: Job) -> None:
        self.options = options
        self.job = job
        self.seen_dirs: set[tuple[int, int]] = set()
        self.seen_files: set[tuple[int, int]] = set()
        self.result = DiscoverResult()

    def walk_root(self, root: Path) -> None:
        path = os.path.abspath(os.path.expanduser(str(root)))
        try:
            info = os.stat(path)
        except OSError as error:
            self.result.errors.append((path, f"cannot open: {error.strerror or error}"))
            return
        if stat.S_ISDIR(info.st_mode):
            self._walk_dir(path, info)
        elif stat.S_ISREG(info.st_mode):
            self._consider_file(path, os.path.basename(path), info, explicit=True)
        else:
            self.result.errors.append((path, "not a folder or a regular file"))

    def _walk_dir(self, path: str, info: os.stat_result) -> None:
        key = (info.st_dev, info.st_ino)
        if key in self.seen_dirs:
            return  # a symlink loop, or a folder reached twice
        self.seen_dirs.add(key)
        self.job.check()
        try:
            entries = sorted(os.scandir(path), key=lambda entry: entry.name)
        except OSError as error:
            self.result.errors.append((path, f"cannot list folder: {error.strerror or error}"))
            return
        for entry in entries:
            self._visit(entry)

    def _visit(self, entry: os.DirEntry[str]) -> None:
        options = self.options
        if not options.include_hidden and _is_hidden(entry.name):
            return
        if _excluded(entry.path, entry.name, options.exclude):
            return
        try:
            if entry.is_symlink() and not options.follow_symlinks:
                return
            info = entry.stat(follow_symlinks=True)
        except OSError as error:
            self.result.errors.append((entry.path, f"cannot stat: {error.strerror or error}"))
            return
        if stat.S_ISDIR(info.st_mode):
            if options.recursive:
                self._walk_dir(entry.path, info)
        elif stat.S_ISREG(info.st_mode):
            self._consider_file(entry.path, entry.name, info, explicit=False)

    def _consider_file(self, path: str, name: str, info: os.stat_result, explicit: bool) -> None:
        options = self.options
        if not explicit and os.path.splitext(name)[1].lower() not in options.extensions:
            return
        if info.st_size < options.min_size:
            return
        key = (info.st_dev, info.st_ino)
        if key in self.seen_files:
            return
        self.seen_files.add(key)
        self.result.files.append(FoundFile(path, info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino))
        self.job.progress("discover", len(self.result.files), 0, path)


def discover(
    roots: Iterable[Path | str], options: DiscoverOptions | None = None, job: Job | None = None
) -> DiscoverResult:
    """All picture files under `roots`, each real file once, in a stable order."""
    walker = _Walker(options or DiscoverOptions(), job or Job())
    for root in roots:
        walker.walk_root(Path(root))
    return walker.result
