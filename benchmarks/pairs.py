"""Pair-level scoring for the accuracy benchmark, as small pure functions.

A `PairSet` knows which file pairs are duplicates (an original and a copy derived from it) and
which are not (files of different sources). `evaluate_method` scores every such pair with a
method's similarity and reports precision, recall per transform and tier, F1 and pair average
precision. Scores are "higher is more similar" for every method; thresholds are `min_similarity`.

Precision and recall come with 95% intervals from a cluster bootstrap (`bootstrap_intervals`): the
corpus's pictures are drawn again, whole look-alike series at a time, because one look-alike series
(the frames of an animation, the phases of the Moon) makes tens of false pairs that stand or fall
together. A threshold or candidate that beats another by less than these intervals' width has not
been shown to be better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ScoreRows = Callable[[np.ndarray], np.ndarray]  # row indices → (len(rows), n_files) scores


@dataclass
class PairSet:
    source: np.ndarray
    is_original: np.ndarray
    transform: list[str]
    hard_negatives: list[tuple[int, int, str]] = field(default_factory=list)
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What the bootstrap draws whole, per file: by default each source with its copies; the
    # benchmark passes look-alike series (`benchmarks.accuracy.sibling_key`).
    cluster: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not len(self.source) == len(self.is_original) == len(self.transform):
            raise ValueError("source, is_original and transform must have one entry per file")
        if self.cluster is None:
            self.cluster = np.unique(self.source, return_inverse=True)[1]
        elif len(self.cluster) != len(self.source):
            raise ValueError("cluster must have one entry per file")
        elif any(len(set(self.cluster[self.source == s].tolist())) > 1 for s in np.unique(self.source)):
            raise ValueError("a source's files must all be in one cluster")
        original_of = {int(s): i for i, s in enumerate(self.source) if self.is_original[i]}
        self.positives = [
            (original_of[int(self.source[j])], j, self.transform[j])
            for j in range(len(self.source))
            if self.transform[j] and int(self.source[j]) in original_of
        ]

    @property
    def positive_count(self) -> int:
        return len(self.positives)

    @property
    def negative_count(self) -> int:
        _, counts = np.unique(self.source, return_counts=True)
        total = len(self.source) * (len(self.source) - 1) // 2
        return int(total - (counts * (counts - 1) // 2).sum())


def negative_scores(pairs: PairSet, score_rows: ScoreRows, block: int = 512) -> np.ndarray:
    """Scores of every pair (i < j) whose files come from different sources."""
    count = len(pairs.source)
    chunks = []
    for start in range(0, count, block):
        rows = np.arange(start, min(start + block, count))
        scores = score_rows(rows)
        upper = np.arange(count)[None, :] > rows[:, None]
        different = pairs.source[rows][:, None] != pairs.source[None, :]
        chunks.append(scores[upper & different].astype(np.float32))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def false_pairs_at(
    pairs: PairSet, score_rows: ScoreRows, min_similarity: float, block: int = 512
) -> np.ndarray:
    """(k, 2) file indices (i < j) of the cross-source pairs scoring at least `min_similarity`."""
    count = len(pairs.source)
    found = []
    for start in range(0, count, block):
        rows = np.arange(start, min(start + block, count))
        hits = score_rows(rows) >= min_similarity
        hits &= np.arange(count)[None, :] > rows[:, None]
        hits &= pairs.source[rows][:, None] != pairs.source[None, :]
        r, j = np.nonzero(hits)
        found.append(np.stack([rows[r], j], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def false_pair_weights(weights: np.ndarray, cluster_pairs: np.ndarray) -> np.ndarray:
    """(redraws, pairs): how many times each unrelated pair exists in each redraw, given the
    clusters' `weights` (redraws, clusters) and each pair's two clusters (pairs, 2).

    A pair inside one cluster comes with it once per draw of it; a pair across two clusters exists
    once for every draw of each (both pictures must be in the corpus for the pair to exist)."""
    cluster_pairs = np.asarray(cluster_pairs, np.int64).reshape(-1, 2)
    inside = cluster_pairs[:, 0] == cluster_pairs[:, 1]
    return weights[:, cluster_pairs[:, 0]] * np.where(inside[None, :], 1.0, weights[:, cluster_pairs[:, 1]])


def weighted_precision_recall(
    weights: np.ndarray, positive_cluster: np.ndarray, found: np.ndarray, false_clusters: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pair precision and recall for each row of cluster `weights` (redraws, clusters): a copy
    counts its cluster's weight (`found` flags those called copies), an unrelated pair called a copy
    as `false_pair_weights` says, given its two clusters (`false_clusters`, (k, 2))."""
    clusters = weights.shape[1]
    total = weights @ np.bincount(positive_cluster, minlength=clusters)
    hits = weights @ np.bincount(positive_cluster[found], minlength=clusters)
    false = np.zeros(len(weights))
    if len(false_clusters):
        linked, counts = np.unique(np.sort(false_clusters, axis=1), axis=0, return_counts=True)
        false = false_pair_weights(weights, linked) @ counts
    called = hits + false
    precision = np.divide(hits, called, out=np.ones(len(weights)), where=called > 0)
    recall = np.divide(hits, total, out=np.zeros(len(weights)), where=total > 0)
    return precision, recall


