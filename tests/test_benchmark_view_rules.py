"""benchmarks.view_rules: the centre view recovered from a summed export, and the rules' scores."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.compare import Scored
from benchmarks.view_rules import RULES, centre_vectors, combine, rule_figures, rule_scores


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_centre_vector_comes_back_from_the_sum() -> None:
    rng = np.random.default_rng(0)
    whole, centre = _unit(rng.normal(size=(50, 16))), _unit(rng.normal(size=(50, 16)))
    summed = _unit(whole + centre)
    assert np.allclose(centre_vectors(whole, summed), centre, atol=1e-9)


def test_min_lets_either_view_veto_a_pair() -> None:
    whole, centre, summed = np.array([0.99, 0.90]), np.array([0.80, 0.97]), np.array([0.9, 0.93])
    assert combine("min", whole, centre, summed).tolist() == [0.80, 0.90]
    assert combine("mean", whole, centre, summed).tolist() == pytest.approx([0.895, 0.935])
    assert combine("sum", whole, centre, summed) is summed
    with pytest.raises(ValueError, match="one of"):
        combine("max", whole, centre, summed)


@pytest.mark.parametrize("rule", RULES)
def test_rows_and_pairs_score_alike(rule: str) -> None:
    rng = np.random.default_rng(1)
    whole, centre = _unit(rng.normal(size=(12, 8))), _unit(rng.normal(size=(12, 8)))
    rows, pairs = rule_scores(rule, whole, centre, _unit(whole + centre))
    i, j = np.array([0, 3, 7]), np.array([5, 9, 11])
    assert np.allclose(rows(i)[np.arange(3), j], pairs(i, j))


def test_figures_at_the_loosest_threshold_keeping_the_precision() -> None:
    scored = Scored(
        [np.array([0.99, 0.95, 0.90, 0.80], np.float32)],
        [np.zeros(4, np.int64)],
        [np.array([0.92], np.float32)],
        [np.array([[1, 1]])],
        [0.0],
    )
    figures = rule_figures(scored, ["jpeg-q25", "greyscale", "crop-40", "rotate-10"], 0.99)
    assert figures["threshold"] == pytest.approx(0.95)
    assert figures["recall"] == 0.5
    assert figures["recall_by_level"] == {"easy": 1.0, "medium": 1.0, "hard": 0.0}
    assert figures["recall_by_transform"]["crop-40"] == 0.0
    nothing = Scored(
        [np.array([0.5], np.float32)],
        [np.zeros(1, np.int64)],
        [np.array([0.9], np.float32)],
        [np.array([[1, 1]])],
        [0.0],
    )
    assert rule_figures(nothing, ["jpeg-q25"], 0.99) == {"threshold": None, "recall": 0.0}
