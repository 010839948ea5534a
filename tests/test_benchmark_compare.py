"""benchmarks.compare: recall at a precision target under redrawn clusters, and the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.compare import Scored, compare, negative_floor, recall_at_precision, sure_threshold


def _recall(
    positive: list[float],
    negative: list[float],
    target: float,
    weights: list[float] | None = None,
    positive_cluster: list[int] | None = None,
    negative_clusters: list[list[int]] | None = None,
    floor: float = -1.0,
) -> float:
    clusters = (
        max([*(positive_cluster or [0]), *(c for pair in negative_clusters or [[0, 0]] for c in pair)]) + 1
    )
    w = np.array([weights or [1.0] * clusters], np.float32)
    return float(
        recall_at_precision(
            np.array(positive, np.float32),
            np.array(positive_cluster or [0] * len(positive)),
            np.array(negative, np.float32),
            np.array(negative_clusters or [[0, 0]] * len(negative)).reshape(-1, 2),
            floor,
            w,
            target,
        )[0]
    )


def test_recall_at_the_loosest_threshold_that_keeps_the_precision() -> None:
    positive, negative = [0.9, 0.8, 0.7], [0.85]
    assert _recall(positive, negative, 0.99) == pytest.approx(1 / 3)  # only 0.9 keeps precision 1
    assert _recall(positive, negative, 0.6) == pytest.approx(1.0)  # at 0.7: 3 of 4 called are copies
    assert _recall(positive, [0.95], 0.99) == 0.0


def test_tied_scores_pass_a_threshold_together() -> None:
    # A copy and an unrelated pair both at 0.8: the copy cannot be had without the false pair.
    assert _recall([0.9, 0.8], [0.8], 0.9) == pytest.approx(0.5)


def test_thresholds_below_the_floor_are_not_used() -> None:
    assert _recall([0.9, 0.5], [], 0.99) == 1.0
    assert _recall([0.9, 0.5], [], 0.99, floor=0.6) == pytest.approx(0.5)


def test_weights_count_a_false_pair_by_its_clusters() -> None:
    # Copies in cluster 0 (weight 2: ten pairs counted 20); one false pair above them all.
    positive = [0.9] * 10
    inside = _recall(positive, [0.95], 0.95, [2.0, 3.0], [0] * 10, [[1, 1]])  # 20 / (20 + 3)
    across = _recall(positive, [0.95], 0.95, [2.0, 3.0], [0] * 10, [[0, 1]])  # 20 / (20 + 6)
    assert inside == 0.0 and across == 0.0
    assert _recall(positive, [0.95], 0.86, [2.0, 3.0], [0] * 10, [[1, 1]]) == 1.0  # 20/23 = 0.870
    assert _recall(positive, [0.95], 0.86, [2.0, 3.0], [0] * 10, [[0, 1]]) == 0.0  # 20/26 = 0.769


def test_negative_floor_is_where_precision_falls_under_the_share() -> None:
    positive, negative = np.array([0.9, 0.8, 0.6]), np.array([0.7, 0.5])
    assert negative_floor(positive, negative, 0.75) == pytest.approx(0.6)  # 3 of 4 called at 0.6
    assert negative_floor(positive, negative, 0.99) == pytest.approx(0.8)
    # No score reaches the share: only pairs tied with the highest score are kept.
    assert negative_floor(np.array([0.5]), np.array([0.9, 0.7]), 0.9) == pytest.approx(0.9)


def _scored(positive: np.ndarray, negative: np.ndarray, clusters: int) -> Scored:
    rng = np.random.default_rng(1)
    return Scored(
        [positive.astype(np.float32)],
        [rng.integers(0, clusters, len(positive))],
        [negative.astype(np.float32)],
        [rng.integers(0, clusters, (len(negative), 2))],
        [0.0],
    )


def test_compare_tells_a_clearly_better_model_from_the_same_one() -> None:
    rng = np.random.default_rng(0)
    negative = rng.uniform(0.5, 0.9, 300)
    base = _scored(rng.uniform(0.6, 1.0, 2000), negative, 200)
    same = compare(base, base, 200, 0.99, redraws=200)
    assert same["difference"] == 0.0 and same["verdict"] == "not shown to differ"
    better = _scored(rng.uniform(0.91, 1.0, 2000), negative, 200)
    better.positive_cluster = base.positive_cluster
    better.negative_clusters = base.negative_clusters
    result = compare(base, better, 200, 0.99, redraws=200)
    assert result["verdict"] == "better" and result["difference_interval"][0] > 0
    assert result["candidate_recall"] == 1.0 and result["candidate_better_share"] == 1.0


def test_sure_threshold_stops_above_the_first_false_pairs_that_break_the_target() -> None:
    # 100 copies at 0.99 and 50 at 0.95, each in its own cluster; five false pairs inside
    # one more cluster at 0.962. From 0.96 down precision is 100/105 at best: the grid stops at 0.965.
    scored = Scored(
        [np.array([0.99] * 100 + [0.95] * 50, np.float32)],
        [np.arange(150)],
        [np.full(5, 0.962, np.float32)],
        [np.full((5, 2), 150)],
        [0.9],
    )
    weights = np.random.default_rng(0).poisson(1.0, (500, 151)).astype(np.float32)
    sure = sure_threshold(scored, weights, 0.99)
    assert sure["threshold"] == pytest.approx(0.965)
    assert sure["recall"] == pytest.approx(100 / 150, abs=1e-4) and sure["precision_low"] == 1.0
