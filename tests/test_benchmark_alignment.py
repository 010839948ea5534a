"""Calibrating the alignment rule: the floor and bar that find most while the scans keep precision."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from benchmarks.accuracy import ScanDraws
from benchmarks.pairs import PairSet
from dupfinder.grouping import AlignedPair, Aligner, NeighbourGraph
from dupfinder.report import ImageRecord


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _draws(distractor: float) -> tuple[Callable[[], ScanDraws], Aligner]:
    """Two originals with one copy each, the copies at 0.85 and 0.77 as wholes; an unrelated
    distractor sits at 0.85 to the first original. Aligned, the copies score 0.999 and 0.997, the
    distractor `distractor`."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    vectors = np.zeros((5, 16), np.float32)
    vectors[0], vectors[2] = basis[0], basis[1]
    vectors[1] = 0.85 * basis[0] + np.sqrt(1 - 0.85**2) * basis[2]
    vectors[3] = 0.77 * basis[1] + np.sqrt(1 - 0.77**2) * basis[3]
    vectors[4] = 0.85 * basis[0] + np.sqrt(1 - 0.85**2) * basis[4]
    records = [ImageRecord(f"/p/{i}.jpg", 200 - 10 * i, 100, 1000, 1.0) for i in range(5)]
    pairs = PairSet(
        np.array([0, 0, 1, 1, 2]), np.array([True, False, True, False, False]), ["", "crop", "", "crop", ""]
    )
    aligned = {
        ("/p/0.jpg", "/p/1.jpg"): 0.999,
        ("/p/2.jpg", "/p/3.jpg"): 0.997,
        ("/p/0.jpg", "/p/4.jpg"): distractor,
    }

    def aligner(first: str, second: str) -> AlignedPair | None:
        score = aligned.get((first, second)) or aligned.get((second, first))
        return None if score is None else AlignedPair(score, False, True)

    def scans() -> ScanDraws:
        draws = ScanDraws.__new__(ScanDraws)
        graph = NeighbourGraph(records, _unit(vectors))
        draws.graphs = [(pairs, graph, {r.path: i for i, r in enumerate(records)})]
        return draws

    return scans, aligner


def test_the_floor_and_bar_that_find_most_at_the_precision_asked_are_chosen() -> None:
    """With the distractor at 0.993, a bar of 0.99 lets it in and 0.995 keeps it out. Both copies
    are in from 0.997 once the floor is 0.75 (0.7 finds no more: the higher floor aligns fewer
    pairs), and 0.997 is chosen rather than 0.995: one step lower still keeps precision."""
    scans, aligner = _draws(0.993)
    log: dict[str, object] = {}
    rule = scans().checked_alignment(0.95, {}, aligner, 0.99, log)
    assert (rule["floor"], rule["min_similarity"]) == (0.75, 0.997)
    assert rule["engine_precision"] == 1.0 and rule["engine_recall"] == 1.0
    assert rule["guard_precision"] == 1.0  # 0.995, the bar below, keeps it too
    tried = log["alignment_tried"]
    assert isinstance(tried, list)
    at_floor = [t for t in tried if t["floor"] == 0.8]
    assert at_floor[-1]["min_similarity"] == 0.99 and at_floor[-1]["precision"] < 0.99  # the first to fail
    assert max(t["recall"] for t in at_floor if t["precision"] >= 0.99) == 0.5  # the 0.77 copy is below it
    low = AlignedPair(0.9, False, True)
    assert scans().checked_alignment(0.95, {}, lambda a, b: low, 0.99, {}) == {}


@pytest.mark.parametrize(("distractor", "bar", "recall"), [(0.996, 0.999, 0.5), (0.998, None, None)])
def test_a_bar_whose_next_lower_bar_loses_precision_is_not_chosen(
    distractor: float, bar: float | None, recall: float | None
) -> None:
    """At 0.996 the distractor passes 0.995: 0.997, which finds both copies, sits right above that
    edge and is passed over for 0.999, which finds one. At 0.998 only 0.999 keeps it out, and the
    bar below it does not: no rule."""
    scans, aligner = _draws(distractor)
    rule = scans().checked_alignment(0.95, {}, aligner, 0.99, {})
    if bar is None:
        assert rule == {}
    else:
        assert (rule["min_similarity"], rule["engine_recall"]) == (bar, recall)
