"""Accuracy: dupfinder's model against perceptual hashing on real held-out pictures.

Originals come from the corpus's test split (never used for training or threshold calibration).
Each original is turned into derived files by the named transforms of `trainer.tiers`, in three
tiers; the rest of the test split serves as unrelated distractors, and the corpus's list of
similar-but-different pairs (same scene twice, one design in two colour schemes) must not be
grouped. Every method sees the same files and is judged on the same pairs:

- positives: (original, derived copy) pairs;
- negatives: every pair of files from different sources (so a false match anywhere counts).

Derived files that came out as one flat colour (`is_blank`) are left out and counted.
Originals are unrelated to one another: at most one comes from a numbered or coloured series
(`sibling_key`); its look-alikes stay in as distractors, so a false match with them still counts.

Methods: dupfinder's model alone at its card's threshold (every pair scored on its own, one
embedding per file); the model with second looks (a screenshot's pasted picture, a portrait
picture's quarter turns, each against the other file's whole picture); the engine as users see it,
by default, with `--turned-copies`, with `--mirrored-copies` and with `--turned-copies
--cropped-copies` (the same model and threshold, plus exact-copy clusters, second looks and the
grouping rules of `dupfinder.grouping`, including the card's pHash confirmation of pairs just below
the threshold, with the pHashes turned or mirrored where the option asks for them: a pair counts as
found when both files land in one group); and pHash and dHash (the `imagehash` package) at Hamming
distance <= 10, the common default. Random crops of the originals (`benchmarks.random_crops`) check
whether finding cropped copies carries over to crops the tiers do not name.

`--split val --calibrate` runs the same protocol on the validation split instead and writes the
threshold that reaches the target pair precision there into the model's card, then the widest pHash
confirmation rule that keeps that precision: both are chosen on exactly the kind of population the
test split then measures, never on the test split.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmarks import random_crops
from benchmarks.pairs import (
    PairSet,
    counts_at,
    evaluate_method,
    loosest_threshold,
    most_precise_threshold,
    negative_scores,
    positive_scores,
)
from dupfinder.chroma import is_colourless
from dupfinder.embedder import Embedder
from dupfinder.grouping import AlignedPair, Aligner, AlignmentRule, HashConfirm, NeighbourGraph
from dupfinder.hashing import content_hash, exact_clusters, fingerprint, safe
from dupfinder.imaging import DecodeError, load_for_model, open_oriented_rgb
from dupfinder.modelcard import card_path_for
from dupfinder.models import find_model
from dupfinder.phash import compared_views
from dupfinder.report import ImageRecord
from dupfinder.views import is_landscape, is_portrait, turned_inputs

TIER_LEVELS: dict[str, tuple[str, ...]] = {
    "easy": ("jpeg-q25", "half-size", "thumbnail-320", "png", "webp"),
    "medium": (
        "centre-crop-80",
        "offcentre-crop-60",
        "brightness-contrast",
        "greyscale",
        "blur",
        "text-watermark",
        "letterbox",
        "pillarbox",
        "rot90",
        "exif-rotation",
    ),
    "hard": ("crop-40", "rotate-10", "hflip", "combo", "screenshot", "aspect-stretch"),
}
GATES = {"precision": 0.99, "easy": 0.99, "medium": 0.95, "hard": 0.85, "over_phash_points": 20.0}
HASH_MAX_DISTANCE = 10
DEFAULT_CORPUS = Path.home() / ".cache" / "dupfinder" / "corpus"
# The pHash confirmation rules `--calibrate` tries: similarity margins below the threshold, bits.
CONFIRM_MARGINS = (0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20)
CONFIRM_DISTANCES = tuple(range(0, 11))
# Calibration pools this many draws of val originals; negatives below the floor are dropped
# (they cannot change precision at any threshold above it).
CALIBRATION_DRAWS = 5
CALIBRATION_FLOOR = 0.5
GRAPH_FLOOR = 0.5  # the lowest threshold a benchmark's graph groups at, as a scan's
# Halvings of the interval when a scan needs a higher threshold than the model alone.
THRESHOLD_HALVINGS = 8
# pHash rules whose scan-level precision calibration checks, most promising first, before giving up.
MOST_ENGINE_TRIES = 12
# Pairs from a floor up to the threshold are aligned (`dupfinder.alignment`); for each floor, the
# bar their aligned parts must reach is the loosest of these that keeps the scans' precision, and
# the floor and bar with the most recall are chosen (the higher floor on a tie: fewer pairs to align).
ALIGN_FLOORS = (0.8, 0.75, 0.7)
ALIGN_BARS = (0.999, 0.997, 0.995, 0.99, 0.985, 0.98, 0.975, 0.97, 0.96, 0.95)
# Pair precision (what `hash_confirm_candidates` screens by) knows neither the colour veto nor
# grouping, which a scan's check applies; rules this far below the target still reach that check,
# after those at the target. On the validation split with Moon pairs, no rule reached the target by
# pairs, and the first within 0.002 (2 bits within 0.15) kept a scan at 0.9919.
PAIR_SCREEN_SLACK = 0.002
# A derived file whose grey levels vary less than this (standard deviation, 0..255, at about
# BLANK_SIDE pixels) is blank.
BLANK_STD = 2.0
BLANK_SIDE = 64
# Words that tell members of one series apart (see `sibling_key`).
DIRECTION_WORDS = ("left", "right", "up", "down", "top", "bottom")
COLOUR_WORDS = ("black", "blue", "green", "grey", "gray", "orange", "pink", "purple", "red", "white")
SERIES_WORDS = frozenset((*DIRECTION_WORDS, *COLOUR_WORDS, "yellow", "dark", "light"))


@dataclass
class BenchFiles:
    """Every file the benchmark scores, and which source picture each one comes from."""

    paths: list[Path]
    source: np.ndarray  # source id per file; distractors each have their own
    is_original: np.ndarray
    transform: list[str]  # "" for originals and distractors
    hard_negatives: list[tuple[int, int, str]]
    blank: list[Path]  # derived files left out: one flat colour (`is_blank`)


def _split_pictures(corpus: Path, split: str) -> tuple[list[Path], list[tuple[Path, Path, str]]]:
    """The split's pictures and its similar-but-different pairs (only those inside the split, so
    calibrating on val never sees a test picture)."""
    pictures = sorted((corpus / "images" / split).glob("*.jpg"))
    inside = set(pictures)
    pairs: list[tuple[Path, Path, str]] = []
    listing = corpus / "hard_negatives.csv"
    if listing.exists():
        with listing.open(newline="") as handle:
            for row in csv.DictReader(handle):
                a, b = corpus / row["file_a"], corpus / row["file_b"]
                if a in inside and b in inside:
                    pairs.append((a, b, row.get("why", "")))
    return pictures, pairs


def sibling_key(picture: Path) -> str:
    """What a picture's name says once numbers, colours and directions are left out.

    Packages ship numbered or coloured series (moon00…moon31, arrow-left-yellow / arrow-right-green,
    jigsaw_blue_10 / _11): look-alikes that are neither copies nor unrelated. Two of them as
    originals would weigh one look-alike pair once per pair of their variants (21 × 21), so at most
    one original comes from each series; the rest stay in as distractors.
    """
    package, _, name = picture.stem.partition("__")
    words = [w for w in re.split(r"[\W_]+", re.sub(r"\d+", " ", name.lower())) if w]
    return "|".join([package, *(w for w in words if w not in SERIES_WORDS)])


def build_files(corpus: Path, work: Path, originals: int, seed: int, split: str = "test") -> BenchFiles:
    """Write the derived files (once; reused across runs) and list everything to score."""
    from trainer.tiers import TIERS

    pictures, hard = _split_pictures(corpus, split)
    if split != "test":
        work = work / split
    in_hard = {p for a, b, _ in hard for p in (a, b)}
    candidates = [p for p in pictures if p not in in_hard]
    order = np.random.default_rng(seed).permutation(len(candidates))
    chosen: list[Path] = []
    series: set[str] = set()
    rest: list[Path] = []
    for i in order:
        key = sibling_key(candidates[i])
        if len(chosen) < originals and key not in series:
            chosen.append(candidates[i])
            series.add(key)
        else:
            rest.append(candidates[i])
    distractors = rest + sorted(in_hard)
    paths, source, is_original, transform = [], [], [], []
    blank: list[Path] = []
    for index, original in enumerate(chosen):
        paths.append(original)
        source.append(index)
        is_original.append(True)
        transform.append("")
        picture, _, _ = open_oriented_rgb(original)
        for level in TIER_LEVELS.values():
            for name in level:
                tier = TIERS[name]
                target = work / name / f"{original.stem}{tier.extension}"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tier.apply(picture))
                if is_blank(target):
                    blank.append(target)
                    continue
                paths.append(target)
                source.append(index)
                is_original.append(False)
                transform.append(name)
    for offset, distractor in enumerate(distractors):
        paths.append(distractor)
        source.append(len(chosen) + offset)
        is_original.append(False)
        transform.append("")
    position = {p: i for i, p in enumerate(paths)}
    hard_pairs = [(position[a], position[b], why) for a, b, why in hard if a in position and b in position]
    return BenchFiles(paths, np.array(source), np.array(is_original), transform, hard_pairs, blank)


def series_keys(files: BenchFiles) -> list[str]:
    """Per file, its source picture's series (`sibling_key`): what the precision and recall
    intervals draw whole (`benchmarks.pairs.bootstrap_intervals`, `benchmarks.compare`)."""
    picture: dict[int, Path] = {}
    for path, source in zip(files.paths, files.source):
        picture.setdefault(int(source), path)  # a source's first file is its original
    return [sibling_key(picture[int(source)]) for source in files.source]


def series_clusters(files: BenchFiles) -> np.ndarray:
    """`series_keys` as numbers 0, 1, …"""
    return np.unique(np.array(series_keys(files)), return_inverse=True)[1]


def is_blank(path: Path) -> bool:
    """Whether a derived file came out as one flat colour (a crop inside a plain area, a light
    design brightened to white). Such a file is no recognisable copy of its original and is the same
    as every other blank of its colour, so it tests nothing and is left out."""
    with Image.open(path) as image:
        image.draft("L", (BLANK_SIDE, BLANK_SIDE))
        grey = image.convert("L")
        grey.thumbnail((BLANK_SIDE, BLANK_SIDE), Image.Resampling.BOX)
        return float(np.asarray(grey, np.float32).std()) < BLANK_STD


@dataclass
class ViewLooks:
    """Second looks as matrices (zeros where a file has none), for scoring every pair at once."""

    inner: np.ndarray
    has_inner: np.ndarray
    turned: np.ndarray  # (2, files, dim)
    has_turned: np.ndarray
    landscape: np.ndarray


@dataclass
class Embedded:
    """What the engine's decode and model give for each file."""

    vectors: np.ndarray
    sizes: list[tuple[int, int]]
    hashes: np.ndarray  # the engine's own pHash (uint64), as the cache stores it
    inner: list[np.ndarray | None]  # a screenshot's inner-picture vector, None for other files
    turned: list[np.ndarray | None]  # a portrait picture's two turned vectors, None for others
    chromas: list[int]  # colour signatures (`dupfinder.chroma`), as the cache stores them
    regions: list[np.ndarray | None]  # region vectors (R, D) per file, None unless asked for
    hash_views: list[tuple[int, ...]]  # pHashes mirrored and turned (`dupfinder.phash.VIEWS`)
    shares: list[float]  # of each picture's area, what lies inside letterbox/pillarbox bars

    def looks(self) -> ViewLooks:
        """Second looks as matrices, for scoring every pair at once."""
        dim = self.vectors.shape[1]
        has_inner = np.array([v is not None for v in self.inner], bool)
        inner = np.zeros_like(self.vectors)
        if has_inner.any():
            inner[has_inner] = np.stack([v for v in self.inner if v is not None])
        has_turned = np.array([v is not None for v in self.turned], bool)
        turned = np.zeros((2, len(self.vectors), dim), np.float32)
        if has_turned.any():
            turned[:, has_turned] = np.stack([v for v in self.turned if v is not None], axis=1)
        landscape = np.array([is_landscape(w, h) for w, h in self.sizes], bool)
        return ViewLooks(inner, has_inner, turned, has_turned, landscape)


