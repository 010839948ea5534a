"""benchmarks.compare_scans: two models' default scans on the same draws, differences redrawn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.accuracy import TIER_LEVELS
from benchmarks.compare_scans import (
    ScanOutcome,
    compare_scans,
    false_pairs_by_series,
    grouped_pairs,
    is_calibrated,
    scan_draws,
    scan_figures,
    verdict,
)
from benchmarks.pairs import PairSet
from dupfinder.modelcard import load_card
from dupfinder.models import find_model
from tests.imagegen import detailed_photo, save


def test_grouped_pairs_counts_every_cross_source_pair_in_a_group() -> None:
    # Sources 0 (original 0, copies 1, 2) and 1 (original 3, copy 4); file 5 a distractor.
    pairs = PairSet(
        np.array([0, 0, 0, 1, 1, 2]),
        np.array([True, False, False, True, False, False]),
        ["", "jpeg", "half", "", "jpeg", ""],
    )
    group_of = np.array([7, 7, -1, 7, 9, 9])  # copy 2 in no group; source 1 split; 4 joins 5
    found, false = grouped_pairs(pairs, group_of)
    assert found.tolist() == [True, False, False]  # (0, 1), (0, 2), (3, 4)
    assert sorted(map(tuple, false.tolist())) == [(0, 3), (1, 3), (4, 5)]


def _outcome(found: list[bool], positive_cluster: list[int], false_clusters: list[list[int]]) -> ScanOutcome:
    return ScanOutcome(
        [np.array(found, bool)],
        [np.array(positive_cluster, np.int64)],
        ["jpeg-q25"] * len(found),
        [np.array(false_clusters, np.int64).reshape(-1, 2)],
    )


def test_scan_figures_weigh_copies_and_false_pairs_by_their_clusters() -> None:
    outcome = _outcome([True, True, False], [0, 0, 1], [[0, 1], [1, 1]])
    weights = np.array([[1.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
    precision, recall = scan_figures(outcome, weights)
    # Row 1: hits 2·2 = 4 of 2·2 + 3 = 7 copies; false pairs 2·3 across + 3 inside = 9.
    assert recall.tolist() == pytest.approx([2 / 3, 4 / 7, 0.0])
    assert precision.tolist() == pytest.approx([2 / 4, 4 / 13, 0.0])


def test_false_pairs_are_ranked_by_the_series_they_join() -> None:
    outcome = _outcome([True], [0], [[2, 1], [1, 2], [0, 0], [1, 2]])
    assert false_pairs_by_series(outcome, ["moon", "earth", "sign"]) == [
        ["earth", "sign", 3],
        ["moon", "moon", 1],
    ]
    assert false_pairs_by_series(_outcome([True], [0], []), ["moon"]) == []


def test_verdict_reads_both_intervals() -> None:
    assert verdict([0.01, 0.05], [-0.001, 0.002]) == "better"
    assert verdict([-0.01, 0.05], [0.001, 0.002]) == "better"
    assert verdict([0.01, 0.05], [-0.004, -0.001]) == "trades precision for recall"
    assert verdict([-0.05, -0.01], [0.001, 0.004]) == "trades recall for precision"
    assert verdict([-0.05, -0.01], [-0.001, 0.004]) == "worse"
    assert verdict([-0.05, 0.01], [-0.001, 0.004]) == "not shown to differ"


def test_an_equal_scan_is_not_shown_to_differ_and_more_copies_found_is_better() -> None:
    rng = np.random.default_rng(3)
    clusters = 60
    positive_cluster = rng.integers(0, clusters, 600).tolist()
    base_found = (rng.random(600) < 0.6).tolist()
    false_clusters = [[c, c] for c in rng.integers(0, clusters, 3).tolist()]
    base = _outcome(base_found, positive_cluster, false_clusters)
    same = compare_scans(base, base, clusters, 0.99, redraws=200)
    assert same["recall_difference"] == 0.0 and same["recall_difference_interval"] == [0.0, 0.0]
    assert same["verdict"] == "not shown to differ"
    more = _outcome(
        [f or bool(i % 3 == 0) for i, f in enumerate(base_found)], positive_cluster, false_clusters
    )
    result = compare_scans(base, more, clusters, 0.99, redraws=200)
    assert result["recall_difference"] > 0.1 and result["recall_difference_interval"][0] > 0
    assert result["verdict"] == "better"
    assert 0.0 <= result["base"]["precision_kept_share"] <= result["candidate"]["precision_kept_share"] <= 1.0


NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


def test_each_model_scans_with_its_own_card(tmp_path: Path) -> None:
    """End to end on a tiny validation split: the bundled model against itself with a card that
    groups nothing but exact matches (threshold 1.0, no pHash rule) finds fewer copies."""
    corpus = tmp_path / "corpus"
    for seed, name in enumerate(NAMES):
        save(detailed_photo(seed), corpus / "images" / "val" / f"synth__{name}.jpg", quality=92)
    base = find_model()
    strict = tmp_path / "strict" / base.name
    strict.parent.mkdir()
    shutil.copy(base, strict)
    card = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
    card["default_threshold"] = 1.0
    card.pop("hash_confirm", None)
    strict.with_suffix(".json").write_text(json.dumps(card), encoding="utf-8")
    assert is_calibrated(load_card(base))
    assert not is_calibrated(load_card(strict))
    outcomes, series = scan_draws(corpus, tmp_path / "work", [base, strict], "val", [0, 1], 3, 1)
    copies = sum(len(level) for level in TIER_LEVELS.values())
    assert [len(np.concatenate(o.found)) for o in outcomes] == [2 * 3 * copies] * 2
    assert len(series) == len(set(series)) == len(NAMES)  # every picture drawn, originals or not
    result = compare_scans(outcomes[0], outcomes[1], len(series), 0.99, redraws=100)
    assert result["base"]["recall_by_level"]["easy"] >= 0.9
    assert result["candidate"]["recall"] < result["base"]["recall"]
    assert result["recall_difference"] < 0
