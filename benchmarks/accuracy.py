"""Accuracy: dupfinder's model against perceptual hashing on real held-out pictures.

Originals come from the corpus's test split (never used for training or threshold calibration).
Each original is turned into derived files by the named transforms of `trainer.tiers`, in three
tiers; the rest of the test split serves as unrelated distractors, and the corpus's list of
similar-but-different pairs (same scene twice, one design in two colour schemes) must not be
grouped. Every method sees the same files and is judged on the same pairs:

- positives: (original, derived copy) pairs;
- negatives: every pair of files from different sources (so a false match anywhere counts).

Methods: dupfinder's model at its card's threshold, and pHash and dHash (the `imagehash` package)
at Hamming distance <= 10, the common default.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.pairs import PairSet, evaluate_method
from dupfinder.embedder import Embedder
from dupfinder.imaging import DecodeError, load_for_model, open_oriented_rgb
from dupfinder.models import find_model

TIER_LEVELS: dict[str, tuple[str, ...]] = {
    "easy": ("jpeg-q25", "half-size", "thumbnail-320", "png", "webp"),
    "medium": ("centre-crop-80", "offcentre-crop-60", "brightness-contrast", "greyscale", "blur",
               "text-watermark", "letterbox", "pillarbox", "rot90", "exif-rotation"),
    "hard": ("crop-40", "rotate-10", "hflip", "combo", "screenshot", "aspect-stretch"),
}
GATES = {"precision": 0.99, "easy": 0.99, "medium": 0.95, "hard": 0.85, "over_phash_points": 20.0}
HASH_MAX_DISTANCE = 10
DEFAULT_CORPUS = Path.home() / ".cache" / "dupfinder" / "corpus"


@dataclass
class BenchFiles:
    """Every file the benchmark scores, and which source picture each one comes from."""

    paths: list[Path]
    source: np.ndarray  # source id per file; distractors each have their own
    is_original: np.ndarray
    transform: list[str]  # "" for originals and distractors
    hard_negatives: list[tuple[int, int, str]]


def _test_pictures(corpus: Path) -> tuple[list[Path], list[tuple[Path, Path, str]]]:
    test = sorted((corpus / "images" / "test").glob("*.jpg"))
    pairs: list[tuple[Path, Path, str]] = []
    listing = corpus / "hard_negatives.csv"
    if listing.exists():
        with listing.open(newline="") as handle:
            for row in csv.DictReader(handle):
                pairs.append((corpus / row["file_a"], corpus / row["file_b"], row.get("why", "")))
    return test, pairs


def build_files(corpus: Path, work: Path, originals: int, seed: int) -> BenchFiles:
    """Write the derived files (once; reused across runs) and list everything to score."""
    from trainer.tiers import TIERS

    test, hard = _test_pictures(corpus)
    in_hard = {p for a, b, _ in hard for p in (a, b)}
    candidates = [p for p in test if p not in in_hard]
    order = np.random.default_rng(seed).permutation(len(candidates))
    chosen = [candidates[i] for i in order[:originals]]
    distractors = [candidates[i] for i in order[originals:]] + sorted(in_hard)
    paths, source, is_original, transform = [], [], [], []
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
    return BenchFiles(paths, np.array(source), np.array(is_original), transform, hard_pairs)


def embed_files(paths: list[Path], embedder: Embedder, workers: int) -> np.ndarray:
    """Model embeddings through the engine's own decode path."""
    size, mode = embedder.card.input_size, embedder.card.resize

    def decode(path: Path) -> np.ndarray:
        try:
            return load_for_model(path, size, mode).pixels  # type: ignore[arg-type]
        except DecodeError:
            return np.zeros((size, size, 3), np.uint8)

    with ThreadPoolExecutor(workers) as pool:
        pixels = list(pool.map(decode, paths))
    return np.vstack([embedder.embed(np.stack(pixels[i:i + 64])) for i in range(0, len(pixels), 64)])


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


def run(corpus: Path, model: Path, originals: int, workers: int, seed: int,
        work: Path) -> dict[str, Any]:
    files = build_files(corpus, work, originals, seed)
    pairs = PairSet(files.source, files.is_original, files.transform, files.hard_negatives, TIER_LEVELS)
    embedder = Embedder(model)
    results: dict[str, Any] = {
        "corpus": str(corpus).replace(str(Path.home()), "~"), "originals": int(files.is_original.sum()),
        "files": len(files.paths), "positive_pairs": pairs.positive_count,
        "negative_pairs": pairs.negative_count, "hard_negative_pairs": len(files.hard_negatives),
        "model": embedder.card.name, "threshold": embedder.card.default_threshold, "methods": {},
    }
    start = time.perf_counter()
    vectors = embed_files(files.paths, embedder, workers)
    seconds = time.perf_counter() - start
    results["methods"]["dupfinder"] = evaluate_method(
        pairs, lambda rows: vectors[rows] @ vectors.T, embedder.card.default_threshold, seconds)
    for kind in ("phash", "dhash"):
        start = time.perf_counter()
        hashes = hash_files(files.paths, kind, workers)
        seconds = time.perf_counter() - start
        results["methods"][kind] = evaluate_method(
            pairs, lambda rows, h=hashes: 64.0 - np.bitwise_count(h[rows, None] ^ h[None, :]),
            64.0 - HASH_MAX_DISTANCE, seconds)
    results["levels"] = TIER_LEVELS
    results["gates"] = check_gates(results)
    return results


def check_gates(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's gates for the model alone, each with its margin."""
    ours, phash = results["methods"]["dupfinder"], results["methods"]["phash"]
    gates: dict[str, Any] = {"precision": [ours["precision"], GATES["precision"]]}
    for level in TIER_LEVELS:
        gates[f"recall_{level}"] = [ours["recall_by_level"][level], GATES[level]]
    for level in ("medium", "hard"):
        lead = 100 * (ours["recall_by_level"][level] - phash["recall_by_level"][level])
        gates[f"{level}_points_over_phash"] = [round(lead, 1), GATES["over_phash_points"]]
    return {name: {"value": value, "needed": needed, "passed": bool(value >= needed)}
            for name, (value, needed) in gates.items()}


def markdown(results: dict[str, Any]) -> str:
    """The README's table: one row per method."""
    lines = ["| method | precision | recall easy | recall medium | recall hard | F1 | pair AP | "
             "similar-but-different grouped | seconds |", "|---" * 9 + "|"]
    for name, m in results["methods"].items():
        label = {"dupfinder": f"dupfinder ({results['model']}, ≥ {results['threshold']:.3f})",
                 "phash": "pHash (Hamming ≤ 10)", "dhash": "dHash (Hamming ≤ 10)"}[name]
        by = m["recall_by_level"]
        lines.append(f"| {label} | {m['precision']:.4f} | {by['easy']:.3f} | {by['medium']:.3f} | "
                     f"{by['hard']:.3f} | {m['f1']:.3f} | {m['average_precision']:.3f} | "
                     f"{m['hard_negatives_grouped']}/{results['hard_negative_pairs']} | "
                     f"{m['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--originals", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "dupfinder" / "bench")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/accuracy.json"))
    args = parser.parse_args()
    if not (args.corpus / "images" / "test").is_dir():
        raise SystemExit(f"no corpus at {args.corpus}: build it with scripts/build-corpus first")
    results = run(args.corpus, find_model(args.model), args.originals, args.workers, args.seed,
                  args.work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    print(json.dumps(results["gates"], indent=2))


if __name__ == "__main__":
    main()