def embed_files(
    paths: list[Path], embedder: Embedder, workers: int, second_looks: bool = True, regions: bool = False
) -> Embedded:
    """Model embeddings through the engine's own decode path, each file's pixel size and pHash,
    with `second_looks` the vector of a picture pasted into a screenshot (as every scan) and a
    portrait picture's vectors turned a quarter each way (as a scan with `--turned-copies`), and
    with `regions` the vectors of each picture's regions (as a scan with `--cropped-copies`)."""
    size, mode = embedder.card.input_size, embedder.card.resize
    Decoded = tuple[
        np.ndarray, tuple[int, int], int, np.ndarray | None, int, np.ndarray | None, tuple[int, ...], float
    ]

    def decode(path: Path) -> Decoded:
        try:
            d = load_for_model(path, size, mode, second_looks, regions)  # type: ignore[arg-type]
            shape = (d.width, d.height)
            return d.pixels, shape, d.phash, d.inner, d.chroma, d.regions, d.phash_views, d.picture_share
        except DecodeError:
            return np.zeros((size, size, 3), np.uint8), (0, 0), 0, None, 0, None, (), 1.0

    def embed(pixels: list[np.ndarray]) -> np.ndarray:
        if not pixels:
            return np.zeros((0, embedder.card.embedding_dim), np.float32)
        return np.vstack([embedder.embed(np.stack(pixels[i : i + 64])) for i in range(0, len(pixels), 64)])

    with ThreadPoolExecutor(workers) as pool:
        decoded = list(pool.map(decode, paths))
    vectors = embed([d[0] for d in decoded])
    framed = [i for i, d in enumerate(decoded) if d[3] is not None]
    inner_vectors = embed([decoded[i][3] for i in framed])  # type: ignore[misc]
    inner: list[np.ndarray | None] = [None] * len(paths)
    for row, i in enumerate(framed):
        inner[i] = inner_vectors[row]
    portrait = [i for i, d in enumerate(decoded) if second_looks and is_portrait(*d[1])]
    turned_vectors = embed([turn for i in portrait for turn in turned_inputs(decoded[i][0])])
    turned: list[np.ndarray | None] = [None] * len(paths)
    for row, i in enumerate(portrait):
        turned[i] = turned_vectors[2 * row : 2 * row + 2]
    counts = [0 if d[5] is None else len(d[5]) for d in decoded]
    region_vectors = embed([part for d in decoded if d[5] is not None for part in d[5]])
    starts = np.cumsum([0, *counts])
    parts: list[np.ndarray | None] = [
        None if d[5] is None else region_vectors[starts[i] : starts[i + 1]] for i, d in enumerate(decoded)
    ]
    hashes = np.array([d[2] for d in decoded], np.uint64)
    chromas, hash_views = [d[4] for d in decoded], [d[6] for d in decoded]
    shares = [d[7] for d in decoded]
    return Embedded(
        vectors, [d[1] for d in decoded], hashes, inner, turned, chromas, parts, hash_views, shares
    )


