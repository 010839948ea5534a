"""The accuracy benchmark's pair scoring, on hand-made cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.pairs import (
    PairSet,
    average_precision,
    bootstrap_intervals,
    evaluate_method,
    false_pairs_at,
    negative_scores,
)


def _pairs() -> PairSet:
    # source 0: original 0, copies 1 (crop) and 2 (flip); source 1: original 3, copy 4 (crop);
    # file 5 is a distractor.
    return PairSet(
        np.array([0, 0, 0, 1, 1, 2]),
        np.array([True, False, False, True, False, False]),
        ["", "crop", "flip", "", "crop", ""],
        hard_negatives=[(0, 5, "same scene")],
        levels={"hard": ("crop", "flip")},
    )


def test_positive_and_negative_pair_counts() -> None:
    pairs = _pairs()
    assert sorted(pairs.positives) == [(0, 1, "crop"), (0, 2, "flip"), (3, 4, "crop")]
    assert pairs.negative_count == 15 - 3 - 1  # all pairs minus same-source pairs


def test_negative_scores_cover_only_cross_source_pairs() -> None:
    pairs = _pairs()
    scores = np.arange(36, dtype=np.float32).reshape(6, 6)
    got = sorted(negative_scores(pairs, lambda rows: scores[rows], block=4).tolist())
    expected = sorted(
        scores[i, j] for i in range(6) for j in range(i + 1, 6) if pairs.source[i] != pairs.source[j]
    )
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


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, np.float32)
    return vector / np.linalg.norm(vector)


def test_engine_groups_follow_the_grouping_rules(tmp_path: Path) -> None:
    from PIL import Image

    from benchmarks.accuracy import engine_graph, group_ids

    paths = []
    colours = [("a", "red"), ("a-copy", "#fe0000"), ("b", "blue"), ("c", "green"), ("c-same", "green")]
    for name, colour in colours:
        path = tmp_path / f"{name}.png"
        Image.new("RGB", (8, 8), colour).save(path)
        paths.append(path)
    # a and its re-coloured copy are close; b is unrelated; c-same is a byte-identical copy of c
    # (its vector is made far off on purpose: only the content hash can group it).
    vectors = np.stack([_unit(1, 0.05, 0), _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1), _unit(0, 1, 1)])
    sizes = [(8, 8)] * 5
    group_of = group_ids(*engine_graph(paths, vectors, sizes), threshold=0.9)
    assert group_of[0] == group_of[1] >= 1
    assert group_of[2] == -1
    assert group_of[3] == group_of[4] >= 1 and group_of[3] != group_of[0]


def test_engine_groups_choose_the_reference_as_a_scan_does(tmp_path: Path) -> None:
    """A scan's records know a copy's bars and a greyscale copy, so neither becomes the best copy
    for having more pixels or more bytes; the benchmark's records must know it too."""
    from PIL import Image

    from benchmarks.accuracy import engine_graph

    paths = []
    for name, size, colour in (
        ("photo", (80, 60), "red"),
        ("bars", (100, 75), "red"),
        ("grey", (80, 60), "gray"),
    ):
        path = tmp_path / f"{name}.png"
        Image.new("RGB", size, colour).save(path)
        paths.append(path)
    path = paths[2]
    path.write_bytes(path.read_bytes() + b"\0" * 4096)  # more bytes than the photo
    vectors = np.stack([_unit(1, 0, 0)] * 3)
    sizes, shares = [(80, 60), (100, 75), (80, 60)], [1.0, 0.64, 1.0]  # bars: as much picture
    colours = [0x10F0_10F0_10F0_10F0, 0x10F0_10F0_10F0_10F0, 0]  # the last one without colour
    graph, _ = engine_graph(paths, vectors, sizes, colours=colours, shares=shares)
    (group,) = graph.groups(0.9)
    assert Path(group.reference.image.path).name == "photo.png"
    graph, _ = engine_graph(paths, vectors, sizes)  # without them: the padded copy wins
    assert Path(graph.groups(0.9)[0].reference.image.path).name == "bars.png"
    graph, _ = engine_graph(paths, vectors, sizes, shares=shares)  # without colour: the grey one
    assert Path(graph.groups(0.9)[0].reference.image.path).name == "grey.png"


