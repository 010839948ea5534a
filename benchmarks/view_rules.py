"""How should a second view of a picture count: summed into one vector, or as a veto?

A network exported with `--centre-view` embeds each picture whole and as its centred box, and
sums the two unit vectors (`sum`). Given that export and the same weights exported with one view,
each picture's centre vector comes back exactly: with W the whole picture's unit vector and
U = (W + C) / |W + C|, C = 2 (U·W) U − W. So other rules can be scored without exporting them:
`min` calls a pair alike as much as the less alike of its two views (the centre view vetoes
look-alikes that differ in the middle, the whole view those that differ at the edges), `mean` the
mean of the two similarities, `centre` the centre view alone. Each rule's recall at the loosest
threshold keeping the target pair precision is compared with the whole picture's by
`benchmarks.compare`'s paired cluster bootstrap, on the same pooled draws.

    python -m benchmarks.view_rules resources/models/dupfinder-default.onnx TWO-VIEW.onnx --split val
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import TIER_LEVELS, build_files, embed_files, series_keys
from benchmarks.compare import (
    NEGATIVE_FLOOR_PRECISION,
    Scored,
    add_draw_options,
    compare,
    draw_arguments,
    negative_floor,
    parse_draw_options,
    write_result,
)
from benchmarks.pairs import PairSet, false_pairs_at, loosest_at, negative_scores, positive_scores
from dupfinder.embedder import Embedder

RULES = ("whole", "sum", "min", "mean", "centre")
Similarity = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (view, view) → combined


def centre_vectors(whole: np.ndarray, summed: np.ndarray) -> np.ndarray:
    """The centre view's unit vectors, from the whole picture's and the normalised sum of both."""
    centre = 2.0 * np.sum(summed * whole, axis=1, keepdims=True) * summed - whole
    return centre / np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-12)


def combine(rule: str, whole: np.ndarray, centre: np.ndarray, summed: np.ndarray) -> np.ndarray:
    """A rule's score from the three similarities (any equal shapes)."""
    if rule == "whole":
        return whole
    if rule == "sum":
        return summed
    if rule == "min":
        return np.minimum(whole, centre)
    if rule == "mean":
        return (whole + centre) / 2
    if rule == "centre":
        return centre
    raise ValueError(f"unknown rule {rule!r}: one of {', '.join(RULES)}")


def rule_scores(
    rule: str, whole: np.ndarray, centre: np.ndarray, summed: np.ndarray
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """The rule's scores by rows of files (every pair of those rows with every file) and by pairs."""

    def rows(r: np.ndarray) -> np.ndarray:
        return combine(rule, whole[r] @ whole.T, centre[r] @ centre.T, summed[r] @ summed.T)

    def pairs(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        def dot(v: np.ndarray) -> np.ndarray:
            return np.einsum("ij,ij->i", v[i], v[j])

        return combine(rule, dot(whole), dot(centre), dot(summed))

    return rows, pairs


def score_rules(
    corpus: Path,
    work: Path,
    one_view: Path,
    two_view: Path,
    split: str,
    seeds: list[int],
    originals: int,
    workers: int,
) -> tuple[dict[str, Scored], list[str], int]:
    """Every rule's scores on every draw (as `benchmarks.compare.score_draws`), each positive pair's
    transform, and the number of clusters."""
    clusters: dict[str, int] = {}
    scored = {rule: Scored() for rule in RULES}
    transforms: list[str] = []
    embedders = Embedder(one_view), Embedder(two_view)
    for seed in seeds:
        files = build_files(corpus, work, originals, seed, split)
        pairs = PairSet(files.source, files.is_original, files.transform, files.hard_negatives, TIER_LEVELS)
        cluster = np.array([clusters.setdefault(key, len(clusters)) for key in series_keys(files)])
        of_positive = np.array([cluster[j] for _, j, _ in pairs.positives], np.int64)
        transforms += [name for _, _, name in pairs.positives]
        whole, summed = (embed_files(files.paths, e, workers, second_looks=False).vectors for e in embedders)
        centre = centre_vectors(whole, summed)
        for rule, into in scored.items():
            rows, by_pair = rule_scores(rule, whole, centre, summed)
            positive = positive_scores(pairs, rows)
            floor = negative_floor(positive, negative_scores(pairs, rows), NEGATIVE_FLOOR_PRECISION)
            kept = false_pairs_at(pairs, rows, floor)
            into.positive.append(positive)
            into.positive_cluster.append(of_positive)
            into.negative.append(by_pair(kept[:, 0], kept[:, 1]).astype(np.float32))
            into.negative_clusters.append(cluster[kept])
            into.floors.append(floor)
        print(f"draw {seed}: {len(files.paths)} files, {len(RULES)} rules", flush=True)
    return scored, transforms, len(clusters)


def rule_figures(scored: Scored, transforms: list[str], target: float) -> dict[str, Any]:
    """The loosest threshold keeping `target` precision on the pooled pairs, and recall there:
    overall, per tier and per transform."""
    positive, _, negative, _, _ = scored.arrays()
    threshold = loosest_at(positive, negative, target)
    if threshold is None:
        return {"threshold": None, "recall": 0.0}
    names = np.array(transforms)
    level_of = {name: level for level, members in TIER_LEVELS.items() for name in members}
    levels = np.array([level_of[name] for name in transforms])
    found = positive >= threshold
    return {
        "threshold": round(threshold, 4),
        "recall": round(float(found.mean()), 4),
        "recall_by_level": {level: round(float(found[levels == level].mean()), 3) for level in TIER_LEVELS},
        "recall_by_transform": {
            name: round(float(found[names == name].mean()), 3) for name in sorted(set(transforms))
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("one_view", type=Path, help="the weights exported with one view")
    parser.add_argument("two_view", type=Path, help="the same weights exported with --centre-view")
    add_draw_options(parser, "view-rules.json")
    args = parse_draw_options(parser)
    scored, transforms, clusters = score_rules(
        one_view=args.one_view, two_view=args.two_view, **draw_arguments(args)
    )
    result: dict[str, Any] = {
        "one_view": str(args.one_view),
        "two_view": str(args.two_view),
        "split": args.split,
    }
    keys = (
        "candidate_recall",
        "difference",
        "difference_interval",
        "candidate_better_share",
        "candidate_sure",
    )
    for rule in RULES:
        result[rule] = rule_figures(scored[rule], transforms, args.target_precision)
        if rule != "whole":
            against = compare(scored["whole"], scored[rule], clusters, args.target_precision, args.redraws)
            result[rule]["against_whole"] = {key: against[key] for key in keys}
        else:
            sure = compare(scored["whole"], scored["whole"], clusters, args.target_precision, args.redraws)
            result[rule]["sure"] = sure["base_sure"]
    write_result(args.out, result)


if __name__ == "__main__":
    main()