def view_scores(vectors: np.ndarray, looks: ViewLooks) -> Callable[[np.ndarray], np.ndarray]:
    """Pair scores counting second looks as the engine links them: the best of whole-to-whole,
    each side's screenshot picture against the other's whole picture, and each portrait side's
    turns against the other's whole picture when that one is landscape."""

    def rows(r: np.ndarray) -> np.ndarray:
        best = vectors[r] @ vectors.T
        pairs = [(looks.inner, looks.has_inner[r][:, None], looks.has_inner[None, :])]
        for turn in looks.turned:
            mine = looks.has_turned[r][:, None] & looks.landscape[None, :]
            theirs = looks.has_turned[None, :] & looks.landscape[r][:, None]
            pairs.append((turn, mine, theirs))
        for view, mine, theirs in pairs:
            best = np.maximum(best, np.where(mine, view[r] @ vectors.T, -1.0))
            best = np.maximum(best, np.where(theirs, vectors[r] @ view.T, -1.0))
        return best

    return rows


def engine_graph(
    paths: list[Path],
    vectors: np.ndarray,
    sizes: list[tuple[int, int]],
    hashes: np.ndarray | None = None,
    confirm: HashConfirm | None = None,
    inner: list[np.ndarray | None] | None = None,
    turned: list[np.ndarray | None] | None = None,
    colours: list[int] | None = None,
    regions: list[np.ndarray | None] | None = None,
    hash_views: list[tuple[int, ...]] | None = None,
    views: tuple[str, ...] = (),
    shares: list[float] | None = None,
    aligner: Aligner | None = None,
    alignment: AlignmentRule | None = None,
    align_below: float = 1.0,
    workers: int = 1,
) -> tuple[NeighbourGraph, dict[str, int]]:
    """The neighbour graph a scan builds over these files (exact copies by content hash included)
    and each file's row by path; one graph serves every threshold from GRAPH_FLOOR up."""
    records = []
    for row, (path, (width, height)) in enumerate(zip(paths, sizes)):
        stat = path.stat()
        # As a scan's records: bars do not make the best copy, nor does greyscale.
        share = 1.0 if shares is None else shares[row]
        colourless = colours is not None and is_colourless(colours[row])
        records.append(
            ImageRecord(str(path.resolve()), width, height, stat.st_size, stat.st_mtime, share, colourless)
        )
    index_of = {record.path: i for i, record in enumerate(records)}
    sizes_of = {r.path: r.bytes for r in records}
    clusters = exact_clusters(sizes_of, safe(content_hash), safe(lambda p: fingerprint(p, sizes_of[p])))
    graph = NeighbourGraph(
        records,
        vectors,
        [[index_of[p] for p in c] for c in clusters],
        floor=GRAPH_FLOOR,
        hashes=None if hashes is None else [int(h) for h in hashes],
        confirm=confirm,
        inner=inner,
        turned=turned,
        colours=colours,
        regions=regions,
        hash_views=hash_views,
        compared_views=views,
        alignment=alignment,
    )
    if aligner is not None and alignment is not None:
        graph.align(aligner, alignment.floor, align_below, workers=workers)
    return graph, index_of


