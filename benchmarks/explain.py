"""Why a model finds the copies it finds: its similarities on one split, described, nothing chosen.

The accuracy benchmark gives one recall at one threshold; this says what sits behind it, on the
same files and pairs (`benchmarks.accuracy.build_files`, draws of originals pooled):

- for each transform, how alike the model finds a copy and its original (quantiles, and the share
  at or above the threshold): which edits the model does not yet absorb;
- recall, false pairs and pair precision on a ladder of thresholds around the card's: how far the
  threshold would have to move, and what that would cost; and the loosest threshold whose pooled
  pair precision on these draws reaches the target (0.99), with each transform's share found there,
  so that two models whose similarities have different scales compare at equal precision;
- the look-alike series behind the false pairs (pairs of `sibling_key` series, with their count at
  the threshold, the most similar false pair's score and the two pictures it comes from, a copy's
  original standing for the copy): whether precision is lost to a few series or
  to many unrelated pictures;
- beside both, how far apart the two files are in the model's own input (mean absolute difference
  of its 0..255 pixels, `input_difference`): a look-alike that differs from its sibling less than a
  greyscale copy differs from its original can only be told apart by *where* they differ, which one
  global similarity and one threshold for all pairs hardly express.

It also runs on the training split (`--split train`), which no other benchmark reads: if a model
scores its own training pictures' copies no higher than the validation split's, more steps on the
same pictures will not help, and a larger network or another objective might. Nothing here writes a
card or picks a threshold for one (calibration does, `benchmarks.accuracy --split val
--calibrate`); describing the test split is allowed, tuning on what it shows is not.

    python -m benchmarks.explain --split val --model COPY.onnx
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import DEFAULT_CORPUS, TIER_LEVELS, BenchFiles, build_files, embed_files, series_keys
from benchmarks.pairs import PairSet, false_pairs_at, loosest_at, positive_scores
from dupfinder.embedder import Embedder
from dupfinder.imaging import DecodeError, load_for_model
from dupfinder.modelcard import ModelCard
from dupfinder.models import find_model

QUANTILES = (0.10, 0.25, 0.50)
# Thresholds reported beside the card's own: from "finds only near-exact copies" to "finds most".
LADDER = (0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.92, 0.90, 0.85)
# Copies per transform whose input difference is measured (decoding every copy twice is slow).
DIFFERENCE_SAMPLE = 40


@dataclass
class Pooled:
    """Every draw's copy scores and the unrelated pairs above the floor, with their series."""

    positive: list[np.ndarray] = field(default_factory=list)
    transform: list[np.ndarray] = field(default_factory=list)
    negative: list[np.ndarray] = field(default_factory=list)
    series_pairs: list[tuple[str, str]] = field(default_factory=list)
    examples: list[tuple[Path, Path]] = field(default_factory=list)
    # Per transform, (original, copy) file pairs of the first draw, for `input_difference`.
    copy_files: dict[str, list[tuple[Path, Path]]] = field(default_factory=dict)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(copy scores, their transforms, unrelated scores above the floor), all draws pooled."""
        empty = np.zeros(0, np.float32)
        return (
            np.concatenate(self.positive) if self.positive else empty,
            np.concatenate(self.transform) if self.transform else np.zeros(0, str),
            np.concatenate(self.negative) if self.negative else empty,
        )


def _picture_of_source(files: BenchFiles) -> dict[int, Path]:
    """Each source's first file: its original, or the distractor itself."""
    pictures: dict[int, Path] = {}
    for path, source in zip(files.paths, files.source):
        pictures.setdefault(int(source), path)
    return pictures


@lru_cache(maxsize=256)
def _model_input(path: Path, size: int, resize: str) -> np.ndarray:
    """A file as the model receives it; cached because an original is compared with each of its
    copies."""
    return load_for_model(path, size, resize).pixels.astype(np.float32)  # type: ignore[arg-type]


def input_difference(first: Path, second: Path, card: ModelCard) -> float | None:
    """Mean absolute difference (0..255) between two files as the model receives them (the
    engine's decode and resize); None when either cannot be decoded."""
    try:
        a = _model_input(first, card.input_size, card.resize)
        b = _model_input(second, card.input_size, card.resize)
    except DecodeError:
        return None
    return float(np.abs(a - b).mean())