def test_write_threshold_keeps_the_rest_of_the_card(tmp_path: Path) -> None:
    import json

    from benchmarks.accuracy import write_threshold

    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    card = {"name": "m", "default_threshold": 0.5, "evaluation": {"held_out": {"ap": 0.9}}}
    model.with_suffix(".json").write_text(json.dumps(card))
    write_threshold(
        model,
        {
            "min_similarity": 0.93,
            "precision": 0.99,
            "recall": 0.6,
            "split": "val",
            "hash_confirm": {"margin": 0.1, "max_distance": 2, "recall": 0.7},
            "alignment": {"floor": 0.8, "min_similarity": 0.995, "engine_precision": 0.991},
        },
    )
    written = json.loads(model.with_suffix(".json").read_text())
    assert written["default_threshold"] == 0.93 and written["name"] == "m"
    assert written["hash_confirm"] == {"margin": 0.1, "max_distance": 2}
    assert written["alignment"] == {"floor": 0.8, "min_similarity": 0.995}
    assert written["evaluation"]["held_out"] == {"ap": 0.9}
    assert written["evaluation"]["benchmark_calibration"]["split"] == "val"


def test_loosest_threshold_reaches_the_precision_asked() -> None:
    from benchmarks.pairs import loosest_threshold

    positive = np.array([0.9, 0.8, 0.6], np.float32)
    negative = np.array([0.7, 0.5], np.float32)
    # at 0.5: 3 found, 2 false (0.6); at 0.6: 3 found, 1 false (0.75); at 0.8: 2 found, none false.
    assert loosest_threshold(positive, negative, [0.5, 0.6, 0.8], 0.7) == 0.6
    assert loosest_threshold(positive, negative, [0.5, 0.6, 0.8], 0.99) == 0.8
    assert loosest_threshold(positive, negative, [0.5, 0.95], 0.99) is None


def test_hash_confirm_rule_adds_recall_only_while_precision_holds() -> None:
    from benchmarks.accuracy import choose_hash_confirm

    # Positives: two above the threshold 0.9, two recoloured copies at 0.85 with near-equal hashes.
    positive = (np.array([0.95, 0.93, 0.85, 0.85]), np.array([0, 1, 1, 2]))
    # Negatives: a look-alike at 0.86 whose hash is 5 bits away, others far below.
    negative = (np.array([0.86, 0.2, 0.1]), np.array([5, 30, 2]))
    rule = choose_hash_confirm(positive, negative, threshold=0.9, target=0.99)
    assert rule["max_distance"] in (2, 3, 4) and rule["margin"] >= 0.06
    assert rule["recall"] == 1.0 and rule["precision"] == 1.0
    # When every candidate rule lets the look-alike in, there is no rule.
    crowded = (np.array([0.86, 0.86]), np.array([1, 2]))
    assert choose_hash_confirm((np.array([0.95, 0.85]), np.array([0, 1])), crowded, 0.9, 0.99) == {}


def test_series_of_numbered_or_coloured_pictures_share_a_sibling_key() -> None:
    from benchmarks.accuracy import sibling_key

    def key(name: str) -> str:
        return sibling_key(Path(f"/corpus/images/test/{name}.jpg"))

    assert key("kstars-data__kstars_textures_moon22") == key("kstars-data__kstars_textures_moon14")
    assert key("openclipart-png__buttons_arrow-right-yellow_benji_01") == key(
        "openclipart-png__buttons_arrow-left-green_benji_01"
    )
    assert key("openclipart-png__flags_europe_poland") != key("openclipart-png__flags_europe_malta")
    assert key("pkg-a__textures_moon1") != key("pkg-b__textures_moon1")  # another package