def default_scan_graph(
    paths: list[Path], embedded: Embedded, confirm: HashConfirm | None = None
) -> tuple[NeighbourGraph, dict[str, int]]:
    """The graph a default scan builds (screenshot looks, colour veto, no turned, mirrored or
    cropped copies), with `confirm` as its pHash rule."""
    return engine_graph(
        paths,
        embedded.vectors,
        embedded.sizes,
        embedded.hashes,
        confirm,
        embedded.inner,
        None,
        embedded.chromas,
        hash_views=embedded.hash_views,
        shares=embedded.shares,
    )


def pair_aligner(embedder: Embedder, turned: bool = False, mirrored: bool = False) -> Aligner:
    """A scan's pair aligner (`dupfinder.alignment`), remembering its answers: calibration's five
    validation draws share pictures, so they ask about many of the same pairs."""
    from dupfinder.alignment import PairAligner

    card = embedder.card
    aligner = PairAligner(
        embedder.embed,
        card.input_size,
        card.resize,
        quarter_turns=turned,
        mirrored=mirrored,
    )
    answers: dict[tuple[str, str], AlignedPair | None] = {}

    def align(first: str, second: str) -> AlignedPair | None:
        if (first, second) not in answers:
            answers[(first, second)] = aligner.align(first, second)
        return answers[(first, second)]

    return align


def group_ids(graph: NeighbourGraph, index_of: dict[str, int], threshold: float) -> np.ndarray:
    """The group id the engine gives each file at `threshold` (-1: in no group)."""
    group_of = np.full(len(index_of), -1, np.int64)
    for group in graph.groups(threshold):
        for member in group.members:
            group_of[index_of[member.image.path]] = group.id
    return group_of


def _random_crops(
    files: BenchFiles,
    embedded: Embedded,
    embedder: Embedder,
    work: Path,
    workers: int,
    seed: int,
    threshold: float,
) -> dict[str, Any]:
    """How many random crops of the originals a scan with --cropped-copies would link."""
    originals = np.flatnonzero(files.is_original)
    crops = random_crops.write_random_crops([files.paths[i] for i in originals], work, seed)
    crop_vectors = embed_files([c[2] for c in crops], embedder, workers, second_looks=False).vectors
    return random_crops.found_share(
        embedded.vectors[originals], [embedded.regions[i] for i in originals], crops, crop_vectors, threshold
    )


def hash_files(paths: list[Path], kind: str, workers: int) -> np.ndarray:
    """64-bit perceptual hashes as imagehash computes them on the file as opened."""
    import imagehash
    from PIL import Image

    function: Callable[[Any], Any] = {"phash": imagehash.phash, "dhash": imagehash.dhash}[kind]

    def one(path: Path) -> int:
        with Image.open(path) as image:
            bits = function(image).hash.flatten()
        return int("".join("1" if b else "0" for b in bits), 2)

    with ThreadPoolExecutor(workers) as pool:
        return np.array(list(pool.map(one, paths)), dtype=np.uint64)