def score_draw(files: BenchFiles, vectors: np.ndarray, floor: float, into: Pooled) -> None:
    """Add one draw's copy scores and its unrelated pairs scoring at least `floor` to `into`."""
    pairs = PairSet(files.source, files.is_original, files.transform, files.hard_negatives, TIER_LEVELS)

    def rows(r: np.ndarray) -> np.ndarray:
        return vectors[r] @ vectors.T

    into.positive.append(positive_scores(pairs, rows))
    into.transform.append(np.array([name for _, _, name in pairs.positives], dtype=str))
    kept = false_pairs_at(pairs, rows, floor)
    into.negative.append(np.einsum("ij,ij->i", vectors[kept[:, 0]], vectors[kept[:, 1]]).astype(np.float32))
    if not into.copy_files:
        for i, j, name in pairs.positives:
            into.copy_files.setdefault(name, []).append((files.paths[i], files.paths[j]))
    series, picture = series_keys(files), _picture_of_source(files)
    for i, j in kept:
        a, b = sorted(
            ((series[i], picture[int(files.source[i])]), (series[j], picture[int(files.source[j])]))
        )
        into.series_pairs.append((a[0], b[0]))
        into.examples.append((a[1], b[1]))


def by_transform(
    positive: np.ndarray,
    transform: np.ndarray,
    threshold: float,
    differences: dict[str, float | None],
    at_target: float | None = None,
) -> list[dict[str, Any]]:
    """Per transform, in tier order: copies, quantiles of their similarity, share found at the
    threshold and at `at_target` (the loosest threshold at the target precision), and the median
    input difference of a sample of them (`differences`)."""
    rows = []
    for level, names in TIER_LEVELS.items():
        for name in names:
            scores = positive[transform == name]
            if not scores.size:
                continue
            row: dict[str, Any] = {"transform": name, "tier": level, "copies": int(scores.size)}
            row.update({f"q{round(q * 100):02d}": round(float(np.quantile(scores, q)), 4) for q in QUANTILES})
            row["found"] = round(float((scores >= threshold).mean()), 4)
            found = None if at_target is None else round(float((scores >= at_target).mean()), 4)
            row["found_at_target"] = found
            row["input_difference"] = differences.get(name)
            rows.append(row)
    return rows