def test_blank_derived_files_are_told_from_plain_but_drawn_ones(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    from benchmarks.accuracy import is_blank

    white = tmp_path / "white.jpg"
    Image.new("RGB", (300, 200), (255, 255, 255)).save(white, quality=40)
    dot = Image.new("RGB", (300, 200), (255, 255, 255))
    ImageDraw.Draw(dot).ellipse((120, 70, 180, 130), fill=(20, 20, 20))
    dot.save(tmp_path / "dot.png")
    assert is_blank(white) and not is_blank(tmp_path / "dot.png")


def test_group_counts_charge_every_pair_a_wrong_link_joins() -> None:
    from benchmarks.accuracy import group_counts

    pairs = _pairs()
    # Files 0, 1, 2 (one source) and the distractor 5 in one group; 3 alone; 4 in no group.
    true, false = group_counts(pairs, np.array([7, 7, 7, 2, -1, 7]))
    assert (true, false) == (2, 3)
    assert group_counts(pairs, np.full(6, -1)) == (0, 0)


def test_hash_confirm_candidates_come_most_recall_first() -> None:
    from benchmarks.accuracy import hash_confirm_candidates

    positive = (np.array([0.95, 0.85, 0.80]), np.array([0, 1, 3]))
    negative = (np.array([0.2]), np.array([30]))
    rules = hash_confirm_candidates(positive, negative, threshold=0.9, target=0.99)
    found = [r["recall"] for r in rules]
    assert found == sorted(found, reverse=True) and found[0] == 1.0
    assert all(r["precision"] >= 0.99 for r in rules)


def test_rules_a_little_below_the_pair_target_come_after_those_that_reach_it() -> None:
    from benchmarks.accuracy import hash_confirm_candidates

    # 200 copies above the threshold; 50 below it with equal hashes; 2 look-alikes below it with
    # 0 bits (the colour veto a scan applies may drop them; pair precision cannot know).
    positive = (np.r_[np.full(200, 0.95), np.full(50, 0.85)], np.r_[np.zeros(200), np.zeros(50)])
    negative = (np.array([0.85, 0.85, 0.2]), np.array([0, 0, 30]))
    assert hash_confirm_candidates(positive, negative, threshold=0.9, target=0.995) == []
    rules = hash_confirm_candidates(positive, negative, threshold=0.9, target=0.995, slack=0.005)
    assert rules and all(0.99 <= r["precision"] < 0.995 for r in rules)
    assert rules[0]["recall"] == 1.0


def test_a_baseline_that_never_reaches_the_models_precision_is_taken_at_its_most_precise() -> None:
    from benchmarks.pairs import loosest_threshold, most_precise_threshold

    positive = np.array([0.9, 0.8, 0.7])
    negative = np.array([0.95, 0.75, 0.1])
    # 0.7: 3 of 5 (0.6); 0.8: 2 of 3 (0.67); 0.9: 1 of 2 (0.5).
    assert loosest_threshold(positive, negative, [0.7, 0.8, 0.9], 0.99) is None
    assert most_precise_threshold(positive, negative, [0.7, 0.8, 0.9]) == 0.8


def test_false_pairs_are_told_by_the_sources_a_group_joins() -> None:
    from benchmarks.accuracy import BenchFiles, false_pair_sources

    pairs = _pairs()
    names = [Path(f"/b/{n}.jpg") for n in ("a", "a-crop", "a-flip", "b", "b-crop", "c")]
    files = BenchFiles(names, pairs.source, pairs.is_original, ["", "crop", "flip", "", "crop", ""], [], [])
    # a's three files and distractor c in one group (3 false pairs); b and its crop in another.
    ranked = false_pair_sources(files, np.array([1, 1, 1, 2, 2, 1]))
    assert ranked == [["a.jpg", "c.jpg", 3]]
    assert false_pair_sources(files, np.full(6, -1)) == []


def _many_sources(count: int) -> PairSet:
    """`count` sources, each an original and one copy (files 2s and 2s + 1)."""
    return PairSet(
        np.repeat(np.arange(count), 2),
        np.tile([True, False], count),
        ["", "crop"] * count,
        levels={"hard": ("crop",)},
    )


def test_intervals_hold_the_point_figures_and_narrow_with_more_pictures() -> None:
    widths = []
    for count in (40, 400):
        pairs = _many_sources(count)
        found = np.arange(count) % 4 != 0  # three copies in four found
        false = np.array([[2 * s, 2 * s + 2] for s in range(0, count - 1, 10)])  # look-alike originals
        intervals = bootstrap_intervals(pairs, found, false, draws=2000)
        precision = found.sum() / (found.sum() + len(false))
        low, high = intervals["precision"]
        assert low < precision < high
        assert intervals["recall"][0] < 0.75 < intervals["recall"][1]
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_a_series_drawn_whole_widens_the_precision_interval() -> None:
    # Ten false pairs inside one look-alike series: as clusters of their own they are ten
    # independent mistakes; drawn as one series they come and go together.
    separate = _many_sources(200)
    series = np.arange(200)
    series[:20] = 0  # sources 0..19 are one series
    together = PairSet(
        separate.source, separate.is_original, separate.transform, cluster=np.repeat(series, 2)
    )
    found = np.ones(200, bool)
    false = np.array([[2 * s, 2 * s + 2] for s in range(0, 20, 2)])
    narrow = bootstrap_intervals(separate, found, false, draws=2000)["precision"]
    wide = bootstrap_intervals(together, found, false, draws=2000)["precision"]
    assert wide[1] - wide[0] > narrow[1] - narrow[0]


def test_no_false_pair_gives_precision_one_and_a_source_stays_in_one_cluster() -> None:
    pairs = _many_sources(10)
    assert bootstrap_intervals(pairs, np.ones(10, bool), np.zeros((0, 2), np.int64))["precision"] == [
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="one cluster"):
        PairSet(pairs.source, pairs.is_original, pairs.transform, cluster=np.arange(20))


def test_false_pairs_at_lists_cross_source_pairs_at_the_threshold() -> None:
    pairs = _pairs()
    scores = np.full((6, 6), 0.1, np.float32)
    for i, j, value in [(0, 1, 0.95), (0, 5, 0.93), (3, 4, 0.92), (2, 3, 0.91), (1, 4, 0.5)]:
        scores[i, j] = scores[j, i] = value
    got = false_pairs_at(pairs, lambda rows: scores[rows], 0.9, block=4)
    assert sorted(map(tuple, got.tolist())) == [(0, 5), (2, 3)]
    result = evaluate_method(pairs, lambda rows: scores[rows], 0.9, 1.0)
    low, high = result["precision_interval"]
    assert low <= result["precision"] <= high


def test_series_clusters_put_a_numbered_series_in_one_cluster() -> None:
    from benchmarks.accuracy import BenchFiles, series_clusters

    names = [
        "pkg__moon00.jpg",
        "copies/pkg__moon00.png",
        "pkg__moon01.jpg",
        "pkg__moon02.jpg",
        "pkg__sun.jpg",
    ]
    files = BenchFiles(
        [Path(n) for n in names],
        np.array([0, 0, 1, 2, 3]),
        np.array([True, False, False, False, False]),
        ["", "png", "", "", ""],
        [],
        [],
    )
    cluster = series_clusters(files)
    assert cluster[0] == cluster[1] == cluster[2] == cluster[3] != cluster[4]


def test_the_loosest_threshold_at_a_precision_judges_ties_together() -> None:
    from benchmarks.pairs import loosest_at

    positive = np.array([0.9, 0.8, 0.7, 0.5])
    negative = np.array([0.95, 0.7, 0.4])
    # Every pair at or above: 0.95 → 0 of 1, 0.9 → 1 of 2, 0.8 → 2 of 3, 0.7 → 3 of 5 (the tied
    # negative passes with the positive: 3 of 4 would be 0.75), 0.5 → 4 of 6, 0.4 → 4 of 7.
    assert loosest_at(positive, negative, 0.7) is None
    assert loosest_at(positive, negative, 0.65) == pytest.approx(0.5)
    assert loosest_at(positive, negative, 0.55) == pytest.approx(0.4)
    assert loosest_at(positive, np.zeros(0), 1.0) == pytest.approx(0.5)
