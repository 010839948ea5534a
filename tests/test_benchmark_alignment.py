"""Calibrating the alignment rule: the floor and bar that find most while the scans keep precision."""

from __future__ import annotations

import numpy as np

from benchmarks.accuracy import ScanDraws
from benchmarks.pairs import PairSet
from dupfinder.grouping import AlignedPair, NeighbourGraph
from dupfinder.report import ImageRecord


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_the_floor_and_bar_that_find_most_at_the_precision_asked_are_chosen() -> None:
    """Two originals with one copy each, the copies at 0.85 and 0.77 as wholes; an unrelated
    distractor sits at 0.85 to the first original. Aligned, the copies score 0.999 and 0.996, the
    distractor 0.993: a bar of 0.99 lets it in, 0.995 keeps it out and both copies in, once the
    floor is 0.75 (0.7 finds no more: the higher floor aligns fewer pairs)."""
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
        ("/p/2.jpg", "/p/3.jpg"): 0.996,
        ("/p/0.jpg", "/p/4.jpg"): 0.993,
    }

    def aligner(first: str, second: str) -> AlignedPair | None:
        score = aligned.get((first, second)) or aligned.get((second, first))
        return None if score is None else AlignedPair(score, False, True)

    def scans() -> ScanDraws:
        draws = ScanDraws.__new__(ScanDraws)
        graph = NeighbourGraph(records, _unit(vectors))
        draws.graphs = [(pairs, graph, {r.path: i for i, r in enumerate(records)})]
        return draws

    log: dict[str, object] = {}
    rule = scans().checked_alignment(0.95, {}, aligner, 0.99, log)
    assert (rule["floor"], rule["min_similarity"]) == (0.75, 0.995)
    assert rule["engine_precision"] == 1.0 and rule["engine_recall"] == 1.0
    tried = log["alignment_tried"]
    assert isinstance(tried, list)
    at_floor = [t for t in tried if t["floor"] == 0.8]
    assert at_floor[-1]["min_similarity"] == 0.99 and at_floor[-1]["precision"] < 0.99  # the first to fail
    assert max(t["recall"] for t in at_floor if t["precision"] >= 0.99) == 0.5  # the 0.77 copy is below it
    low = AlignedPair(0.9, False, True)
    assert scans().checked_alignment(0.95, {}, lambda a, b: low, 0.99, {}) == {}  # nothing reaches a bar