def run(
    corpus: Path,
    model: Path,
    originals: int,
    workers: int,
    seed: int,
    work: Path,
    split: str = "test",
    threshold: float | None = None,
    hash_confirm: bool = True,
    second_looks: bool = True,
    alignment: bool = True,
) -> dict[str, Any]:
    files = build_files(corpus, work, originals, seed, split)
    pairs = PairSet(
        files.source,
        files.is_original,
        files.transform,
        files.hard_negatives,
        TIER_LEVELS,
        series_clusters(files),
    )
    embedder = Embedder(model)
    threshold = embedder.card.default_threshold if threshold is None else threshold
    results: dict[str, Any] = {
        "corpus": str(corpus).replace(str(Path.home()), "~"),
        "split": split,
        "originals": int(files.is_original.sum()),
        "files": len(files.paths),
        "positive_pairs": pairs.positive_count,
        "negative_pairs": pairs.negative_count,
        "hard_negative_pairs": len(files.hard_negatives),
        "blank_variants_left_out": [str(p).replace(str(Path.home()), "~") for p in files.blank],
        "model": embedder.card.name,
        "model_sha256": embedder.sha256,
        "threshold": threshold,
        "hash_confirm": embedder.card.hash_confirm if hash_confirm else {},
        "alignment": embedder.card.alignment if alignment else {},
        "second_looks": second_looks,
        "methods": {},
    }
    start = time.perf_counter()
    embedded = embed_files(files.paths, embedder, workers, second_looks)
    vectors = embedded.vectors
    seconds = time.perf_counter() - start
    region_seconds = 0.0
    if second_looks:
        # Regions in a pass of their own, so the other rows' time is a scan's without them (the
        # cropped row's then counts the decoding and whole pictures twice: a little too slow).
        start = time.perf_counter()
        embedded.regions = embed_files(files.paths, embedder, workers, False, regions=True).regions
        region_seconds = time.perf_counter() - start
    results["methods"]["dupfinder"] = evaluate_method(
        pairs, lambda rows: vectors[rows] @ vectors.T, threshold, seconds
    )
    looks = embedded.looks()
    results["screenshot_looks"] = int(looks.has_inner.sum())
    # Where the screenshot search fired: on screenshots it should, elsewhere rarely.
    kinds = [t or ("original" if o else "distractor") for t, o in zip(files.transform, files.is_original)]
    results["screenshot_looks_by_kind"] = {
        kind: [int(sum(h for k, h in zip(kinds, looks.has_inner) if k == kind)), kinds.count(kind)]
        for kind in sorted(set(kinds))
    }
    results["turned_looks"] = int(looks.has_turned.sum())
    if second_looks:
        results["random_crops"] = _random_crops(files, embedded, embedder, work, workers, seed, threshold)
    if second_looks:
        results["methods"]["dupfinder-views"] = evaluate_method(
            pairs, view_scores(vectors, looks), threshold, seconds
        )
    # The engine as a default scan groups (screenshot looks), with --turned-copies, with
    # --mirrored-copies, with --turned-copies --cropped-copies, and (when the card has an alignment
    # rule) with --aligned-copies.
    rows = [
        ("engine", False, False, False, False),
        ("engine-turned", True, False, False, False),
        ("engine-mirrored", False, True, False, False),
        ("engine-cropped", True, False, True, False),
    ]
    if alignment and embedder.card.alignment_rule is not None:
        rows.append(("engine-aligned", False, False, False, True))
    for name, turns, mirrors, crops, aligned in rows:
        if (turns or mirrors) and not second_looks:
            continue
        start = time.perf_counter()
        rule = embedder.card.alignment_rule if aligned else None
        graph, index_of = engine_graph(
            files.paths,
            vectors,
            embedded.sizes,
            embedded.hashes,
            embedder.card.confirm_rule if hash_confirm else None,
            embedded.inner if second_looks else None,
            embedded.turned if turns else None,
            embedded.chromas,
            embedded.regions if crops else None,
            embedded.hash_views,
            compared_views(mirrored_copies=mirrors, turned_copies=turns),
            embedded.shares,
            None if rule is None else pair_aligner(embedder, turns, mirrors),
            rule,
            threshold,
            workers,
        )
        group_of = group_ids(graph, index_of, threshold)
        grouping_seconds = time.perf_counter() - start
        total = seconds + grouping_seconds + (region_seconds if crops else 0.0)
        results["methods"][name] = _grouped(pairs, group_of, total)
        results["methods"][name]["false_pairs_by_source"] = false_pair_sources(files, group_of)
    model_precision = results["methods"]["dupfinder"]["precision"]
    for kind in ("phash", "dhash"):
        start = time.perf_counter()
        hashes = hash_files(files.paths, kind, workers)
        seconds = time.perf_counter() - start

        def hash_scores(rows: np.ndarray, h: np.ndarray = hashes) -> np.ndarray:
            return 64.0 - np.bitwise_count(h[rows, None] ^ h[None, :])

        scored = positive_scores(pairs, hash_scores), negative_scores(pairs, hash_scores)
        results["methods"][kind] = evaluate_method(
            pairs, hash_scores, 64.0 - HASH_MAX_DISTANCE, seconds, scored
        )
        # The same hash at the model's precision: the loosest Hamming distance that reaches it, or,
        # when none does, its most precise distance (the nearest it comes to equal precision).
        distances = [64.0 - d for d in range(HASH_MAX_DISTANCE + 1)]
        matched = loosest_threshold(*scored, distances, model_precision)
        reaches = matched is not None
        if matched is None:
            matched = most_precise_threshold(*scored, distances)
        results["methods"][f"{kind}-matched"] = {
            **evaluate_method(pairs, hash_scores, matched, seconds, scored),
            "reaches_model_precision": reaches,
        }
    results["levels"] = TIER_LEVELS
    results["gates"] = check_gates(results)
    results["gates_by_method"] = {
        name: check_gates(results, name)
        for name in (
            "dupfinder-views",
            "engine",
            "engine-turned",
            "engine-mirrored",
            "engine-cropped",
            "engine-aligned",
        )
        if name in results["methods"]
    }
    return results


def calibrate(
    corpus: Path,
    model: Path,
    originals: int,
    workers: int,
    seed: int,
    work: Path,
    target: float,
    draws: int = CALIBRATION_DRAWS,
    align: bool = True,
) -> dict[str, Any]:
    """The lowest threshold reaching `target` pair precision on the validation split's benchmark,
    then the pHash rule and (when `align`) the alignment rule.

    Precision at 0.99 allows about one false pair in a hundred found, so a single look-alike series
    among 250 originals can move the threshold a lot. The threshold is therefore chosen on the pairs
    of `draws` draws of originals (seeds `seed`, `seed + 1`, …) pooled: the precision a random folder
    of this kind would see, not that of one draw.
    """
    from trainer.metrics import Calibration, calibrate_threshold

    embedder = Embedder(model)
    cosines: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    bit_counts: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    per_draw = []
    kept: list[tuple[BenchFiles, PairSet, Embedded]] = []
    for draw in range(seed, seed + draws):
        files = build_files(corpus, work, originals, draw, "val")
        pairs = PairSet(files.source, files.is_original, files.transform, files.hard_negatives, TIER_LEVELS)
        embedded = embed_files(files.paths, embedder, workers, second_looks=True)
        kept.append((files, pairs, embedded))
        vectors, hashes = embedded.vectors, embedded.hashes

        def cosine(rows: np.ndarray, v: np.ndarray = vectors) -> np.ndarray:
            return v[rows] @ v.T

        def bits(rows: np.ndarray, h: np.ndarray = hashes) -> np.ndarray:
            return np.bitwise_count(h[rows, None] ^ h[None, :]).astype(np.int16)

        negative = negative_scores(pairs, cosine)
        near = negative >= CALIBRATION_FLOOR  # far pairs never decide a threshold above the floor
        cosines[0].append(positive_scores(pairs, cosine))
        cosines[1].append(negative[near])
        bit_counts[0].append(positive_scores(pairs, bits))
        bit_counts[1].append(negative_scores(pairs, bits)[near])
        per_draw.append(
            {
                "seed": draw,
                "files": len(files.paths),
                "negative_pairs": len(negative),
                "blank_variants_left_out": len(files.blank),
            }
        )
    positive, negative = np.concatenate(cosines[0]), np.concatenate(cosines[1])
    labels = np.r_[np.ones(len(positive), bool), np.zeros(len(negative), bool)]
    found = calibrate_threshold(np.r_[positive, negative], labels, target)
    scans = ScanDraws(kept)
    engine: dict[str, Any] = {"model_alone": found.to_dict()}
    threshold = scans.lowest_threshold(found.min_similarity, target, engine)
    if threshold > found.min_similarity:
        # A scan's groups needed more than pairs scored one by one: the card's threshold is the scan's.
        true_count, false_count = counts_at(positive, negative, threshold)
        found = Calibration(
            threshold, true_count / max(1, true_count + false_count), true_count / len(positive), target
        )
    candidates = hash_confirm_candidates(
        (positive, np.concatenate(bit_counts[0])),
        (negative, np.concatenate(bit_counts[1])),
        threshold,
        target,
        PAIR_SCREEN_SLACK,
    )
    rule = scans.checked_rule(threshold, candidates, target, engine)
    print(f"threshold {threshold:.4f}, pHash rule {rule or 'none'}: {engine}", flush=True)
    alignment = (
        scans.checked_alignment(threshold, rule, pair_aligner(embedder), target, engine, workers)
        if align
        else {}
    )
    return {
        "split": "val",
        "protocol": "benchmarks.accuracy",
        "originals": originals,
        "draws": per_draw,
        "positive_pairs": len(positive),
        "negative_pairs": sum(d["negative_pairs"] for d in per_draw),
        **found.to_dict(),
        "hash_confirm": rule,
        "alignment": alignment,
        "engine": engine,
    }


