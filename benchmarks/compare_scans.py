"""Is a candidate's default scan better than the bundled one's, or did the draw favour it?

`benchmarks.compare` judges the model alone, at the threshold calibration would give each model.
What users see is a scan's groups: each card's own threshold and pHash rule, the screenshot look,
the colour veto, and one wrong link costing every pair it joins. Here both models scan the same
files of the accuracy benchmark (several draws pooled, as calibration pools them) as its `engine`
row does, each with its card's calibrated settings, so calibrate a candidate on the validation
split first (`python -m benchmarks.accuracy --split val --calibrate --model CANDIDATE.onnx`).

A paired cluster bootstrap (the clusters are look-alike series drawn whole, as in
`benchmarks.pairs.bootstrap_intervals`) redraws the split's pictures and computes both scans' pair
precision and recall on every redraw, so each difference comes with an interval. A candidate's scan
is better when the recall difference lies above zero and its precision is not shown lower; it
trades precision for recall when both are shown to move. `precision_kept_share` says in how many
redraws each scan's precision stays at the target: how sure its card's calibration is.

    python -m benchmarks.compare_scans resources/models/dupfinder-default.onnx CANDIDATE.onnx --split val
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import TIER_LEVELS, copies_found, default_scan_graph, embed_files, group_ids
from benchmarks.compare import (
    add_draw_options,
    draw_arguments,
    parse_draw_options,
    pooled_draws,
    write_result,
)
from benchmarks.pairs import PairSet, recall_by_transform_and_level, weighted_precision_recall
from dupfinder.embedder import Embedder
from dupfinder.modelcard import ModelCard, load_card


@dataclass
class ScanOutcome:
    """One model's default scans over the pooled draws: which copies each found, and the clusters
    of every unrelated pair its groups joined."""

    found: list[np.ndarray] = field(default_factory=list)  # per draw: bool per positive pair
    positive_cluster: list[np.ndarray] = field(default_factory=list)
    transforms: list[str] = field(default_factory=list)  # per positive pair, over the draws
    false_clusters: list[np.ndarray] = field(default_factory=list)  # per draw: (k, 2)
    seconds: float = 0.0

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.concatenate(self.found).astype(bool),
            np.concatenate(self.positive_cluster).astype(np.int64),
            np.concatenate(self.false_clusters).reshape(-1, 2).astype(np.int64),
        )

    def recall_by_level(self) -> dict[str, float]:
        """As the accuracy benchmark counts it: the mean of the tier's transforms' recalls."""
        found = np.concatenate(self.found).astype(bool)
        return recall_by_transform_and_level(found, self.transforms, TIER_LEVELS)[1]


def is_calibrated(card: ModelCard) -> bool:
    """Whether the card's threshold is the one `benchmarks.accuracy --split val --calibrate` wrote:
    a scan compared at a threshold its export guessed says little about the network."""
    calibration = card.evaluation.get("benchmark_calibration") or {}
    return calibration.get("split") == "val" and calibration.get("min_similarity") == card.default_threshold


def grouped_pairs(pairs: PairSet, group_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per positive pair whether both files share a group, and the (i, j) file indices of every
    pair of files from different sources that share one (what `group_counts` counts)."""
    found = copies_found(pairs, group_of)
    false: list[tuple[int, int]] = []
    for group in np.unique(group_of[group_of >= 0]):
        members = np.flatnonzero(group_of == group)
        for a, first in enumerate(members):
            for second in members[a + 1 :]:
                if pairs.source[first] != pairs.source[second]:
                    false.append((int(first), int(second)))
    return found, np.array(false, np.int64).reshape(-1, 2)


def scan_draws(
    corpus: Path, work: Path, models: list[Path], split: str, seeds: list[int], originals: int, workers: int
) -> tuple[list[ScanOutcome], list[str]]:
    """Every model's default scan of every draw, with clusters numbered across the draws, and each
    cluster's series (`benchmarks.accuracy.sibling_key`) by number."""
    series: dict[str, int] = {}
    outcomes = [ScanOutcome() for _ in models]
    embedders = [Embedder(model) for model in models]
    for seed, draw in zip(seeds, pooled_draws(corpus, work, split, seeds, originals, series)):
        paths = draw.files.paths
        for embedder, into in zip(embedders, outcomes):
            start = time.perf_counter()
            embedded = embed_files(paths, embedder, workers, second_looks=True)
            graph, index_of = default_scan_graph(paths, embedded, embedder.card.confirm_rule)
            group_of = group_ids(graph, index_of, embedder.card.default_threshold)
            found, false = grouped_pairs(draw.pairs, group_of)
            into.seconds += time.perf_counter() - start
            into.found.append(found)
            into.positive_cluster.append(draw.positive_cluster)
            into.transforms += [name for _, _, name in draw.pairs.positives]
            into.false_clusters.append(draw.cluster[false].reshape(-1, 2))
        print(f"draw {seed}: {len(paths)} files scanned with {len(models)} models", flush=True)
    return outcomes, list(series)


