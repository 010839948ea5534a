"""The accuracy benchmark's pair scoring, on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.pairs import PairSet, average_precision, evaluate_method, negative_scores


def _pairs() -> PairSet:
    # source 0: original 0, copies 1 (crop) and 2 (flip); source 1: original 3, copy 4 (crop);
    # file 5 is a distractor.
    return PairSet(np.array([0, 0, 0, 1, 1, 2]), np.array([True, False, False, True, False, False]),
                   ["", "crop", "flip", "", "crop", ""], hard_negatives=[(0, 5, "same scene")],
                   levels={"hard": ("crop", "flip")})


def test_positive_and_negative_pair_counts() -> None:
    pairs = _pairs()
    assert sorted(pairs.positives) == [(0, 1, "crop"), (0, 2, "flip"), (3, 4, "crop")]
    assert pairs.negative_count == 15 - 3 - 1  # all pairs minus same-source pairs


def test_negative_scores_cover_only_cross_source_pairs() -> None:
    pairs = _pairs()
    scores = np.arange(36, dtype=np.float32).reshape(6, 6)
    got = sorted(negative_scores(pairs, lambda rows: scores[rows], block=4).tolist())
    expected = sorted(scores[i, j] for i in range(6) for j in range(i + 1, 6)
                      if pairs.source[i] != pairs.source[j])
    assert got == expected and len(got) == 11


def test_evaluate_method_counts_hits_and_false_matches() -> None:
    pairs = _pairs()
    scores = np.full((6, 6), 0.1, np.float32)
    for i, j, value in [(0, 1, 0.95), (0, 2, 0.5), (3, 4, 0.92), (0, 5, 0.93)]:
        scores[i, j] = scores[j, i] = value
    result = evaluate_method(pairs, lambda rows: scores[rows], 0.9, 1.0)
    assert result["recall_by_transform"] == {"crop": 1.0, "flip": 0.0}
    assert result["recall_by_level"] == {"hard": 0.5}
    assert result["false_positive_pairs"] == 1 and result["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["hard_negatives_grouped"] == 1


def test_average_precision_edge_cases() -> None:
    assert average_precision(np.array([0.9, 0.8]), np.array([0.1])) == 1.0
    assert average_precision(np.array([0.1]), np.array([0.9])) == 0.5
    assert average_precision(np.array([0.5]), np.array([0.5])) == 0.5  # ties count against us
    with pytest.raises(ValueError, match="at least one positive"):
        average_precision(np.array([]), np.array([0.3]))
