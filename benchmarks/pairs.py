"""Pair-level scoring for the accuracy benchmark, as small pure functions.

A `PairSet` knows which file pairs are duplicates (an original and a copy derived from it) and
which are not (files of different sources). `evaluate_method` scores every such pair with a
method's similarity and reports precision, recall per transform and tier, F1 and pair average
precision. Scores are "higher is more similar" for every method; thresholds are `min_similarity`.
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

    def __post_init__(self) -> None:
        if not len(self.source) == len(self.is_original) == len(self.transform):
            raise ValueError("source, is_original and transform must have one entry per file")
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
    names = [p[2] for p in pairs.positives]
    by_transform = {
        name: round(float(found[[n == name for n in names]].mean()), 4) for name in dict.fromkeys(names)
    }
    by_level = {
        level: round(float(np.mean([by_transform[t] for t in members if t in by_transform])), 4)
        for level, members in pairs.levels.items()
    }
    hard = sum(bool(score_rows(np.array([a]))[0, b] >= min_similarity) for a, b, _ in pairs.hard_negatives)
    return {
        "min_similarity": float(min_similarity),
        "precision": round(precision, 5),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "false_positive_pairs": false,
        "average_precision": round(average_precision(positive, negative), 4),
        "recall_by_level": by_level,
        "recall_by_transform": by_transform,
        "hard_negatives_grouped": hard,
        "seconds": round(seconds, 2),
    }