def false_pairs_by_series(outcome: ScanOutcome, series: list[str], top: int = 10) -> list[list[Any]]:
    """The series whose pictures a scan's groups join most often, with the false pairs each join
    makes over the draws: [series, series, pairs], most first (one series twice: two of its
    pictures)."""
    _, _, false_clusters = outcome.arrays()
    if not len(false_clusters):
        return []
    linked, counts = np.unique(np.sort(false_clusters, axis=1), axis=0, return_counts=True)
    ranked = np.argsort(-counts, kind="stable")[:top]
    return [[series[linked[i, 0]], series[linked[i, 1]], int(counts[i])] for i in ranked]


def scan_figures(outcome: ScanOutcome, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair precision and recall of a scan's groups for each row of cluster `weights`
    (redraws, clusters), as `benchmarks.pairs.weighted_precision_recall` counts them."""
    found, positive_cluster, false_clusters = outcome.arrays()
    return weighted_precision_recall(weights, positive_cluster, found, false_clusters)


def verdict(recall_interval: list[float], precision_interval: list[float]) -> str:
    """What the differences' intervals (candidate minus base) show."""
    recall_up, recall_down = recall_interval[0] > 0, recall_interval[1] < 0
    precision_up, precision_down = precision_interval[0] > 0, precision_interval[1] < 0
    if recall_up and precision_down:
        return "trades precision for recall"
    if recall_down and precision_up:
        return "trades recall for precision"
    if (recall_up or precision_up) and not (recall_down or precision_down):
        return "better"
    if (recall_down or precision_down) and not (recall_up or precision_up):
        return "worse"
    return "not shown to differ"


def compare_scans(
    base: ScanOutcome,
    candidate: ScanOutcome,
    clusters: int,
    target: float,
    redraws: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Both scans' precision and recall, their differences, and bootstrap intervals."""
    weights = np.vstack(
        [np.ones(clusters), np.random.default_rng(seed).poisson(1.0, (redraws, clusters))]
    ).astype(np.float64)
    (base_precision, base_recall), (candidate_precision, candidate_recall) = (
        scan_figures(outcome, weights) for outcome in (base, candidate)
    )

    def interval(values: np.ndarray, digits: int) -> list[float]:
        return [round(float(v), digits) for v in np.percentile(values[1:], [2.5, 97.5])]

    recall_difference = candidate_recall - base_recall
    precision_difference = candidate_precision - base_precision
    figures: dict[str, Any] = {"target_precision": target}
    for name, outcome, precision, recall in (
        ("base", base, base_precision, base_recall),
        ("candidate", candidate, candidate_precision, candidate_recall),
    ):
        figures[name] = {
            "precision": round(float(precision[0]), 5),
            "precision_interval": interval(precision, 5),
            "precision_kept_share": round(float((precision[1:] >= target).mean()), 3),
            "recall": round(float(recall[0]), 4),
            "recall_interval": interval(recall, 4),
            "recall_by_level": outcome.recall_by_level(),
            "false_pairs": int(sum(len(f) for f in outcome.false_clusters)),
            "seconds": round(outcome.seconds, 1),
        }
    recall_interval = interval(recall_difference, 4)
    precision_interval = interval(precision_difference, 5)
    return {
        **figures,
        "recall_difference": round(float(recall_difference[0]), 4),
        "recall_difference_interval": recall_interval,
        "recall_higher_share": round(float((recall_difference[1:] > 0).mean()), 3),
        "precision_difference": round(float(precision_difference[0]), 5),
        "precision_difference_interval": precision_interval,
        "precision_lower_share": round(float((precision_difference[1:] < 0).mean()), 3),
        "verdict": verdict(recall_interval, precision_interval),
        "redraws": redraws,
        "clusters": clusters,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", type=Path, help="the model to beat (the bundled one)")
    parser.add_argument("candidate", type=Path, help="calibrated on the validation split (its card)")
    add_draw_options(parser, "compare-scans.json")
    args = parse_draw_options(parser)
    for model in (args.base, args.candidate):
        if not is_calibrated(load_card(model)):
            print(
                f"warning: {model}'s threshold was not calibrated on the validation split; run "
                f"python -m benchmarks.accuracy --split val --calibrate --model {model}",
                flush=True,
            )
    outcomes, series = scan_draws(models=[args.base, args.candidate], **draw_arguments(args))
    result = {
        "base_model": str(args.base),
        "candidate_model": str(args.candidate),
        "split": args.split,
        "draws": args.draws,
        **compare_scans(outcomes[0], outcomes[1], len(series), args.target_precision, args.redraws),
    }
    for name, outcome in (("base", outcomes[0]), ("candidate", outcomes[1])):
        result[name]["false_pairs_by_series"] = false_pairs_by_series(outcome, series)
    write_result(args.out, result)


if __name__ == "__main__":
    main()
