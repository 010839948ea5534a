"""Is a candidate model better than the bundled one, or did the draw of look-alikes favour it?

Both models score the same files of the accuracy benchmark (several draws of originals pooled, as
calibration pools them). The figure compared is the model alone's recall at the loosest threshold
whose pair precision reaches the target: what calibration would give each model. A paired cluster
bootstrap (`benchmarks.pairs.bootstrap_intervals` explains the clusters: look-alike series drawn
whole) redraws the split's pictures and computes both figures on every redraw, so the difference
comes with an interval. A candidate is better only when that interval lies above zero. The same
redraws price certainty: for each model, the loosest threshold whose precision reaches the target in
95% of redraws, and the recall left there (`sure_threshold`).

On the validation split's five draws, the MobileNetV2 ensemble (`benchmarks/candidates/README.md`)
gained 7.7 points over the bundled network, interval -1.5 to +18.7: not shown, and on the test
split it gained nothing at equal precision (-0.8, interval -7.4 to +9.0).

    python -m benchmarks.compare resources/models/dupfinder-default.onnx CANDIDATE.onnx --split val
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import (
    DEFAULT_CORPUS,
    GATES,
    TIER_LEVELS,
    BenchFiles,
    build_files,
    embed_files,
    series_keys,
)
from benchmarks.pairs import (
    PairSet,
    ScoreRows,
    false_pair_weights,
    false_pairs_at,
    loosest_at,
    negative_scores,
    positive_scores,
)
from dupfinder.embedder import Embedder

PairScores = Callable[[np.ndarray, np.ndarray], np.ndarray]  # file indices i, j → each pair's score

# Unrelated pairs below the score where a model's own precision falls under this share are left
# out: no redraw moves a 0.99-precision threshold down there, and keeping them all would hold
# millions of scores per draw.
NEGATIVE_FLOOR_PRECISION = 0.9
BLOCK_DRAWS = 100  # bootstrap redraws computed at once (memory: redraws x scored pairs)


@dataclass
class Scored:
    """One model's scores on the pooled draws, each pair with its clusters."""

    positive: list[np.ndarray] = field(default_factory=list)
    positive_cluster: list[np.ndarray] = field(default_factory=list)
    negative: list[np.ndarray] = field(default_factory=list)
    negative_clusters: list[np.ndarray] = field(default_factory=list)  # (k, 2)
    floors: list[float] = field(default_factory=list)  # per draw: unrelated pairs below were left out

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        return (
            np.concatenate(self.positive),
            np.concatenate(self.positive_cluster),
            np.concatenate(self.negative),
            np.concatenate(self.negative_clusters),
            max(self.floors),
        )

    def add_draw(
        self, draw: Draw, rows: ScoreRows, by_pair: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> None:
        """One draw's scores: every copy's, and the unrelated pairs' from the floor up (`rows`
        scores rows of files against all, `by_pair` the pairs of file indices i and j)."""
        positive = positive_scores(draw.pairs, rows)
        floor = negative_floor(positive, negative_scores(draw.pairs, rows), NEGATIVE_FLOOR_PRECISION)
        kept = false_pairs_at(draw.pairs, rows, floor)
        self.positive.append(positive)
        self.positive_cluster.append(draw.positive_cluster)
        self.negative.append(by_pair(kept[:, 0], kept[:, 1]).astype(np.float32))
        self.negative_clusters.append(draw.cluster[kept])
        self.floors.append(floor)


@dataclass
class Draw:
    """One draw of the accuracy benchmark's files, each file's cluster (its look-alike series,
    numbered across the draws) and each copy's (in `pairs.positives` order)."""

    files: BenchFiles
    pairs: PairSet
    cluster: np.ndarray
    positive_cluster: np.ndarray


def pooled_draws(
    corpus: Path, work: Path, split: str, seeds: list[int], originals: int, series: dict[str, int]
) -> Iterator[Draw]:
    """The draws of `seeds`, numbering look-alike series in `series` as they first appear, so that a
    series drawn again is one cluster for the bootstrap."""
    for seed in seeds:
        files = build_files(corpus, work, originals, seed, split)
        pairs = PairSet(files.source, files.is_original, files.transform, files.hard_negatives, TIER_LEVELS)
        cluster = np.array([series.setdefault(key, len(series)) for key in series_keys(files)])
        yield Draw(files, pairs, cluster, np.array([cluster[j] for _, j, _ in pairs.positives], np.int64))


def negative_floor(positive: np.ndarray, negative: np.ndarray, target: float) -> float:
    """The lowest score at which this sample's pair precision is still at least `target` (its
    highest score when none is: then only pairs tied with it are kept)."""
    floor = loosest_at(positive, negative, target)
    return float(max(positive.max(initial=-1.0), negative.max(initial=-1.0))) if floor is None else floor


def recall_at_precision(
    positive: np.ndarray,
    positive_cluster: np.ndarray,
    negative: np.ndarray,
    negative_clusters: np.ndarray,
    floor: float,
    weights: np.ndarray,
    target: float,
) -> np.ndarray:
    """For each row of cluster `weights` (redraws, clusters): the weighted share of positive pairs
    scoring at or above the loosest threshold whose weighted pair precision reaches `target`.

    A positive pair weighs its cluster's weight, an unrelated pair as `false_pair_weights` says.
    Thresholds below `floor`, where unrelated pairs were left out, are not considered.
    """
    scores = np.concatenate([positive, negative])
    order = np.argsort(-scores, kind="stable")
    # Tied scores pass a threshold together: precision is judged only where a run of ties ends.
    ends = np.append(np.diff(scores[order]) != 0, True) & (scores[order] >= floor)
    result = np.empty(len(weights))
    for start in range(0, len(weights), BLOCK_DRAWS):
        w = weights[start : start + BLOCK_DRAWS]
        hit = w[:, positive_cluster]
        false = false_pair_weights(w, negative_clusters)
        found = np.cumsum(np.concatenate([hit, np.zeros_like(false)], axis=1)[:, order], axis=1)
        wrong = np.cumsum(np.concatenate([np.zeros_like(hit), false], axis=1)[:, order], axis=1)
        reached = (found >= target * (found + wrong)) & ends[None, :]
        best = np.where(reached, found, 0.0).max(axis=1)
        total = hit.sum(axis=1)
        result[start : start + BLOCK_DRAWS] = np.divide(best, total, out=np.zeros(len(w)), where=total > 0)
    return result


def sure_threshold(
    scored: Scored, weights: np.ndarray, target: float, share: float = 0.95, step: float = 0.005
) -> dict[str, float]:
    """The loosest threshold (on a grid of `step`, from the top down) at which pair precision stays
    at `target` or above in `share` of the redraws, and the model alone's recall there: what being
    that sure of the precision costs."""
    positive, positive_cluster, negative, negative_clusters, floor = scored.arrays()
    false = false_pair_weights(weights, negative_clusters)
    best = {"threshold": 1.0, "recall": 0.0, "precision_low": 1.0}
    for threshold in np.round(np.arange(1.0, floor, -step), 6):
        hits = weights[:, positive_cluster[positive >= threshold]].sum(axis=1)
        called = hits + false[:, negative >= threshold].sum(axis=1)
        precision = np.divide(hits, called, out=np.ones(len(weights)), where=called > 0)
        low = float(np.percentile(precision, 100 * (1 - share)))
        if low < target:
            break
        best = {
            "threshold": float(threshold),
            "recall": float(np.mean(positive >= threshold)),
            "precision_low": low,
        }
    return {key: round(value, 4) for key, value in best.items()}


def score_draws(
    corpus: Path, work: Path, models: list[Path], split: str, seeds: list[int], originals: int, workers: int
) -> tuple[list[Scored], int]:
    """Every model's scores on every draw, with clusters numbered across the draws."""
    series: dict[str, int] = {}
    scored = [Scored() for _ in models]
    embedders = [Embedder(model) for model in models]
    for seed, draw in zip(seeds, pooled_draws(corpus, work, split, seeds, originals, series)):
        for embedder, into in zip(embedders, scored):
            vectors = embed_files(draw.files.paths, embedder, workers, second_looks=False).vectors

            def rows(r: np.ndarray, v: np.ndarray = vectors) -> np.ndarray:
                return v[r] @ v.T

            def by_pair(i: np.ndarray, j: np.ndarray, v: np.ndarray = vectors) -> np.ndarray:
                return np.einsum("ij,ij->i", v[i], v[j])

            into.add_draw(draw, rows, by_pair)
        print(f"draw {seed}: {len(draw.files.paths)} files scored by {len(models)} models", flush=True)
    return scored, len(series)


def compare(
    base: Scored, candidate: Scored, clusters: int, target: float, redraws: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Both models' recall at `target` precision, the difference, and their bootstrap intervals."""
    weights = np.vstack(
        [np.ones(clusters), np.random.default_rng(seed).poisson(1.0, (redraws, clusters))]
    ).astype(np.float32)
    figures = [recall_at_precision(*model.arrays(), weights, target) for model in (base, candidate)]
    difference = figures[1] - figures[0]

    def interval(values: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(values[1:], [2.5, 97.5])]

    low, high = interval(difference)
    sure = [sure_threshold(model, weights[1:], target) for model in (base, candidate)]
    verdict = "better" if low > 0 else "worse" if high < 0 else "not shown to differ"
    return {
        "target_precision": target,
        "base_recall": round(float(figures[0][0]), 4),
        "base_interval": interval(figures[0]),
        "candidate_recall": round(float(figures[1][0]), 4),
        "candidate_interval": interval(figures[1]),
        "difference": round(float(difference[0]), 4),
        "difference_interval": [low, high],
        "candidate_better_share": round(float((difference[1:] > 0).mean()), 3),
        "verdict": verdict,
        # Where precision stays at the target in 95% of redraws, and the recall left there.
        "base_sure": sure[0],
        "candidate_sure": sure[1],
        "redraws": redraws,
        "clusters": clusters,
    }


def add_draw_options(parser: argparse.ArgumentParser, out: str) -> None:
    """The options every comparison over pooled draws of the accuracy benchmark shares
    (`compare`, `compare_scans`, `view_rules`), with `out` the default result file's name."""
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--draws", type=int, default=5, help="draws of originals pooled (seeds 0, 1, …)")
    parser.add_argument("--originals", type=int, default=250)
    parser.add_argument("--target-precision", type=float, default=GATES["precision"])
    parser.add_argument(
        "--redraws", type=int, default=1000, help="bootstrap redraws of the look-alike series"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "dupfinder" / "bench")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results") / out)


def parse_draw_options(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed options, once the corpus's split is known to be there."""
    args = parser.parse_args()
    if not (args.corpus / "images" / args.split).is_dir():
        raise SystemExit(f"no corpus at {args.corpus}: build it with scripts/build-corpus first")
    return args


def draw_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as the keyword arguments that `score_draws` and its kin take."""
    return {
        "corpus": args.corpus,
        "work": args.work,
        "split": args.split,
        "seeds": list(range(args.draws)),
        "originals": args.originals,
        "workers": args.workers,
    }


def write_result(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", type=Path, help="the model to beat (the bundled one)")
    parser.add_argument("candidate", type=Path)
    add_draw_options(parser, "compare.json")
    args = parse_draw_options(parser)
    scored, clusters = score_draws(models=[args.base, args.candidate], **draw_arguments(args))
    result = {
        "base": str(args.base),
        "candidate": str(args.candidate),
        "split": args.split,
        "draws": args.draws,
        **compare(scored[0], scored[1], clusters, args.target_precision, args.redraws),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
