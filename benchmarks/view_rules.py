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
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import TIER_LEVELS, embed_files
from benchmarks.compare import (
    PairScores,
    Scored,
    add_draw_options,
    compare,
    draw_arguments,
    parse_draw_options,
    pooled_draws,
    write_result,
)
from benchmarks.pairs import ScoreRows, loosest_at, recall_by_transform_and_level
from dupfinder.embedder import Embedder

RULES = ("whole", "sum", "min", "mean", "centre")


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
) -> tuple[ScoreRows, PairScores]:
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
    series: dict[str, int] = {}
    scored = {rule: Scored() for rule in RULES}
    transforms: list[str] = []
    embedders = Embedder(one_view), Embedder(two_view)
    for seed, draw in zip(seeds, pooled_draws(corpus, work, split, seeds, originals, series)):
        transforms += [name for _, _, name in draw.pairs.positives]
        whole, summed = (
            embed_files(draw.files.paths, e, workers, second_looks=False).vectors for e in embedders
        )
        centre = centre_vectors(whole, summed)
        for rule, into in scored.items():
            into.add_draw(draw, *rule_scores(rule, whole, centre, summed))
        print(f"draw {seed}: {len(draw.files.paths)} files, {len(RULES)} rules", flush=True)
    return scored, transforms, len(series)


def rule_figures(scored: Scored, transforms: list[str], target: float) -> dict[str, Any]:
    """The loosest threshold keeping `target` precision on the pooled pairs, and recall there:
    overall, per tier and per transform."""
    positive, _, negative, _, _ = scored.arrays()
    threshold = loosest_at(positive, negative, target)
    if threshold is None:
        return {"threshold": None, "recall": 0.0}
    found = positive >= threshold
    by_transform, by_level = recall_by_transform_and_level(found, transforms, TIER_LEVELS)
    return {
        "threshold": round(threshold, 4),
        "recall": round(float(found.mean()), 4),
        "recall_by_level": by_level,
        "recall_by_transform": dict(sorted(by_transform.items())),
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