def recall_by_transform_and_level(
    found: np.ndarray, transforms: list[str], levels: dict[str, tuple[str, ...]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Recall per transform (`found` flags each copy, `transforms` names its edit), and per tier
    level as the mean of its transforms' recalls, so every edit weighs alike in its tier."""
    names = np.array(transforms)
    by_transform = {name: round(float(found[names == name].mean()), 4) for name in dict.fromkeys(transforms)}
    by_level = {
        level: round(float(np.mean([by_transform[t] for t in members if t in by_transform])), 4)
        for level, members in levels.items()
    }
    return by_transform, by_level


def bootstrap_intervals(
    pairs: PairSet,
    found: np.ndarray,
    false_pairs: np.ndarray,
    draws: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, list[float]]:
    """Intervals for precision and recall when the corpus's clusters are drawn again.

    Each draw gives every cluster a Poisson(1) weight (how many times it was drawn): a positive
    pair counts its cluster's weight, a false pair as `false_pair_weights` says. `found` flags
    `pairs.positives`.
    """
    assert pairs.cluster is not None
    clusters = int(pairs.cluster.max()) + 1
    weights = np.random.default_rng(seed).poisson(1.0, (draws, clusters)).astype(np.float64)
    of_positive = np.array([pairs.cluster[j] for _, j, _ in pairs.positives], np.int64)
    false_clusters = pairs.cluster[np.asarray(false_pairs, np.int64).reshape(-1, 2)]
    precision, recall = weighted_precision_recall(weights, of_positive, found, false_clusters)
    ends = [(1.0 - level) / 2 * 100, (1.0 + level) / 2 * 100]
    return {
        "precision": [round(float(v), 5) for v in np.percentile(precision, ends)],
        "recall": [round(float(v), 4) for v in np.percentile(recall, ends)],
    }


def average_precision(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the precision-recall curve over all scored pairs (ties broken pessimistically)."""
    if len(positive) == 0:
        raise ValueError("average precision needs at least one positive pair")
    scores = np.concatenate([positive, negative])
    labels = np.concatenate([np.ones(len(positive), bool), np.zeros(len(negative), bool)])
    order = np.lexsort((labels, -scores))  # within equal scores, negatives first
    hits = np.cumsum(labels[order])
    precision_at = hits / np.arange(1, len(scores) + 1)
    return float(precision_at[labels[order]].sum() / len(positive))


def positive_scores(pairs: PairSet, score_rows: ScoreRows) -> np.ndarray:
    """Scores of the (original, derived copy) pairs, in `pairs.positives` order."""
    return np.array([score_rows(np.array([i]))[0, j] for i, j, _ in pairs.positives], np.float32)


def loosest_threshold(
    positive: np.ndarray, negative: np.ndarray, candidates: list[float], min_precision: float
) -> float | None:
    """The lowest candidate threshold whose pair precision is at least `min_precision` (None: none).

    Used to compare a baseline with the model at equal precision; choosing it on the scored pairs
    themselves favours the baseline, which keeps the comparison fair to it.
    """
    for threshold in sorted(candidates):
        found, false = counts_at(positive, negative, threshold)
        if found and found / (found + false) >= min_precision:
            return threshold
    return None


def loosest_at(positive: np.ndarray, negative: np.ndarray, target: float) -> float | None:
    """The lowest score at which the pair precision of every pair scoring at least that much
    reaches `target` (tied scores pass together); None when no score does."""
    scores = np.concatenate([positive, negative])
    is_positive = np.concatenate([np.ones(len(positive), bool), np.zeros(len(negative), bool)])
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(is_positive[order])
    ends = np.append(ranked[1:] != ranked[:-1], True)
    reached = np.flatnonzero(ends & (hits >= target * np.arange(1, len(scores) + 1)))
    return float(ranked[reached[-1]]) if reached.size else None


def counts_at(positive: np.ndarray, negative: np.ndarray, threshold: float) -> tuple[int, int]:
    """(true pairs, false pairs) scoring at least `threshold`."""
    return int((positive >= threshold).sum()), int((negative >= threshold).sum())


def most_precise_threshold(positive: np.ndarray, negative: np.ndarray, candidates: list[float]) -> float:
    """The candidate threshold with the highest pair precision (ties: the loosest), for a baseline
    that reaches the model's precision at none of them."""
    best, best_precision = max(candidates), -1.0
    for threshold in sorted(candidates):
        found, false = counts_at(positive, negative, threshold)
        precision = found / (found + false) if found + false else 0.0
        if found and precision > best_precision:
            best, best_precision = threshold, precision
    return best


def evaluate_method(
    pairs: PairSet,
    score_rows: ScoreRows,
    min_similarity: float,
    seconds: float,
    scored: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Precision, recall (overall, per transform, per tier level), F1, AP and hard-negative hits.

    `scored` passes (positive, negative) scores already computed, so one method judged at two
    thresholds scores its millions of pairs once.
    """
    positive, negative = scored or (positive_scores(pairs, score_rows), negative_scores(pairs, score_rows))
    found = positive >= min_similarity
    false = int((negative >= min_similarity).sum())
    precision = float(found.sum() / (found.sum() + false)) if found.sum() + false else 1.0
    recall = float(found.mean()) if len(found) else 0.0
    by_transform, by_level = recall_by_transform_and_level(
        found, [p[2] for p in pairs.positives], pairs.levels
    )
    hard = sum(bool(score_rows(np.array([a]))[0, b] >= min_similarity) for a, b, _ in pairs.hard_negatives)
    intervals = bootstrap_intervals(pairs, found, false_pairs_at(pairs, score_rows, min_similarity))
    return {
        "min_similarity": float(min_similarity),
        "precision": round(precision, 5),
        "precision_interval": intervals["precision"],
        "recall": round(recall, 4),
        "recall_interval": intervals["recall"],
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "false_positive_pairs": false,
        "average_precision": round(average_precision(positive, negative), 4),
        "recall_by_level": by_level,
        "recall_by_transform": by_transform,
        "hard_negatives_grouped": hard,
        "seconds": round(seconds, 2),
    }
