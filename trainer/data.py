"""Training data: the three data modes, their checks, and how a batch is drawn and rendered.

- folders (default): unlabelled pictures (folders, or .txt files listing one picture a line); a
  positive is an augmented view of the same picture, negatives are the other pictures of the
  batch (self-supervised).
- classes: one sub-folder per class; a positive is another picture of the class (or an augmented
  view when the class has one picture).
- csv: rows `anchor,positive`, `anchor,positive,negative` or `first,second,label` (1 same, 0
  different). Paths are relative to the CSV's folder. Pictures linked by positive rows share an
  identity (union-find), so a batch never takes a known duplicate for a negative.

Every view is decoded with the engine's own function and resized with its own resize, so training
sees what inference sees. This module imports neither Keras nor TensorFlow: it runs in the data
worker processes, which must start fast and stay small.
"""

from __future__ import annotations

import csv
import signal
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from dupfinder.discover import IMAGE_EXTENSIONS, DiscoverOptions, discover
from dupfinder.imaging import DecodeError, open_oriented_rgb
from trainer.neighbours import Neighbours, grouped_order
from trainer.policy import Strength, make_view

MODES: tuple[str, ...] = ("folders", "classes", "csv")


class DataError(Exception):
    """Training data that cannot be used; the message says what is wrong and where."""


@dataclass(frozen=True)
class DataSet:
    """Pictures, their identities, and the rows a batch is drawn from."""

    mode: str
    paths: tuple[str, ...]
    labels: tuple[int, ...]  # identity of each picture
    rows: tuple[tuple[int, ...], ...]  # picture indices: (anchor,) or (anchor, positive[, negative])
    sources: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason) of unreadable files
    members: dict[int, tuple[int, ...]] = field(default_factory=dict)  # identity → pictures

    @property
    def views_per_row(self) -> int:
        return 3 if self.rows and len(self.rows[0]) == 3 else 2

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "sources": list(self.sources),
            "pictures": len(self.paths),
            "identities": len(set(self.labels)),
            "rows": len(self.rows),
            "skipped": len(self.skipped),
        }