class ScanDraws:
    """The val draws grouped as a default scan groups them (screenshot looks, colour veto), one
    neighbour graph per draw, to judge a threshold or a pHash rule by the scan's own precision:
    groups are joined through links, so one wrong link can call many pairs copies."""

    def __init__(self, draws: list[tuple[BenchFiles, PairSet, Embedded]]) -> None:
        self.graphs = []
        for files, pairs, embedded in draws:
            graph, index_of = default_scan_graph(files.paths, embedded)
            self.graphs.append((pairs, graph, index_of))

    def pooled(
        self, threshold: float, rule: dict[str, Any], alignment: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Pair precision and recall of the scans' groups, pooled over the draws."""
        found = false = positives = 0
        for pairs, graph, index_of in self.graphs:
            graph.confirm = HashConfirm(rule["margin"], rule["max_distance"]) if rule else None
            graph.alignment = AlignmentRule.from_fields(alignment) if alignment else None
            true_count, false_count = group_counts(pairs, group_ids(graph, index_of, threshold))
            found, false = found + true_count, false + false_count
            positives += pairs.positive_count
        precision = found / max(1, found + false)
        recall = found / max(1, positives)
        return {"precision": round(precision, 5), "recall": round(recall, 4), "false_pairs": false}

    def lowest_threshold(self, start: float, target: float, log: dict[str, Any]) -> float:
        """`start` when a scan without the pHash rule keeps `target` there, else (by halving the
        interval up to 1.0) about the lowest threshold at which it does."""
        log["without_rule"] = self.pooled(start, {})
        if log["without_rule"]["precision"] >= target:
            return start
        low, high = start, 1.0
        for _ in range(THRESHOLD_HALVINGS):
            middle = (low + high) / 2
            low, high = (low, middle) if self.pooled(middle, {})["precision"] >= target else (middle, high)
        log["raised_to"] = {"threshold": high, **self.pooled(high, {})}
        return high

    def checked_rule(
        self, threshold: float, candidates: list[dict[str, Any]], target: float, log: dict[str, Any]
    ) -> dict[str, Any]:
        """The first candidate pHash rule with which the scans keep `target` precision, or {}."""
        log["tried"] = []
        for rule in candidates[:MOST_ENGINE_TRIES]:
            checked = self.pooled(threshold, rule)
            log["tried"].append({"margin": rule["margin"], "max_distance": rule["max_distance"], **checked})
            if checked["precision"] >= target:
                return {**rule, "engine_precision": checked["precision"], "engine_recall": checked["recall"]}
        return {}

    def checked_alignment(
        self,
        threshold: float,
        rule: dict[str, Any],
        aligner: Aligner,
        target: float,
        log: dict[str, Any],
        workers: int = 1,
    ) -> dict[str, Any]:
        """The alignment rule (`ALIGN_FLOORS` × `ALIGN_BARS`) with which the scans, pHash rule
        included, find the most while keeping `target` precision, and keep it one bar lower too;
        {} when none does.

        The guard is a margin against the validation split's edge: a bar one step (0.005) above a
        cliff is tuned to the look-alikes these draws happen to hold. The card's rule of before,
        0.70 / 0.975, kept 0.9906 there while 0.97 fell to 0.9867 (88 more false pairs); on the
        test split it measured 0.9836."""
        for _, graph, _ in self.graphs:
            graph.confirm = HashConfirm(rule["margin"], rule["max_distance"]) if rule else None
            graph.align(aligner, min(ALIGN_FLOORS), threshold, workers=workers)  # skips grouped pairs
        log["alignment_tried"] = []
        chosen: dict[str, Any] = {}
        for floor in ALIGN_FLOORS:
            pending: dict[str, Any] = {}  # passes; eligible once the next lower bar passes too
            for bar in ALIGN_BARS:
                candidate = {"floor": floor, "min_similarity": bar}
                checked = self.pooled(threshold, rule, candidate)
                log["alignment_tried"].append({**candidate, **checked})
                if checked["precision"] < target:
                    break
                if pending and (not chosen or pending["engine_recall"] > chosen["engine_recall"]):
                    chosen = {**pending, "guard_precision": checked["precision"]}
                pending = {
                    **candidate,
                    "engine_precision": checked["precision"],
                    "engine_recall": checked["recall"],
                }
        return chosen


def hash_confirm_candidates(
    positive: tuple[np.ndarray, np.ndarray],
    negative: tuple[np.ndarray, np.ndarray],
    threshold: float,
    target: float,
    slack: float = 0.0,
) -> list[dict[str, Any]]:
    """pHash rules that add recall while pair precision stays at `target` or above, most recall
    first (ties: the narrower rule first), then those within `slack` below it, most recall first.

    `positive` and `negative` are (cosine, pHash bits) per pair; each rule comes with its recall and
    precision on these pairs.
    """
    (pos_cos, pos_bits), (neg_cos, neg_bits) = positive, negative
    plain = int(np.sum(pos_cos >= threshold))
    rules: list[tuple[bool, int, int, dict[str, Any]]] = []
    for margin in CONFIRM_MARGINS:
        for max_distance in CONFIRM_DISTANCES:
            found = (pos_cos >= threshold) | ((pos_cos >= threshold - margin) & (pos_bits <= max_distance))
            false = (neg_cos >= threshold) | ((neg_cos >= threshold - margin) & (neg_bits <= max_distance))
            true_count, false_count = int(found.sum()), int(false.sum())
            precision = true_count / max(1, true_count + false_count)
            if precision >= target - slack and true_count > plain:
                rule = {
                    "margin": margin,
                    "max_distance": max_distance,
                    "recall": true_count / max(1, len(pos_cos)),
                    "precision": precision,
                }
                rules.append((precision < target, -true_count, len(rules), rule))
    return [rule for *_, rule in sorted(rules, key=lambda r: r[:3])]


def choose_hash_confirm(
    positive: tuple[np.ndarray, np.ndarray],
    negative: tuple[np.ndarray, np.ndarray],
    threshold: float,
    target: float,
) -> dict[str, Any]:
    """The pHash rule adding the most recall while pair precision stays at `target` or above.

    Returns {} when no rule keeps the precision (see `hash_confirm_candidates`).
    """
    candidates = hash_confirm_candidates(positive, negative, threshold, target)
    return candidates[0] if candidates else {}


def false_pair_sources(files: BenchFiles, group_of: np.ndarray, top: int = 10) -> list[list[Any]]:
    """The source pictures whose copies the groups join most often, with how many false pairs
    each join makes: [picture, picture, pairs], most first (what the README's count comes from)."""
    first: dict[int, str] = {}
    for path, source in zip(files.paths, files.source):
        first.setdefault(int(source), path.name)
    joined: dict[tuple[int, int], int] = {}
    for group in np.unique(group_of[group_of >= 0]):
        sources, counts = np.unique(files.source[group_of == group], return_counts=True)
        for a in range(len(sources)):
            for b in range(a + 1, len(sources)):
                key = (int(sources[a]), int(sources[b]))
                joined[key] = joined.get(key, 0) + int(counts[a] * counts[b])
    ranked = sorted(joined.items(), key=lambda item: -item[1])[:top]
    return [[first[a], first[b], count] for (a, b), count in ranked]


def copies_found(pairs: PairSet, group_of: np.ndarray) -> np.ndarray:
    """Per copy in `pairs.positives`, whether the groups put it with its original."""
    return np.array([group_of[i] >= 0 and group_of[i] == group_of[j] for i, j, _ in pairs.positives], bool)


def group_counts(pairs: PairSet, group_of: np.ndarray) -> tuple[int, int]:
    """(true pairs, false pairs) that the engine's groups make: every two files in one group are
    called copies, so a wrong link costs every pair it joins, not one."""
    found = int(copies_found(pairs, group_of).sum())
    false = 0
    grouped = group_of >= 0
    order = np.argsort(group_of[grouped], kind="stable")
    groups, sources = group_of[grouped][order], pairs.source[grouped][order]
    for members in np.split(sources, np.flatnonzero(np.diff(groups)) + 1):
        _, counts = np.unique(members, return_counts=True)
        size = len(members)
        false += size * (size - 1) // 2 - int((counts * (counts - 1) // 2).sum())
    return found, false


def write_threshold(model: Path, calibration: dict[str, Any]) -> None:
    """Store the calibrated threshold (and pHash and alignment rules) as the card's defaults, with
    how they were found."""
    path = card_path_for(model)
    card = json.loads(path.read_text(encoding="utf-8"))
    card["default_threshold"] = calibration["min_similarity"]
    rule = calibration.get("hash_confirm") or {}
    card["hash_confirm"] = {key: rule[key] for key in ("margin", "max_distance")} if rule else {}
    aligned = calibration.get("alignment") or {}
    card["alignment"] = {key: aligned[key] for key in ("floor", "min_similarity")} if aligned else {}
    card.setdefault("evaluation", {})["benchmark_calibration"] = calibration
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def check_gates(results: dict[str, Any], method: str = "dupfinder") -> dict[str, Any]:
    """The issue's gates for one method (by default the model alone), each with its margin."""
    ours, phash = results["methods"][method], results["methods"]["phash"]
    # "At equal or better precision": pHash at its common distance when the model is at least as
    # precise, else pHash at the loosest distance that matches the model's precision (or, when no
    # distance does, at its most precise one).
    if phash["precision"] < ours["precision"] and "phash-matched" in results["methods"]:
        phash = results["methods"]["phash-matched"]
    gates: dict[str, Any] = {"precision": [ours["precision"], GATES["precision"]]}
    for level in TIER_LEVELS:
        gates[f"recall_{level}"] = [ours["recall_by_level"][level], GATES[level]]
    for level in ("medium", "hard"):
        lead = 100 * (ours["recall_by_level"][level] - phash["recall_by_level"][level])
        gates[f"{level}_points_over_phash"] = [round(lead, 1), GATES["over_phash_points"]]
    checked = {
        name: {"value": value, "needed": needed, "passed": bool(value >= needed)}
        for name, (value, needed) in gates.items()
    }
    if "precision_interval" in ours:
        # Whether the gate's verdict holds across the interval, or a redraw of the corpus could turn it.
        low, high = ours["precision_interval"]
        checked["precision"] |= {
            "interval": [low, high],
            "settled": bool(low >= GATES["precision"] or high < GATES["precision"]),
        }
    return checked


def _grouped(pairs: PairSet, group_of: np.ndarray, seconds: float) -> dict[str, Any]:
    """A method whose answer is the groups: a pair counts as found when both files share one."""

    def same_group(rows: np.ndarray) -> np.ndarray:
        return ((group_of[rows, None] == group_of[None, :]) & (group_of[rows, None] >= 0)).astype(np.float32)

    method = evaluate_method(pairs, same_group, 0.5, seconds)
    method["average_precision"] = None  # a yes/no answer has no ranking
    return method


def _engine_label(
    rule: dict[str, Any],
    second_looks: bool,
    turned: bool = False,
    cropped: bool = False,
    mirrored: bool = False,
    aligned: dict[str, Any] | None = None,
) -> str:
    parts = ["model", "exact copies", "grouping"]
    if second_looks:
        parts.append("screenshot looks")
    if turned:
        parts.append("turned copies")
    if cropped:
        parts.append("cropped copies")
    if rule:
        views = " ".join(word for word, on in (("turned", turned), ("mirrored", mirrored)) if on)
        views = f" (also {views.replace(' ', ' or ')})" if views else ""
        parts.append(f"pHash{views} ≤ {rule['max_distance']} within {rule['margin']:.2f} below the threshold")
    if aligned:
        parts.append(
            f"crops, tilts and frames aligned from {aligned['floor']:.2f}, ≥ {aligned['min_similarity']:.3f}"
        )
    return f"dupfinder engine ({' + '.join(parts)})"


def _matched_label(kind: str, distance: str, method: dict[str, Any]) -> str:
    if method.get("reaches_model_precision", True):
        return f"{kind} at the model's precision (Hamming ≤ {distance})"
    return f"{kind} at its most precise (Hamming ≤ {distance}; no distance is as precise as the model)"


def markdown(results: dict[str, Any]) -> str:
    """The README's table: one row per method."""
    lines = [
        "| method | precision (95% interval) | recall easy | recall medium | recall hard | F1 | pair AP | "
        "similar-but-different grouped | seconds |",
        "|---" * 9 + "|",
    ]
    rule, aligned = results.get("hash_confirm") or {}, results.get("alignment") or {}
    for name, m in results["methods"].items():
        distance = f"{64 - m['min_similarity']:.0f}"
        label = {
            "dupfinder": f"dupfinder model alone ({results['model']}, ≥ {results['threshold']:.3f})",
            "dupfinder-views": "dupfinder model + second looks (a screenshot's pasted picture, "
            "a portrait picture's quarter turns)",
            "engine": "default scan: " + _engine_label(rule, results.get("second_looks", False)),
            "engine-turned": "scan with --turned-copies: " + _engine_label(rule, True, True),
            "engine-mirrored": "scan with --mirrored-copies: " + _engine_label(rule, True, mirrored=True),
            "engine-cropped": "scan with --turned-copies --cropped-copies: "
            + _engine_label(rule, True, True, True),
            "engine-aligned": "scan with --aligned-copies: "
            + _engine_label(rule, results.get("second_looks", False), aligned=aligned),
            "phash": "pHash (Hamming ≤ 10)",
            "dhash": "dHash (Hamming ≤ 10)",
            "phash-matched": _matched_label("pHash", distance, m),
            "dhash-matched": _matched_label("dHash", distance, m),
        }[name]
        by = m["recall_by_level"]
        ap = "—" if m["average_precision"] is None else f"{m['average_precision']:.3f}"
        interval = m.get("precision_interval")
        precision = f"{m['precision']:.4f}" + (f" ({interval[0]:.3f}–{interval[1]:.3f})" if interval else "")
        lines.append(
            f"| {label} | {precision} | {by['easy']:.3f} | {by['medium']:.3f} | "
            f"{by['hard']:.3f} | {m['f1']:.3f} | {ap} | "
            f"{m['hard_negatives_grouped']}/{results['hard_negative_pairs']} | "
            f"{m['seconds']:.1f} |"
        )
    crops = results.get("random_crops")
    if crops:
        lines += [
            "",
            "Random crops of the originals (`benchmarks.random_crops`): the share reaching the threshold",
            "",
            "| crop area | crops | whole picture | with --cropped-copies |",
            "|---|---|---|---|",
        ]
        for band, share in [*crops["by_area"].items(), ("all", crops["all"])]:
            whole, regions = share["whole"], share["with_regions"]
            lines.append(f"| {band} | {share['crops']} | {whole:.3f} | {regions:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--originals", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="with --split val: write the threshold reaching --target-precision to the card",
    )
    parser.add_argument("--target-precision", type=float, default=GATES["precision"])
    parser.add_argument(
        "--draws",
        type=int,
        default=CALIBRATION_DRAWS,
        help="with --calibrate: draws of val originals whose pairs are pooled (seeds --seed, --seed + 1, …)",
    )
    parser.add_argument(
        "--no-hash-confirm",
        action="store_true",
        help="group the engine's row without the card's pHash confirmation (to measure it)",
    )
    parser.add_argument(
        "--no-second-looks",
        action="store_true",
        help="leave out the second looks (a screenshot's pasted picture, a picture's turns and regions)",
    )
    parser.add_argument(
        "--no-alignment",
        action="store_true",
        help="leave out the row of a scan with --aligned-copies, or with --calibrate the alignment rule "
        "(it aligns pairs below the threshold: slow; a card calibrated so has no alignment rule)",
    )
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "dupfinder" / "bench")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: benchmarks/results/accuracy.json (accuracy-val.json for val)",
    )
    args = parser.parse_args()
    if not (args.corpus / "images" / args.split).is_dir():
        raise SystemExit(f"no corpus at {args.corpus}: build it with scripts/build-corpus first")
    if args.calibrate and args.split != "val":
        parser.error("--calibrate chooses the threshold on the validation split: add --split val")
    model = find_model(args.model)
    if args.calibrate:
        calibration = calibrate(
            args.corpus,
            model,
            args.originals,
            args.workers,
            args.seed,
            args.work,
            args.target_precision,
            args.draws,
            align=not args.no_alignment,
        )
        write_threshold(model, calibration)
        print(json.dumps(calibration, indent=2))
        return
    results = run(
        args.corpus,
        model,
        args.originals,
        args.workers,
        args.seed,
        args.work,
        args.split,
        hash_confirm=not args.no_hash_confirm,
        second_looks=not args.no_second_looks,
        alignment=not args.no_alignment,
    )
    out = args.out or Path("benchmarks/results") / (
        "accuracy.json" if args.split == "test" else f"accuracy-{args.split}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    print(json.dumps({"gates": results["gates"], "gates_by_method": results["gates_by_method"]}, indent=2))


if __name__ == "__main__":
    main()