def ladder(positive: np.ndarray, negative: np.ndarray, thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """Recall, false pairs and pair precision at each threshold (highest first)."""
    rows = []
    for threshold in sorted(set(thresholds), reverse=True):
        found, false = int((positive >= threshold).sum()), int((negative >= threshold).sum())
        rows.append(
            {
                "threshold": round(float(threshold), 4),
                "recall": round(found / max(1, positive.size), 4),
                "false_pairs": false,
                "precision": round(found / (found + false), 5) if found + false else None,
            }
        )
    return rows


def copy_differences(
    pooled: Pooled, card: ModelCard, sample: int = DIFFERENCE_SAMPLE
) -> dict[str, float | None]:
    """Per transform, the median input difference over the first `sample` copies of the first draw."""
    medians: dict[str, float | None] = {}
    for name, file_pairs in pooled.copy_files.items():
        values = [d for a, b in file_pairs[:sample] if (d := input_difference(a, b, card)) is not None]
        medians[name] = round(float(np.median(values)), 2) if values else None
    return medians


def false_pair_series(pooled: Pooled, threshold: float, top: int, card: ModelCard) -> list[dict[str, Any]]:
    """The pairs of series behind the false pairs at `threshold`, most false pairs first, each with
    the score of its most similar false pair, the two source pictures of that pair (the original
    when one side is a copy) and their input difference."""
    _, _, negative = pooled.arrays()
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for score, key, example in zip(negative, pooled.series_pairs, pooled.examples):
        if score < threshold:
            continue
        group = groups.setdefault(key, {"series": list(key), "false_pairs": 0, "max": -1.0, "example": ()})
        group["false_pairs"] += 1
        if score > group["max"]:
            group["max"], group["example"] = float(score), example
    ranked = sorted(groups.values(), key=lambda g: (-g["false_pairs"], -g["max"]))[:top]
    for group in ranked:
        first, second = group["example"]
        group["max"] = round(group["max"], 4)
        difference = input_difference(first, second, card)
        group["input_difference"] = None if difference is None else round(difference, 2)
        group["example"] = [first.name, second.name]
    return ranked


def explain(
    corpus: Path,
    work: Path,
    model: Path,
    split: str,
    seeds: Sequence[int],
    originals: int,
    workers: int,
    threshold: float | None = None,
    top: int = 15,
    target: float = 0.99,
) -> dict[str, Any]:
    """Describe `model` on `split` (draws `seeds` pooled) around `threshold` (default: its card's)."""
    embedder = Embedder(model, device="cpu")
    threshold = embedder.card.default_threshold if threshold is None else threshold
    floor = min(min(LADDER), threshold)
    pooled = Pooled()
    for seed in seeds:
        files = build_files(corpus, work, originals, seed, split)
        vectors = embed_files(files.paths, embedder, workers, second_looks=False).vectors
        score_draw(files, vectors, floor, pooled)
        print(f"draw {seed}: {len(files.paths)} files", flush=True)
    positive, transform, negative = pooled.arrays()
    series = false_pair_series(pooled, threshold, top, embedder.card)
    at_threshold = int((negative >= threshold).sum())
    at_target = loosest_at(positive, negative, target)
    if at_target is not None and at_target < floor:  # unrelated pairs below the floor were not kept
        at_target = None
    return {
        "model": embedder.card.name,  # as accuracy.json names it: no path of this machine
        "split": split,
        "draws": list(seeds),
        "originals": originals,
        "threshold": round(float(threshold), 4),
        "copies": int(positive.size),
        "target_precision": target,
        "threshold_at_target": None if at_target is None else round(at_target, 4),
        "recall_at_target": None if at_target is None else round(float((positive >= at_target).mean()), 4),
        "by_transform": by_transform(
            positive, transform, threshold, copy_differences(pooled, embedder.card), at_target
        ),
        "ladder": ladder(positive, negative, [*LADDER, threshold]),
        "false_pairs_at_threshold": at_threshold,
        "false_pairs_from_listed_series": sum(g["false_pairs"] for g in series),
        "false_pair_series": series,
    }


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    """The three tables, for a terminal or a note."""
    lines = [
        f"{result['model']} on {result['split']}, draws {result['draws']}, threshold {result['threshold']}",
        "",
        f"Loosest threshold at {result['target_precision']} pair precision: "
        f"{_number(result['threshold_at_target'], 4)}, recall {_number(result['recall_at_target'], 3)}",
        "",
        "| transform | tier | copies | 10% | 25% | median | found | found at the target | input difference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["by_transform"]:
        lines.append(
            f"| {row['transform']} | {row['tier']} | {row['copies']} | {row['q10']:.3f} | {row['q25']:.3f} "
            f"| {row['q50']:.3f} | {row['found']:.3f} | {_number(row['found_at_target'], 3)} "
            f"| {_number(row['input_difference'])} |"
        )
    lines += ["", "| threshold | recall | false pairs | precision |", "|---|---|---|---|"]
    for row in result["ladder"]:
        precision = "—" if row["precision"] is None else f"{row['precision']:.4f}"
        lines.append(f"| {row['threshold']:.4f} | {row['recall']:.3f} | {row['false_pairs']} | {precision} |")
    lines += [
        "",
        f"False pairs at the threshold: {result['false_pairs_at_threshold']}, "
        f"{result['false_pairs_from_listed_series']} of them from these series:",
        "",
        "| false pairs | most similar | input difference | within one series | its source pictures |",
        "|---|---|---|---|---|",
    ]
    for group in result["false_pair_series"]:
        within = "yes" if group["series"][0] == group["series"][1] else "no"
        example = " / ".join(group["example"])
        difference = _number(group["input_difference"])
        lines.append(f"| {group['false_pairs']} | {group['max']:.4f} | {difference} | {within} | {example} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    parser.add_argument("--split", choices=("train", "val", "test"), default="val")
    parser.add_argument(
        "--draws", type=int, default=1, help="draws of originals pooled (seeds --seed, --seed + 1, …)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--originals", type=int, default=250)
    parser.add_argument("--threshold", type=float, default=None, help="default: the model card's")
    parser.add_argument("--top", type=int, default=15, help="series pairs listed")
    parser.add_argument("--target-precision", type=float, default=0.99)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "dupfinder" / "bench")
    parser.add_argument(
        "--out", type=Path, default=None, help="default: benchmarks/results/explain-SPLIT.json"
    )
    args = parser.parse_args(argv)
    model = args.model or find_model()
    seeds = list(range(args.seed, args.seed + args.draws))
    result = explain(
        args.corpus,
        args.work,
        model,
        args.split,
        seeds,
        args.originals,
        args.workers,
        args.threshold,
        args.top,
        args.target_precision,
    )
    out = args.out or Path("benchmarks/results") / f"explain-{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result), end="")


if __name__ == "__main__":
    main()