def _readable(path: str) -> str | None:
    """None when Pillow recognises the file, else the reason (header check: fast, no full decode)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
        return None if width > 0 and height > 0 else "empty picture"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        return f"not a readable picture ({error.__class__.__name__})"


def _check_readable(
    paths: list[str], where: str, workers: int = 8
) -> tuple[list[str], list[tuple[str, str]]]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reasons = list(pool.map(_readable, paths))
    good = [p for p, r in zip(paths, reasons) if r is None]
    bad = [(p, r) for p, r in zip(paths, reasons) if r is not None]
    if paths and not good:
        raise DataError(
            f"none of the {len(paths)} files in {where} could be read as a picture "
            f"(first: {bad[0][0]}: {bad[0][1]})"
        )
    return good, bad


def _pictures_in(folder: Path) -> list[str]:
    """Pictures under a folder, or listed one per line in a .txt file (as `fit` writes heldout.txt)."""
    if not folder.exists():
        raise DataError(f"data path {folder} does not exist")
    if folder.is_file() and folder.suffix.lower() == ".txt":
        lines = folder.read_text(encoding="utf-8").splitlines()
        return [str((folder.parent / line.strip()).resolve()) for line in lines if line.strip()]
    found = discover([folder], DiscoverOptions())
    return [f.path for f in found.files]


def _no_pictures(folder: Path) -> DataError:
    extensions = ", ".join(sorted(IMAGE_EXTENSIONS)[:8])
    return DataError(f"no pictures found in {folder} (looked for {extensions}, ...)")


def load_folders(sources: list[Path]) -> DataSet:
    """Unlabelled pictures: each its own identity."""
    paths, skipped = [], []
    for source in sources:
        found = _pictures_in(source)
        if not found:
            raise _no_pictures(source)
        good, bad = _check_readable(found, str(source))
        paths += good
        skipped += bad
    if len(paths) < 2:
        raise DataError(
            f"need at least 2 readable pictures to train (negatives are other pictures), "
            f"found {len(paths)} in {', '.join(map(str, sources))}"
        )
    index = tuple(range(len(paths)))
    return DataSet(
        "folders",
        tuple(paths),
        index,
        tuple((i,) for i in index),
        tuple(map(str, sources)),
        tuple(skipped),
        {i: (i,) for i in index},
    )


def load_classes(sources: list[Path]) -> DataSet:
    """One sub-folder per class under each source; a class may hold a single picture."""
    paths: list[str] = []
    labels: list[int] = []
    skipped: list[tuple[str, str]] = []
    names: list[str] = []
    for source in sources:
        if not source.is_dir():
            raise DataError(f"data path {source} is not a folder of class sub-folders")
        for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found = _pictures_in(folder)
            if not found:
                continue
            good, bad = _check_readable(found, str(folder))
            skipped += bad
            paths += good
            labels += [len(names)] * len(good)
            names.append(f"{source.name}/{folder.name}")
    if not paths:
        raise DataError(
            f"no class sub-folders with pictures in {', '.join(map(str, sources))} "
            f"(classes mode expects DATA/<class>/<pictures>)"
        )
    if len(names) < 2:
        raise DataError(
            f"need at least 2 classes to train (negatives come from other classes), found 1: "
            f"{names[0]} with {len(paths)} picture(s)"
        )
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[label].append(index)
    return DataSet(
        "classes",
        tuple(paths),
        tuple(labels),
        tuple((i,) for i in range(len(paths))),
        tuple(map(str, sources)),
        tuple(skipped),
        {k: tuple(v) for k, v in members.items()},
    )


def _csv_rows(source: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(source, newline="", encoding="utf-8") as handle:
            rows = [
                [cell.strip() for cell in row] for row in csv.reader(handle) if any(c.strip() for c in row)
            ]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read CSV {source}: {error}") from error
    if not rows:
        raise DataError(f"CSV {source} is empty")
    header = [c.lower() for c in rows[0]]
    known = {("anchor", "positive"), ("anchor", "positive", "negative"), ("first", "second", "label")}
    if tuple(header) in known:
        return header, rows[1:]
    width = len(rows[0])
    if width == 3 and all(row[2] in ("0", "1") for row in rows if len(row) == 3):
        return ["first", "second", "label"], rows
    return (["anchor", "positive"] if width == 2 else ["anchor", "positive", "negative"]), rows


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def load_csv(sources: list[Path]) -> DataSet:
    """Pair or triplet lists; pictures joined by positive rows share an identity."""
    index: dict[str, int] = {}
    rows: list[tuple[int, ...]] = []
    links = _UnionFind()
    kinds = set()
    for source in sources:
        header, body = _csv_rows(source)
        kinds.add(len(header))
        for number, row in enumerate(body, start=2 if header else 1):
            if len(row) != len(header):
                raise DataError(
                    f"{source}, line {number}: expected {len(header)} columns "
                    f"({','.join(header)}), found {len(row)}"
                )
            pictures = row[:2] if header[-1] == "label" else row
            ids = tuple(index.setdefault(str((source.parent / p).resolve()), len(index)) for p in pictures)
            if header[-1] != "label" or row[2] == "1":
                links.union(ids[0], ids[1])
            rows.append(ids)
    if len(kinds) > 1:
        raise DataError("all CSV files of one run must have the same columns (pairs or triplets)")
    paths = list(index)
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise DataError(f"{len(missing)} picture(s) named in the CSV do not exist, e.g. {missing[0]}")
    _, bad = _check_readable(paths, ", ".join(map(str, sources)))
    if bad:
        raise DataError(
            f"{len(bad)} picture(s) named in the CSV cannot be read, e.g. {bad[0][0]}: {bad[0][1]}"
        )
    labels = tuple(links.find(i) for i in range(len(paths)))
    if len(set(labels)) < 2:
        raise DataError("the CSV links every picture into one identity: there are no negatives to learn from")
    return DataSet("csv", tuple(paths), labels, tuple(rows), tuple(map(str, sources)))


def load_data(sources: list[Path], mode: str | None = None) -> DataSet:
    """Load and check training data; mode None means csv for .csv files, else folders."""
    if not sources:
        raise DataError("no data given: pass one or more folders (or CSV files)")
    sources = [Path(s).expanduser() for s in sources]
    if mode is None:
        mode = "csv" if all(s.suffix.lower() == ".csv" for s in sources) else "folders"
    if mode not in MODES:
        raise DataError(f"Invalid value for `mode`: expected one of {MODES}, received: mode={mode!r}")
    return {"folders": load_folders, "classes": load_classes, "csv": load_csv}[mode](sources)


def split_rows(data: DataSet, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for training and validation; folder modes split by identity, so no leak."""
    if not 0 <= fraction < 1:
        raise ValueError(f"Invalid value for `val_split`: expected in [0, 1), received: val_split={fraction}")
    rng = np.random.default_rng([seed, 7])
    rows = np.arange(len(data.rows))
    keys = np.array([data.labels[r[0]] for r in data.rows]) if data.mode != "csv" else rows
    unique = rng.permutation(np.unique(keys))
    held = set(unique[: round(len(unique) * fraction)].tolist())
    is_val = np.array([k in held for k in keys], bool)
    if is_val.sum() < 2 or (~is_val).sum() < 2:
        return rows, rows[:0]
    return rows[~is_val], rows[is_val]


