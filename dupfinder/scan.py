"""The scan pipeline: discover → cache lookup → decode (pool) → embed (batches) → cache → group.

Decoding runs in a thread pool (Pillow releases the GIL) while the calling thread runs inference
on the previous batch, so decoding and inference overlap. Errors about one file become records in
the report. Cancelling keeps what was done: the cache stays consistent and the partial groups are
returned.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dupfinder import hashing
from dupfinder.cache import CachedImage, ContentKey, EmbeddingCache
from dupfinder.chroma import is_colourless
from dupfinder.discover import DiscoverOptions, FoundFile, discover
from dupfinder.embedder import Embedder
from dupfinder.grouping import AlignedPair, NeighbourGraph
from dupfinder.imaging import DecodedImage, DecodeError, load_for_model
from dupfinder.jobs import Cancelled, Job
from dupfinder.phash import compared_views
from dupfinder.report import FileError, ImageRecord, Report
from dupfinder.views import is_portrait, turned_inputs


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@dataclass
class ScanOptions:
    roots: list[Path]
    discover: DiscoverOptions = field(default_factory=DiscoverOptions)
    threshold: float | None = None  # min similarity; None means the model card's default
    workers: int = field(default_factory=default_workers)
    batch_size: int = 32
    # Also embed portrait pictures turned a quarter each way, to find copies turned in their
    # pixels: two more inferences per portrait picture, so a first scan of portrait photos takes
    # 1.4 to 1.8 times as long (`python -m benchmarks.throughput`). The pHash rule then also takes
    # every picture's pHash turned (no extra work), which finds square pictures turned as well.
    # Off unless asked for: the other arrows of a set of arrow icons are turns of each other.
    turned_copies: bool = False
    # Also embed six regions of each picture (`dupfinder.views.REGIONS`), to find copies cropped to
    # a part of it: up to six more inferences per picture, so a first scan on a 2-core CPU takes
    # about three times as long (99 against 277 images/s, `python -m benchmarks.throughput`). Off
    # unless asked for.
    cropped_copies: bool = False
    # Also accept a pair a little below the threshold whose pHashes agree once one picture is
    # mirrored (`dupfinder.phash.hash_views`), to find mirrored copies: no extra work, but a
    # mirror-image design (a left and a right arrow) is then taken for a copy too. Off unless asked
    # for. (With `turned_copies` the pHashes of the turns count as well.)
    mirrored_copies: bool = False
    # Also check the pairs just below the threshold (from the card's alignment rule's floor) for one
    # picture being a crop, tilt or frame of the other (`dupfinder.alignment`): both files are
    # decoded again, 10 to 20 ms a pair on one core, so a first scan of a folder with many near
    # pairs takes far longer (the accuracy benchmark's, 21 copies of every original: 240 s against
    # 32; the corpus's 6,708 training pictures, nearly all unrelated: 40 s against 28; the cache
    # keeps the answers for a rescan). Off unless asked for, and only with a card that has the rule.
    aligned_copies: bool = False


@dataclass
class ScanResult:
    """The report plus the neighbour graph and vectors, so a GUI can regroup or query."""

    report: Report
    graph: NeighbourGraph
    vectors: np.ndarray

    def regroup(self, threshold: float, ignored: frozenset[frozenset[str]] = frozenset()) -> Report:
        """The same scan grouped at another threshold, without reading any file."""
        return replace(self.report, threshold=threshold, groups=self.graph.groups(threshold, ignored))


@dataclass
class _Collected:
    """What a scan gathers per picture, in step: record, embedding, content key, pHash, the
    embedding of a picture pasted into it (None for all but screenshots), the embeddings of
    the picture turned a quarter each way (None for all but portrait pictures), its colour
    signature, the embeddings of its regions (None unless cropped copies are looked for) and its
    pHashes mirrored and turned."""

    records: list[ImageRecord] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    keys: list[ContentKey] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)
    inner: list[np.ndarray | None] = field(default_factory=list)
    turned: list[np.ndarray | None] = field(default_factory=list)
    chromas: list[int] = field(default_factory=list)
    regions: list[np.ndarray | None] = field(default_factory=list)
    hash_views: list[tuple[int, ...]] = field(default_factory=list)

    def add(
        self,
        record: ImageRecord,
        vector: np.ndarray,
        key: ContentKey,
        phash: int,
        inner: np.ndarray | None,
        turned: np.ndarray | None,
        chroma: int,
        regions: np.ndarray | None,
        hash_views: tuple[int, ...],
    ) -> None:
        self.records.append(record)
        self.vectors.append(vector)
        self.keys.append(key)
        self.hashes.append(phash)
        self.inner.append(inner)
        self.turned.append(turned)
        self.chromas.append(chroma)
        self.regions.append(regions)
        self.hash_views.append(hash_views)


@dataclass
class _Pending:
    found: FoundFile
    key: ContentKey


class Scanner:
    """Runs scans with one embedder and one cache; reusable across scans."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache

    def scan(self, options: ScanOptions, job: Job | None = None) -> ScanResult:
        job = job or Job()
        started = time.monotonic()
        threshold = self.embedder.card.default_threshold if options.threshold is None else options.threshold
        report = Report(
            self.embedder.card.name,
            self.embedder.sha256,
            threshold,
            self.embedder.device,
            [os.path.abspath(str(r)) for r in options.roots],
        )
        collected = _Collected()
        try:
            found = discover(options.roots, options.discover, job)
            report.errors.extend(FileError(p, e) for p, e in found.errors)
            report.stats.files = len(found.files)
            self._collect(found.files, options, job, report, collected)
        except Cancelled:
            report.cancelled = True
        finally:
            self.cache.commit()
        records, vectors = collected.records, collected.vectors
        matrix = np.stack(vectors) if vectors else np.zeros((0, self.embedder.card.embedding_dim), np.float32)
        exact = [] if report.cancelled else self._exact_clusters(records, collected.keys, job)
        job.progress("group", 0, 1)
        graph = NeighbourGraph(
            records,
            matrix,
            exact,
            floor=min(threshold, 0.5),
            threads=options.workers,
            hashes=collected.hashes,
            confirm=self.embedder.card.confirm_rule,
            hash_views=collected.hash_views,
            compared_views=compared_views(options.mirrored_copies, options.turned_copies),
            colours=collected.chromas,
            inner=collected.inner,
            turned=collected.turned,
            regions=collected.regions,
            alignment=self.embedder.card.alignment_rule,
        )
        keys = dict(zip((record.path for record in records), collected.keys))
        self._align(graph, keys, options, threshold, job, report)
        report.groups = graph.groups(threshold)
        job.progress("group", 1, 1)
        report.stats.images = len(records)
        report.stats.errors = len(report.errors)
        report.stats.seconds = time.monotonic() - started
        return ScanResult(report, graph, matrix)

    def _align(
        self,
        graph: NeighbourGraph,
        keys: dict[str, ContentKey],
        options: ScanOptions,
        threshold: float,
        job: Job,
        report: Report,
    ) -> None:
        """Score the pairs just below the threshold by their aligned shared part (from the cache
        when these contents were aligned before), when the card and the options ask for it; a
        cancel stops here and keeps the pairs scored so far."""
        rule = self.embedder.card.alignment_rule
        if not options.aligned_copies or rule is None or report.cancelled:
            return
        from dupfinder.alignment import ALIGNMENT_VERSION, PairAligner  # OpenCV loads only when needed

        card = self.embedder.card
        aligner = PairAligner(
            self.embedder.embed,
            card.input_size,
            card.resize,
            quarter_turns=options.turned_copies,
            mirrored=options.mirrored_copies,
        )

        views = f"v{ALIGNMENT_VERSION} turns={options.turned_copies:d} mirrors={options.mirrored_copies:d}"
        model = self.embedder.cache_key

        cache_lock = threading.Lock()  # pairs are aligned on `options.workers` threads; one cache

        def align(first: str, second: str) -> AlignedPair | None:
            with cache_lock:
                known, found = self.cache.alignment(keys[first], keys[second], model, views)
            if not known:
                found = aligner.align(first, second)
                with cache_lock:
                    self.cache.store_alignment(keys[first], keys[second], model, views, found)
            return found

        def progress(done: int, total: int) -> None:
            job.progress("align", done, total)
            job.check()

        try:
            graph.align(align, rule.floor, threshold, progress, workers=options.workers)
        except Cancelled:
            report.cancelled = True
        finally:
            self.cache.commit()

    def _collect(
        self, files: list[FoundFile], options: ScanOptions, job: Job, report: Report, out: _Collected
    ) -> None:
        """Fill `out` from the cache and by decoding and embedding the misses."""
        model = self.embedder.cache_key
        misses: list[_Pending] = []
        with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="decode") as pool:
            for found, key in self._keys(files, pool, job, report):
                cached = self.cache.image(key, model)
                if (
                    cached is None
                    or (options.turned_copies and _lacks_turns(cached))
                    or (options.cropped_copies and cached.regions is None)
                ):
                    misses.append(_Pending(found, key))
                    continue
                self.cache.remember_path(found.path, key)
                out.add(
                    _record(found, cached.width, cached.height, cached.picture_share, cached.chroma),
                    cached.vector,
                    key,
                    cached.phash,
                    cached.inner,
                    cached.turned if options.turned_copies else None,
                    cached.chroma,
                    cached.regions if options.cropped_copies else None,
                    cached.phash_views,
                )
                report.stats.cached += 1
            job.progress("embed", report.stats.cached, len(files))
            for batch in self._decoded_batches(misses, pool, options, job, report):
                for (pending, image), vector, inner, turned, regions in zip(
                    batch, *self._embed(batch, options.turned_copies)
                ):
                    self.cache.store_image(
                        pending.key,
                        model,
                        image.width,
                        image.height,
                        vector,
                        image.phash,
                        inner,
                        image.picture_share,
                        turned,
                        image.chroma,
                        regions,
                        image.phash_views,
                    )
                    self.cache.remember_path(pending.found.path, pending.key)
                    out.add(
                        _record(pending.found, image.width, image.height, image.picture_share, image.chroma),
                        vector,
                        pending.key,
                        image.phash,
                        inner,
                        turned,
                        image.chroma,
                        regions,
                        image.phash_views,
                    )
                self.cache.commit()
                job.progress(
                    "embed", len(out.records) + len(report.errors), len(files), batch[-1][0].found.path
                )

    def _embed(
        self, batch: list[tuple[_Pending, DecodedImage]], turned_copies: bool
    ) -> tuple[np.ndarray, list[np.ndarray | None], list[np.ndarray | None], list[np.ndarray | None]]:
        """Whole-picture vectors, inner-picture vectors for the screenshots, (with
        `turned_copies`) turned vectors for the portrait pictures and the region vectors of the
        pictures decoded with regions, in one inference."""
        count = len(batch)
        framed = [i for i, (_, image) in enumerate(batch) if image.inner is not None]
        portrait = [
            i
            for i, (_, image) in enumerate(batch)
            if turned_copies and is_portrait(image.width, image.height)
        ]
        pixels = [image.pixels for _, image in batch]
        pixels += [batch[i][1].inner for i in framed]  # type: ignore[misc]
        pixels += [turn for i in portrait for turn in turned_inputs(batch[i][1].pixels)]
        region_counts = [0 if image.regions is None else len(image.regions) for _, image in batch]
        pixels += [part for _, image in batch if image.regions is not None for part in image.regions]
        embedded = self.embedder.embed(np.stack(pixels))
        inner: list[np.ndarray | None] = [None] * count
        for offset, i in enumerate(framed):
            inner[i] = embedded[count + offset]
        turned: list[np.ndarray | None] = [None] * count
        start = count + len(framed)
        for offset, i in enumerate(portrait):
            turned[i] = embedded[start + 2 * offset : start + 2 * offset + 2]
        regions: list[np.ndarray | None] = [None] * count
        start += 2 * len(portrait)
        for i, (_, image) in enumerate(batch):
            if image.regions is not None:
                regions[i] = embedded[start : start + region_counts[i]]
                start += region_counts[i]
        return embedded[:count], inner, turned, regions

    def _keys(
        self, files: list[FoundFile], pool: ThreadPoolExecutor, job: Job, report: Report
    ) -> Iterator[tuple[FoundFile, ContentKey]]:
        """Content keys: from the cache when the path is unchanged, else by fingerprinting."""
        unknown: list[FoundFile] = []
        for found in files:
            fingerprint = self.cache.known_fingerprint(found.path, found.size, found.mtime_ns)
            if fingerprint is None:
                unknown.append(found)
            else:
                yield found, ContentKey(fingerprint, found.size, found.mtime_ns)

        def fingerprint_of(found: FoundFile) -> str:
            return hashing.fingerprint(found.path, found.size)

        for index, (found, result) in enumerate(zip(unknown, pool.map(_catching(fingerprint_of), unknown))):
            job.check()
            job.progress("hash", index + 1, len(unknown), found.path)
            if isinstance(result, str):
                yield found, ContentKey(result, found.size, found.mtime_ns)
            else:
                report.errors.append(FileError(found.path, result.args[0]))

    def _decoded_batches(
        self, misses: list[_Pending], pool: ThreadPoolExecutor, options: ScanOptions, job: Job, report: Report
    ) -> Iterator[list[tuple[_Pending, DecodedImage]]]:
        """Decoded pictures in batches, decoding ahead while the caller runs inference."""
        size, mode = self.embedder.card.input_size, self.embedder.card.resize
        batch_size, regions = options.batch_size, options.cropped_copies
        window: deque[tuple[_Pending, Future[DecodedImage | _Failure]]] = deque()
        source = iter(misses)
        batch: list[tuple[_Pending, DecodedImage]] = []
        decode = _catching(
            lambda p: load_for_model(Path(p.found.path), size, mode, find_inner=True, find_regions=regions)  # type: ignore[arg-type]
        )
        try:
            while True:
                while len(window) < batch_size * 3 and (pending := next(source, None)) is not None:
                    window.append((pending, pool.submit(decode, pending)))
                if not window:
                    break
                pending, future = window.popleft()
                job.check()
                result = future.result()
                if isinstance(result, _Failure):
                    report.errors.append(FileError(pending.found.path, result.args[0]))
                else:
                    batch.append((pending, result))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            for _, future in window:
                future.cancel()

    def _exact_clusters(
        self, records: list[ImageRecord], keys: list[ContentKey], job: Job
    ) -> list[list[int]]:
        """Indices of byte-identical files, hashing only where sizes and fingerprints collide."""
        index_of = {record.path: i for i, record in enumerate(records)}
        key_of = {record.path: keys[i] for i, record in enumerate(records)}

        def full_hash(path: str) -> str | None:
            job.progress("hash", 0, 0, path)
            key = key_of[path]
            digest = self.cache.content_hash(key)
            if digest is None:
                try:
                    digest = hashing.content_hash(path)
                except OSError:
                    return None
                self.cache.store_content_hash(key, digest)
            return digest

        clusters = hashing.exact_clusters(
            {r.path: r.bytes for r in records}, full_hash, lambda path: key_of[path].fingerprint
        )
        self.cache.commit()
        return [[index_of[path] for path in cluster] for cluster in clusters]


def _lacks_turns(cached: CachedImage) -> bool:
    """A portrait picture cached by a scan that did not ask for turned copies."""
    return cached.turned is None and is_portrait(cached.width, cached.height)


class _Failure(Exception):
    """A per-file failure carried back from a worker thread as a value."""


def _catching(function):  # type: ignore[no-untyped-def]
    """Run `function` in a worker, turning a per-file error into a `_Failure` value."""

    def wrapped(argument):  # type: ignore[no-untyped-def]
        try:
            return function(argument)
        except DecodeError as error:
            return _Failure(str(error))
        except OSError as error:
            return _Failure(f"cannot read: {error.strerror or error}")

    return wrapped


def _record(
    found: FoundFile, width: int, height: int, picture_share: float = 1.0, chroma: int | None = None
) -> ImageRecord:
    colourless = chroma is not None and is_colourless(chroma)
    return ImageRecord(found.path, width, height, found.size, found.mtime_ns / 1e9, picture_share, colourless)
