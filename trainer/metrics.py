"""Pair metrics as small pure functions: average precision, precision/recall at a threshold, and
the threshold calibrated for a target precision.

Scores are similarities (higher means more alike); a pair is called a duplicate when its score is
at least `min_similarity`. Inputs are validated before anything is computed, and the edge cases
are defined rather than left to a division by zero: with no pair called a duplicate, precision is
1.0 (no false positive was made) and recall 0.0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def check_pairs(scores: object, labels: object, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """1-D finite scores and 0/1 labels of the same length; both classes present if `need_both`."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 1 or y.ndim != 1:
        raise ValueError(
            f"Invalid value for `scores`/`labels`: expected 1-D arrays, received shapes "
            f"{s.shape} and {y.shape}"
        )
    if len(s) != len(y):
        raise ValueError(
            f"Invalid value for `labels`: expected {len(s)} labels (one per score), received: {len(y)}"
        )
    if not np.all(np.isfinite(s)):
        raise ValueError("Invalid value for `scores`: expected finite numbers, received NaN or infinity")
    if len(y) and not np.all(np.isin(y, (0, 1))):
        raise ValueError(
            f"Invalid value for `labels`: expected 0 (unrelated) or 1 (duplicate), "
            f"received: {sorted(set(np.unique(y).tolist()) - {0, 1})[:5]}"
        )
    y = y.astype(bool)
    if need_both and (not y.any() or y.all()):
        raise ValueError(
            f"Invalid value for `labels`: expected both duplicate and unrelated pairs, "
            f"received {int(y.sum())} duplicate and {int((~y).sum())} unrelated"
        )
    return s, y


def precision_recall_curve(scores: object, labels: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score taken as `min_similarity`, highest first."""
    s, y = check_pairs(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_run = np.r_[s[1:] != s[:-1], True]  # tied scores are called together
    true_pos = np.cumsum(y)[last_of_run]
    called = (np.arange(len(s)) + 1)[last_of_run]
    return true_pos / called, true_pos / y.sum(), s[last_of_run]


def average_precision(scores: object, labels: object) -> float:
    """Mean of the precision reached at each duplicate's rank (step-wise area under the PR curve)."""
    precision, recall, _ = precision_recall_curve(scores, labels)
    gained = np.diff(np.r_[0.0, recall])
    return float(np.sum(gained * precision))


def precision_recall_at(scores: object, labels: object, min_similarity: float) -> tuple[float, float]:
    """Precision and recall when pairs scoring at least `min_similarity` are called duplicates."""
    s, y = check_pairs(scores, labels, need_both=False)
    if not y.any():
        raise ValueError("Invalid value for `labels`: expected at least one duplicate pair for recall")
    called = s >= min_similarity
    hits = int(np.sum(called & y))
    precision = hits / int(called.sum()) if called.any() else 1.0
    return precision, hits / int(y.sum())


@dataclass(frozen=True)
class Calibration:
    """The lowest threshold that keeps the target precision, and what it achieves on the data."""

    min_similarity: float
    precision: float
    recall: float
    target_precision: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def calibrate_threshold(scores: object, labels: object, target_precision: float = 0.99) -> Calibration:
    """The `min_similarity` with the best recall among those reaching `target_precision`.

    The threshold sits halfway between the last score called a duplicate and the next lower one,
    so it does not hang on one pair's exact value. Above every unrelated pair precision is 1.0,
    so a threshold always exists (its recall may be 0 when the model separates nothing).
    """
    if not 0 < target_precision <= 1:
        raise ValueError(
            f"Invalid value for `target_precision`: expected in (0, 1], received: "
            f"target_precision={target_precision}"
        )
    s, y = check_pairs(scores, labels)
    precision, recall, thresholds = precision_recall_curve(s, y)
    ok = np.flatnonzero(precision >= target_precision)
    if len(ok) == 0:
        top = float(np.max(s[~y]))
        threshold = float(np.nextafter(top, np.inf))
        return Calibration(threshold, 1.0, float(np.mean(s[y] >= threshold)), target_precision)
    best = ok[np.argmax(recall[ok])]
    lower = thresholds[best + 1] if best + 1 < len(thresholds) else thresholds[best] - 1e-3
    threshold = float((thresholds[best] + lower) / 2)
    return Calibration(threshold, float(precision[best]), float(recall[best]), target_precision)