@dataclass(frozen=True)
class Renderer:
    """Turns (epoch, batch index) into a batch of views: pure, so any process can render any batch."""

    data: DataSet
    rows: tuple[int, ...]  # the rows this split draws from
    batch_size: int  # rows (anchors) per batch
    image_size: int
    seed: int
    resize: str = "stretch"
    min_crop_area: float = 0.4
    # Per position in `rows`: positions of look-alikes to batch with it (`trainer.neighbours`).
    neighbours: Neighbours | None = None

    def steps(self) -> int:
        return max(1, len(self.rows) // self.batch_size)

    def batch_rows(self, epoch: int, index: int) -> list[int]:
        if self.neighbours is not None:
            order = grouped_order(self.neighbours, self.seed, epoch)
        else:
            order = _permutation(len(self.rows), self.seed, epoch)
        start = index * self.batch_size
        return [self.rows[order[(start + k) % len(order)]] for k in range(self.batch_size)]

    def render(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(M, S, S, 3) uint8 views, (M,) int32 identity labels, and how many rows failed to decode."""
        views: list[np.ndarray] = []
        labels: list[int] = []
        failures = 0
        for slot, row in enumerate(self.batch_rows(epoch, index)):
            rng = np.random.default_rng([self.seed, epoch, index, slot])
            for attempt in range(len(self.data.rows)):
                try:
                    pair = self._row_views(self.data.rows[(row + attempt) % len(self.data.rows)], rng)
                    break
                except DecodeError:
                    failures += 1  # a file that broke since the check: another row takes its place
            else:
                raise DataError("no picture of the data set can be decoded any more")
            views += [v for v, _ in pair]
            labels += [label for _, label in pair]
        return np.stack(views), np.asarray(labels, np.int32), failures

    def _source(self, picture: int) -> Image.Image:
        image, _, _ = open_oriented_rgb(Path(self.data.paths[picture]), draft_size=2 * self.image_size)
        image.thumbnail((4 * self.image_size, 4 * self.image_size), Image.Resampling.BILINEAR)
        return image

    def _view(self, picture: int, rng: np.random.Generator, strength: Strength) -> tuple[np.ndarray, int]:
        pixels = make_view(
            self._source(picture), rng, strength, self.image_size, self.resize, self.min_crop_area
        )
        return pixels, self.data.labels[picture]

    def _row_views(self, row: tuple[int, ...], rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
        if self.data.mode == "csv":
            return [self._view(picture, rng, "light") for picture in row]
        anchor = row[0]
        source = self._source(anchor)
        label = self.data.labels[anchor]
        others = [p for p in self.data.members.get(label, (anchor,)) if p != anchor]
        first = (make_view(source, rng, "light", self.image_size, self.resize, self.min_crop_area), label)
        if others:
            return [first, self._view(int(rng.choice(others)), rng, "light")]
        return [
            first,
            (make_view(source, rng, "full", self.image_size, self.resize, self.min_crop_area), label),
        ]


@lru_cache(maxsize=4)
def _permutation(count: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 11]).permutation(count)


# --- worker side: renderers are installed once per process, jobs name them by key ---------------

_RENDERERS: dict[str, Renderer] = {}


def install_renderers(renderers: dict[str, Renderer]) -> None:
    """Process-pool initializer: the data set travels to each worker once, not with every job.

    Workers ignore Ctrl-C: the main process catches it and saves a checkpoint, then stops them.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _RENDERERS.update(renderers)


def render_batch(key: str, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray, int]:
    return _RENDERERS[key].render(epoch, index)
