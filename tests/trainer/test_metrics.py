"""Pair metrics: known values, tie handling, calibration, and validated edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from trainer import metrics


def test_average_precision_by_hand() -> None:
    # Ranks: dup (P=1/1), unrelated, dup (P=2/3), unrelated → AP = (1 + 2/3) / 2.
    assert metrics.average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(5 / 6)
    assert metrics.average_precision([0.9, 0.8, 0.2], [1, 1, 0]) == pytest.approx(1.0)


def test_tied_scores_are_called_together() -> None:
    precision, recall, thresholds = metrics.precision_recall_curve([0.5, 0.5, 0.1], [1, 0, 1])
    assert thresholds.tolist() == [0.5, 0.1]
    assert precision[0] == pytest.approx(0.5) and recall[0] == pytest.approx(0.5)


def test_precision_recall_at_threshold() -> None:
    scores, labels = [0.95, 0.9, 0.85, 0.3], [1, 0, 1, 1]
    assert metrics.precision_recall_at(scores, labels, 0.85) == pytest.approx((2 / 3, 2 / 3))
    # Nothing called a duplicate: no false positive was made (precision 1), nothing found.
    assert metrics.precision_recall_at(scores, labels, 0.99) == (1.0, 0.0)


def test_calibration_picks_the_best_recall_at_the_target_precision() -> None:
    scores = [0.99, 0.97, 0.95, 0.90, 0.80, 0.60]
    labels = [1, 1, 1, 0, 1, 0]
    result = metrics.calibrate_threshold(scores, labels, target_precision=0.99)
    assert result.precision == 1.0 and result.recall == pytest.approx(0.75)
    assert 0.90 < result.min_similarity < 0.95  # halfway between the last duplicate and the next score
    assert metrics.precision_recall_at(scores, labels, result.min_similarity) == (1.0, pytest.approx(0.75))
    looser = metrics.calibrate_threshold(scores, labels, target_precision=0.8)
    assert looser.recall == 1.0 and looser.min_similarity < 0.80


def test_calibration_when_the_top_pair_is_unrelated() -> None:
    result = metrics.calibrate_threshold([0.99, 0.5, 0.4], [0, 1, 1], target_precision=0.99)
    assert result.min_similarity > 0.99 and result.recall == 0.0 and result.precision == 1.0


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2], [1], "expected 2 labels"),
        ([0.1, float("nan")], [1, 0], "finite"),
        ([0.1, 0.2], [1, 2], "0 \\(unrelated\\) or 1"),
        ([0.1, 0.2], [1, 1], "both duplicate and unrelated"),
        ([], [], "both duplicate and unrelated"),
        ([[0.1]], [[1]], "1-D"),
    ],
)
def test_bad_inputs_are_refused_before_computing(scores: object, labels: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics.average_precision(scores, labels)


def test_target_precision_is_validated() -> None:
    with pytest.raises(ValueError, match="Invalid value for `target_precision`"):
        metrics.calibrate_threshold([0.1, 0.9], [0, 1], target_precision=1.5)


def test_recall_needs_a_duplicate() -> None:
    with pytest.raises(ValueError, match="at least one duplicate"):
        metrics.precision_recall_at(np.array([0.2, 0.3]), np.array([0, 0]), 0.5)
