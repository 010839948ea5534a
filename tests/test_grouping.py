"""Grouping: exact clusters, near groups, no chaining, regrouping, recall against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from dupfinder import grouping
from dupfinder.grouping import AlignedPair, AlignmentRule, NeighbourGraph, quality_key
from dupfinder.report import ImageRecord


def _records(count: int) -> list[ImageRecord]:
    return [ImageRecord(f"/p/{i:04d}.jpg", 100 + i, 100, 1000 + i, 1.0e9 + i) for i in range(count)]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _at_angle(base: np.ndarray, other: np.ndarray, similarity: float) -> np.ndarray:
    """A unit vector with the given cosine similarity to `base`, towards `other`."""
    orthogonal = other - (other @ base) * base
    orthogonal /= np.linalg.norm(orthogonal)
    return similarity * base + np.sqrt(1 - similarity**2) * orthogonal


def _paths(graph: NeighbourGraph, threshold: float) -> list[set[str]]:
    return [{m.image.path for m in group.members} for group in graph.groups(threshold)]


def test_near_duplicates_group_and_unrelated_do_not(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(20, 32)))
    vectors[1] = _unit((vectors[0] + 0.05 * rng.normal(size=32))[None])[0]
    vectors[2] = _unit((vectors[0] + 0.05 * rng.normal(size=32))[None])[0]
    groups = NeighbourGraph(_records(20), vectors).groups(0.9)
    assert len(groups) == 1 and groups[0].kind == "near"
    assert {m.image.path for m in groups[0].members} == {"/p/0000.jpg", "/p/0001.jpg", "/p/0002.jpg"}


def test_reference_is_the_best_copy_and_has_similarity_one(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(3, 16)))
    vectors[:] = vectors[0]
    records = [
        ImageRecord("/small.jpg", 100, 100, 50, 1.0),
        ImageRecord("/big.jpg", 400, 300, 10, 2.0),
        ImageRecord("/mid.jpg", 400, 300, 5, 0.5),
    ]
    group = NeighbourGraph(records, vectors).groups(0.9)[0]
    assert group.members[0].image.path == "/big.jpg"  # resolution, then bytes
    assert group.members[0].similarity == 1.0


def _chain(rng: np.random.Generator, links: int) -> np.ndarray:
    """`links` + 1 unit vectors, each 0.93 like the one before; two apart, 0.865."""
    basis = np.linalg.qr(rng.normal(size=(16, links + 1)))[0].T
    chain = [basis[0]]
    for step in basis[1:]:
        chain.append(_at_angle(chain[-1], step, 0.93))
    return np.stack(chain).astype(np.float32)


def test_one_hop_through_a_copy_and_a_picture_with_copies_of_its_own_keeps_its_group(
    rng: np.random.Generator,
) -> None:
    """C matches only B, a copy that matched the reference A: C joins A's group through B and says
    so. With a copy D of its own (matching only C), C keeps its group: it joins no other."""
    vectors = _chain(rng, 3)
    similarity = vectors @ vectors.T
    assert similarity[0, 2] < 0.9 and similarity[1, 3] < 0.9 and similarity[0, 3] < 0.9
    records = [
        ImageRecord("/a.jpg", 400, 400, 4, 0),
        ImageRecord("/b.jpg", 300, 300, 3, 0),
        ImageRecord("/c.jpg", 200, 200, 2, 0),
        ImageRecord("/d.jpg", 100, 100, 1, 0),
    ]
    (group,) = NeighbourGraph(records[:3], vectors[:3]).groups(0.9)
    assert [m.image.path for m in group.members] == ["/a.jpg", "/b.jpg", "/c.jpg"]
    chained = group.members[2]
    assert chained.group_match and chained.similarity == pytest.approx(similarity[1, 2], abs=1e-5)
    assert chained.to_dict()["group_match"] is True and not group.members[1].group_match
    assert _paths(NeighbourGraph(records, vectors), 0.9) == [{"/a.jpg", "/b.jpg"}, {"/c.jpg", "/d.jpg"}]


def _worse_and_better_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[ImageRecord]]:
    """A reference A, its copy B (0.97), and C, which matches B (0.93) and not A."""
    basis = np.linalg.qr(rng.normal(size=(16, 3)))[0].T
    a = basis[0]
    b = _at_angle(a, basis[1], 0.97)
    c = _at_angle(b, basis[2] + 0.5 * (b - a), 0.93)
    vectors = np.stack([a, b, c]).astype(np.float32)
    assert float(a @ c) < 0.9 < 0.92 < float(b @ c) < 0.94
    records = [
        ImageRecord("/a.jpg", 300, 300, 3, 0),
        ImageRecord("/b.jpg", 200, 200, 2, 0),
        ImageRecord("/c.jpg", 100, 100, 1, 0),
    ]
    return vectors, records


def test_no_hop_into_the_group_of_a_worse_reference(rng: np.random.Generator) -> None:
    """A picture with more pixels than the group's reference, matching only one of its copies, stays
    out: it would be the copy to keep, and it does not match the one the group keeps."""
    vectors, records = _worse_and_better_scene(rng)
    records[2] = ImageRecord("/c.jpg", 900, 900, 9, 0)
    assert _paths(NeighbourGraph(records, vectors), 0.9) == [{"/a.jpg", "/b.jpg"}]


def test_no_hop_through_a_link_only_the_phash_rule_confirms(rng: np.random.Generator) -> None:
    """B is below the threshold to A (0.94) and joined by the pHash rule; C matches B at the
    threshold (0.955) and not A: C stays out, for B never matched A at the threshold."""
    from dupfinder.grouping import HashConfirm

    basis = np.linalg.qr(rng.normal(size=(16, 3)))[0].T
    a = basis[0]
    b = _at_angle(a, basis[1], 0.94)
    c = _at_angle(b, basis[2], 0.955)
    vectors = np.stack([a, b, c]).astype(np.float32)
    assert float(a @ c) < 0.95
    _, records = _worse_and_better_scene(rng)
    hashes = [0xF0F0_F0F0_0000_FFFF, 0xF0F0_F0F0_0000_FFFE, 0x0F0F_0F0F_FFFF_0000]
    graph = NeighbourGraph(records, vectors, hashes=hashes, confirm=HashConfirm(0.05, 2))
    (group,) = graph.groups(0.95)
    assert [m.image.path for m in group.members] == ["/a.jpg", "/b.jpg"]
    assert group.members[1].hash_confirmed
    # At a threshold that A~B reaches itself, C comes in through B.
    (group,) = graph.groups(0.935)
    members = {m.image.path: m for m in group.members}
    assert group.reference.image.path == "/a.jpg" and set(members) == {"/a.jpg", "/b.jpg", "/c.jpg"}
    assert members["/c.jpg"].group_match and not members["/b.jpg"].hash_confirmed


def test_no_hop_into_a_group_holding_a_picture_the_user_said_differs(rng: np.random.Generator) -> None:
    vectors, records = _worse_and_better_scene(rng)
    graph = NeighbourGraph(records, vectors)
    assert _paths(graph, 0.9) == [{"/a.jpg", "/b.jpg", "/c.jpg"}]
    for other in ("/a.jpg", "/b.jpg"):
        ignored = frozenset({frozenset({other, "/c.jpg"})})
        groups = graph.groups(0.9, ignored=ignored)
        assert [{m.image.path for m in g.members} for g in groups] == [{"/a.jpg", "/b.jpg"}]


def test_a_copy_stays_with_the_better_reference_it_matches_nearly_as_well(rng: np.random.Generator) -> None:
    """A centre crop matches the original (0.955) and, a little better (0.97), a copy turned 10°
    that the original does not match. The crop stays with the original; the turned copy joins
    through it. When the turned copy matches the crop far better (0.985) than the original does
    (0.955), beyond `STAY_MARGIN`, the crop follows it: two look-alikes, one nearly the other."""
    basis = np.linalg.qr(rng.normal(size=(16, 3)))[0].T
    original = basis[0]
    crop = _at_angle(original, basis[1], 0.955)
    for turned_to_crop, expected in ((0.97, 1), (0.985, 2)):
        turned = _at_angle(crop, basis[2] - crop + 0.4 * (crop - original), turned_to_crop)
        vectors = np.stack([original, crop, turned]).astype(np.float32)
        similarity = vectors @ vectors.T
        assert similarity[0, 2] < 0.95 and similarity[1, 2] == pytest.approx(turned_to_crop, abs=1e-5)
        records = [
            ImageRecord("/original.jpg", 400, 300, 9, 0),
            ImageRecord("/crop.jpg", 360, 270, 8, 0),
            ImageRecord("/turned.jpg", 300, 220, 7, 0),
        ]
        groups = NeighbourGraph(records, vectors).groups(0.95)
        assert len(groups) == 1
        members = {m.image.path: m for m in groups[0].members}
        if expected == 1:
            assert groups[0].reference.image.path == "/original.jpg" and len(members) == 3
            assert members["/crop.jpg"].similarity == pytest.approx(similarity[0, 1], abs=1e-5)
            assert members["/turned.jpg"].group_match and not members["/crop.jpg"].group_match
        else:
            # The turned copy became a reference before the crop chose; the original is left alone.
            assert list(members) == ["/turned.jpg", "/crop.jpg"]


def test_member_joins_its_most_similar_reference(rng: np.random.Generator) -> None:
    a, other = _unit(rng.normal(size=(2, 16)))
    d = _at_angle(a, other, 0.5)  # two unrelated references A and D
    m = _unit((0.45 * a + 0.55 * d)[None])[0]  # closer to D
    records = [
        ImageRecord("/a.jpg", 900, 900, 9, 0),
        ImageRecord("/d.jpg", 800, 800, 8, 0),
        ImageRecord("/m.jpg", 10, 10, 1, 0),
    ]
    graph = NeighbourGraph(records, np.stack([a, d, m]).astype(np.float32))
    threshold = float(min(a @ m, d @ m)) - 0.01
    assert {"/d.jpg", "/m.jpg"} in _paths(graph, threshold)


def test_exact_clusters_form_exact_groups(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(5, 16)))
    vectors[3] = vectors[1]
    groups = NeighbourGraph(_records(5), vectors, exact=[[1, 3]]).groups(0.9)
    assert [(g.kind, {m.image.path for m in g.members}) for g in groups] == [
        ("exact", {"/p/0001.jpg", "/p/0003.jpg"})
    ]


def test_exact_cluster_joins_a_near_group_whole(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(6, 16)))
    vectors[1] = vectors[0]
    vectors[2] = _unit((vectors[0] + 0.05 * rng.normal(size=16))[None])[0]
    groups = NeighbourGraph(_records(6), vectors, exact=[[0, 1]]).groups(0.9)
    assert len(groups) == 1 and groups[0].kind == "near" and len(groups[0].members) == 3


def test_threshold_change_regroups_without_search(rng: np.random.Generator) -> None:
    base, direction = _unit(rng.normal(size=(2, 16)))
    vectors = np.stack([base, _at_angle(base, direction, 0.95), _at_angle(base, -direction, 0.8)])
    graph = NeighbourGraph(_records(3)[::-1], vectors.astype(np.float32))  # base is the best copy
    assert [len(g.members) for g in graph.groups(0.9)] == [2]
    assert [len(g.members) for g in graph.groups(0.75)] == [3]
    assert graph.groups(0.99) == []
    with pytest.raises(ValueError, match="threshold"):
        graph.groups(graph.floor - 0.1)


def test_large_group_beyond_k_neighbours_is_complete(rng: np.random.Generator) -> None:
    base = _unit(rng.normal(size=(1, 24)))[0]
    copies = _unit(base + 0.02 * rng.normal(size=(80, 24)))
    others = _unit(rng.normal(size=(40, 24)))
    graph = NeighbourGraph(_records(120), np.vstack([copies, others]), neighbours=8)
    groups = graph.groups(0.95)
    assert len(groups) == 1 and len(groups[0].members) == 80


def test_hnsw_edges_match_brute_force(rng: np.random.Generator) -> None:
    centres = _unit(rng.normal(size=(150, 32)))
    vectors = _unit(np.repeat(centres, 3, axis=0) + 0.08 * rng.normal(size=(450, 32)))
    graph = NeighbourGraph(_records(450), vectors, floor=0.8)
    similarity = vectors @ vectors.T
    expected = {(i, j) for i in range(450) for j in range(i + 1, 450) if similarity[i, j] >= 0.8}
    found = set(graph.edges)
    assert len(expected) > 300
    assert len(found & expected) / len(expected) >= 0.99


def test_nearest_lists_exact_copies_and_orders_by_similarity(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(10, 16)))
    vectors[4] = vectors[2]
    graph = NeighbourGraph(_records(10), vectors, exact=[[2, 4]])
    found = graph.nearest(vectors[2], count=3)
    assert {n.index for n in found[:2]} == {2, 4} and found[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert found[1].similarity >= found[2].similarity


def test_ignored_pairs_are_not_grouped(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(4, 16)))
    vectors[1] = vectors[0]
    graph = NeighbourGraph(_records(4), vectors)
    assert len(graph.groups(0.9)) == 1
    assert graph.groups(0.9, frozenset({frozenset({"/p/0000.jpg", "/p/0001.jpg"})})) == []


def test_empty_and_single_inputs() -> None:
    assert NeighbourGraph([], np.zeros((0, 8), np.float32)).groups(0.9) == []
    assert NeighbourGraph(_records(1), np.ones((1, 8), np.float32)).groups(0.9) == []


def test_quality_key_orders_best_first() -> None:
    records = [
        ImageRecord("/b", 10, 10, 5, 2.0),
        ImageRecord("/a", 10, 10, 5, 1.0),
        ImageRecord("/c", 20, 10, 1, 3.0),
    ]
    assert [r.path for r in sorted(records, key=quality_key)] == ["/c", "/a", "/b"]


def test_colour_beats_greyscale_at_the_same_size_whatever_the_bytes() -> None:
    colour = ImageRecord("/photo.jpg", 400, 300, 50_000, 2.0)
    grey_png = ImageRecord("/photo-bw.png", 400, 300, 180_000, 1.0, colourless=True)
    bigger_grey = ImageRecord("/photo-bw-big.png", 800, 600, 400_000, 1.0, colourless=True)
    assert sorted([grey_png, colour], key=quality_key) == [colour, grey_png]
    assert sorted([colour, bigger_grey], key=quality_key)[0] == bigger_grey  # pixels come first


def test_weak_look_alike_link_does_not_steal_a_picture_from_its_copies(rng: np.random.Generator) -> None:
    a, b, noise = _unit(rng.normal(size=(3, 16)))
    copy_of_a = _at_angle(a, noise, 0.999)
    b = _at_angle(a, b, 0.9)  # another picture that happens to look like A
    copy_of_b = _at_angle(b, noise, 0.999)
    records = [
        ImageRecord("/b.jpg", 900, 900, 9, 0),
        ImageRecord("/a.jpg", 800, 800, 8, 0),
        ImageRecord("/a-small.jpg", 100, 100, 1, 0),
        ImageRecord("/b-small.jpg", 90, 90, 1, 0),
    ]
    graph = NeighbourGraph(records, np.stack([b, a, copy_of_a, copy_of_b]).astype(np.float32))
    groups = graph.groups(0.85)
    assert sorted(sorted(m.image.path for m in g.members) for g in groups) == [
        ["/a-small.jpg", "/a.jpg"],
        ["/b-small.jpg", "/b.jpg"],
    ]
    assert {g.reference.image.path for g in groups} == {"/a.jpg", "/b.jpg"}


def test_exact_copy_counts_as_a_perfect_match_for_the_rival_filter(rng: np.random.Generator) -> None:
    a, b, noise = _unit(rng.normal(size=(3, 16)))
    b = _at_angle(a, b, 0.9)
    copy_of_a = _at_angle(a, noise, 0.999)
    records = [
        ImageRecord("/b.jpg", 900, 900, 9, 0),
        ImageRecord("/b-backup.jpg", 900, 900, 9, 0),
        ImageRecord("/a.jpg", 800, 800, 8, 0),
        ImageRecord("/a-small.jpg", 100, 100, 1, 0),
    ]
    graph = NeighbourGraph(records, np.stack([b, b, a, copy_of_a]).astype(np.float32), exact=[[0, 1]])
    kinds = sorted((g.kind, g.reference.image.path) for g in graph.groups(0.85))
    assert kinds == [("exact", "/b-backup.jpg"), ("near", "/a.jpg")]  # equal copies: path order


def test_a_pair_just_below_the_threshold_links_only_when_the_phashes_agree(rng: np.random.Generator) -> None:
    from dupfinder.grouping import HashConfirm

    a = _unit(rng.normal(size=(1, 16)))[0]
    direction = _unit(rng.normal(size=(1, 16)))[0]
    copy = _at_angle(a, direction, 0.88)  # a recoloured copy the model scores low
    look_alike = _at_angle(a, -direction, 0.88)  # a different drawing, just as close
    vectors = np.stack([a, copy, look_alike]).astype(np.float32)
    hashes = [0xF0F0_F0F0_0000_FFFF, 0xF0F0_F0F0_0000_FFFE, 0x0F0F_0F0F_FFFF_0000]
    rule = HashConfirm(margin=0.05, max_distance=2)
    graph = NeighbourGraph(_records(3), vectors, hashes=hashes, confirm=rule)
    assert _paths(graph, 0.9) == [{"/p/0000.jpg", "/p/0001.jpg"}]
    confirmed = graph.groups(0.9)[0].members[1]
    assert confirmed.similarity == pytest.approx(0.88, abs=1e-4) and confirmed.hash_confirmed
    assert confirmed.to_dict()["hash_confirmed"] is True and "pHash" in confirmed.similarity_text
    assert not graph.groups(0.85)[0].members[1].hash_confirmed  # above a lower threshold: plain
    assert _paths(graph, 0.95) == []  # the rule reaches only `margin` below the threshold
    assert _paths(NeighbourGraph(_records(3), vectors), 0.9) == []  # no hashes, no rule
    assert (
        _paths(NeighbourGraph(_records(3), vectors, hashes=hashes, confirm=HashConfirm(0.05, 0)), 0.9) == []
    )  # one bit is too many


def test_a_hash_confirmed_look_alike_is_still_cut_by_the_rival_filter(rng: np.random.Generator) -> None:
    """Two cards of one pack (an eight and a nine of diamonds): their pHashes agree within 2 bits and
    their colours too, at 0.80, within the rule's reach; each has a real copy far closer, so the
    rival filter keeps the two apart, as it does for a link above the threshold."""
    from dupfinder.grouping import RIVAL_MARGIN, HashConfirm

    eight, towards, aside = np.linalg.qr(rng.normal(size=(16, 3)))[0].T
    nine = 0.8 * eight + 0.6 * towards
    vectors = np.stack([eight, _at_angle(eight, aside, 0.999), nine, _at_angle(nine, aside, 0.999)])
    assert float(nine @ eight) < 0.999 - RIVAL_MARGIN
    hashes = [0xF0F0_F0F0_0000_FFFF, 0xF0F0_F0F0_0000_FFFF, 0xF0F0_F0F0_0000_FFFC, 0xF0F0_F0F0_0000_FFFC]
    graph = NeighbourGraph(
        _records(4),
        vectors.astype(np.float32),
        hashes=hashes,
        confirm=HashConfirm(margin=0.2, max_distance=2),
    )
    assert sorted(sorted(g) for g in _paths(graph, 0.95)) == [
        ["/p/0000.jpg", "/p/0001.jpg"],
        ["/p/0002.jpg", "/p/0003.jpg"],
    ]
    lone = NeighbourGraph(  # without their copies, the rule joins them: the filter is what holds
        _records(2), vectors[[0, 2]].astype(np.float32), hashes=hashes[1:3], confirm=HashConfirm(0.2, 2)
    )
    assert _paths(lone, 0.95) == [{"/p/0000.jpg", "/p/0001.jpg"}]


def test_the_phash_rule_never_joins_two_colour_schemes(rng: np.random.Generator) -> None:
    """pHash is blind to colour: a yellow and a green button hash alike. With colour signatures the
    rule still confirms the greyscale copy but not the other colour scheme."""
    from PIL import Image

    from dupfinder.chroma import chroma_signature
    from dupfinder.grouping import HashConfirm

    a = _unit(rng.normal(size=(1, 16)))[0]
    direction = _unit(rng.normal(size=(1, 16)))[0]
    vectors = np.stack([a, _at_angle(a, direction, 0.88), _at_angle(a, -direction, 0.88)]).astype(np.float32)
    hashes = [0xF0F0_F0F0_0000_FFFF, 0xF0F0_F0F0_0000_FFFE, 0xF0F0_F0F0_0000_FFFD]
    yellow, grey, green = ((220, 200, 20), (190, 190, 190), (40, 170, 40))
    colours = [chroma_signature(Image.new("RGB", (4, 4), c)) for c in (yellow, grey, green)]
    rule = HashConfirm(margin=0.05, max_distance=2)
    graph = NeighbourGraph(_records(3), vectors, hashes=hashes, confirm=rule, colours=colours)
    assert _paths(graph, 0.9) == [{"/p/0000.jpg", "/p/0001.jpg"}]
    blind = NeighbourGraph(_records(3), vectors, hashes=hashes, confirm=rule)
    assert any({"/p/0000.jpg", "/p/0002.jpg"} <= group for group in _paths(blind, 0.9))  # yellow with green
    with pytest.raises(ValueError, match="colour signatures"):
        NeighbourGraph(_records(3), vectors, hashes=hashes, confirm=rule, colours=colours[:2])


def test_hash_confirm_rejects_nonsense() -> None:
    from dupfinder.grouping import HashConfirm

    with pytest.raises(ValueError, match="margin"):
        HashConfirm(margin=-0.1, max_distance=4)
    with pytest.raises(ValueError, match="max_distance"):
        HashConfirm(margin=0.1, max_distance=65)
    with pytest.raises(ValueError, match="perceptual hashes"):
        NeighbourGraph(_records(2), np.eye(2, dtype=np.float32), hashes=[1])


def _screenshot_scene(
    rng: np.random.Generator,
) -> tuple[list[ImageRecord], np.ndarray, list[np.ndarray | None]]:
    """A photo with four copies, a screenshot showing it (bigger than all of them) and strangers."""
    photo = _unit(rng.normal(size=(1, 32)))[0]
    vectors = _unit(rng.normal(size=(10, 32)))
    for i in range(1, 5):
        vectors[i] = _at_angle(photo, _unit(rng.normal(size=(1, 32)))[0], 0.97)
    vectors[0] = photo
    records = [ImageRecord(f"/p/copy{i}.jpg", 400, 300, 1000 - i, 1.0) for i in range(5)]
    records[0] = ImageRecord("/p/photo.jpg", 800, 600, 5000, 1.0)
    records.append(ImageRecord("/p/screenshot.png", 1920, 1080, 90000, 2.0))  # the whole: a stranger
    records += [ImageRecord(f"/p/other{i}.jpg", 640, 480, 700, 1.0) for i in range(4)]
    inner: list[np.ndarray | None] = [None] * 10
    inner[5] = _at_angle(photo, _unit(rng.normal(size=(1, 32)))[0], 0.96)
    return records, vectors, inner


def test_a_screenshot_joins_the_group_of_the_photo_it_shows_as_a_member(rng: np.random.Generator) -> None:
    records, vectors, inner = _screenshot_scene(rng)
    assert float(vectors[5] @ vectors[0]) < 0.5  # as a whole, the screenshot is unlike the photo
    graph = NeighbourGraph(records, vectors, inner=inner)
    groups = graph.groups(0.9)
    assert len(groups) == 1
    group = groups[0]
    assert group.members[0].image.path == "/p/photo.jpg"  # the photo stays the copy to keep
    assert {m.image.path for m in group.members} == {r.path for r in records[:6]}
    shot = next(m for m in group.members if m.image.path == "/p/screenshot.png")
    assert shot.screenshot_match and not shot.hash_confirmed
    assert shot.similarity == pytest.approx(0.96, abs=1e-3)
    assert shot.to_dict()["screenshot_match"] is True and "screenshot" in shot.similarity_text
    assert not any(m.screenshot_match for m in group.members if m is not shot)
    assert _paths(graph, 0.965) == [{r.path for r in records[:5]}]  # its inner match is below
    assert _paths(NeighbourGraph(records, vectors), 0.9) == [{r.path for r in records[:5]}]


def test_a_screenshot_linked_to_a_lone_photo_makes_a_pair_and_respects_ignored_pairs(
    rng: np.random.Generator,
) -> None:
    records, vectors, inner = _screenshot_scene(rng)
    keep = [0, 5, 6, 7, 8, 9]  # the photo without its copies
    graph = NeighbourGraph([records[i] for i in keep], vectors[keep], inner=[inner[i] for i in keep])
    assert _paths(graph, 0.9) == [{"/p/photo.jpg", "/p/screenshot.png"}]
    ignored = frozenset({frozenset({"/p/photo.jpg", "/p/screenshot.png"})})
    assert graph.groups(0.9, ignored) == []


def test_a_screenshot_already_grouped_by_its_whole_picture_stays_there(rng: np.random.Generator) -> None:
    """Two saves of one screenshot group together; their inner picture does not pull them away."""
    records, vectors, inner = _screenshot_scene(rng)
    records.append(ImageRecord("/p/screenshot-copy.jpg", 1280, 720, 40000, 3.0))
    vectors = np.vstack([vectors, _at_angle(vectors[5], vectors[6], 0.99)[None]]).astype(np.float32)
    inner.append(inner[5])
    paths = _paths(NeighbourGraph(records, vectors, inner=inner), 0.9)
    assert {"/p/screenshot.png", "/p/screenshot-copy.jpg"} in paths
    assert {r.path for r in records[:5]} in paths


def test_inner_vectors_must_match_the_records() -> None:
    with pytest.raises(ValueError, match="inner"):
        NeighbourGraph(_records(2), _unit(np.ones((2, 4))), inner=[None])


def test_bars_added_around_a_picture_do_not_make_the_best_copy(rng: np.random.Generator) -> None:
    """A square-padded export (more pixels, all of them bars) must not be kept over the photo."""
    vectors = np.repeat(_unit(rng.normal(size=(1, 16))), 3, axis=0)
    records = [
        ImageRecord("/padded.png", 4000, 4000, 9_000_000, 2.0, picture_share=0.752),
        ImageRecord("/photo.jpg", 4000, 3000, 3_000_000, 1.0),
        ImageRecord("/small.jpg", 2000, 1500, 500_000, 0.5),
    ]
    group = NeighbourGraph(records, vectors).groups(0.9)[0]
    assert [m.image.path for m in group.members] == ["/photo.jpg", "/padded.png", "/small.jpg"]
    upscaled = [ImageRecord("/padded.png", 8000, 8000, 9_000_000, 2.0, picture_share=0.75), *records[1:]]
    assert NeighbourGraph(upscaled, vectors).groups(0.9)[0].members[0].image.path == "/padded.png"


def _turn_scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A picture, the same picture turned (its whole vector unlike), and its turned look."""
    picture = _unit(rng.normal(size=(1, 32)))[0]
    turned_whole = _unit(rng.normal(size=(1, 32)))[0]
    look = _at_angle(picture, _unit(rng.normal(size=(1, 32)))[0], 0.97)
    return picture, turned_whole, look


def test_a_portrait_copy_turned_a_quarter_joins_the_landscape_group_by_its_turned_look(
    rng: np.random.Generator,
) -> None:
    picture, turned_whole, look = _turn_scene(rng)
    copy = _at_angle(picture, _unit(rng.normal(size=(1, 32)))[0], 0.98)
    others = _unit(rng.normal(size=(4, 32)))
    vectors = np.vstack([picture, copy, turned_whole, others]).astype(np.float32)
    records = [
        ImageRecord("/p/photo.jpg", 4000, 3000, 3_000_000, 1.0),
        ImageRecord("/p/copy.jpg", 2000, 1500, 900_000, 1.0),
        ImageRecord("/p/turned.jpg", 3000, 4000, 3_100_000, 2.0),
        *[ImageRecord(f"/p/other{i}.jpg", 3000, 4000, 1000, 1.0) for i in range(4)],
    ]
    turned: list[np.ndarray | None] = [None] * 7
    turned[2] = np.stack([look, _unit(rng.normal(size=(1, 32)))[0]]).astype(np.float32)
    group = NeighbourGraph(records, vectors, turned=turned).groups(0.95)[0]
    assert [m.image.path for m in group.members] == ["/p/photo.jpg", "/p/copy.jpg", "/p/turned.jpg"]
    member = group.members[2]
    assert (
        member.turned_match
        and not member.screenshot_match
        and member.similarity == pytest.approx(0.97, abs=1e-3)
    )
    assert member.to_dict()["turned_match"] is True and "turned" in member.similarity_text
    assert _paths(NeighbourGraph(records, vectors), 0.95) == [{"/p/photo.jpg", "/p/copy.jpg"}]


def test_a_landscape_copy_joins_a_portrait_group_through_the_reference_s_turns(
    rng: np.random.Generator,
) -> None:
    picture, turned_whole, look = _turn_scene(rng)
    copy = _at_angle(picture, _unit(rng.normal(size=(1, 32)))[0], 0.98)
    vectors = np.vstack([picture, copy, turned_whole, _unit(rng.normal(size=(3, 32)))]).astype(np.float32)
    records = [
        ImageRecord("/p/portrait.jpg", 3000, 4000, 3_000_000, 1.0),
        ImageRecord("/p/portrait-copy.jpg", 1500, 2000, 900_000, 1.0),
        ImageRecord("/p/landscape.jpg", 4000, 3000, 3_100_000, 2.0),
        *[ImageRecord(f"/p/other{i}.jpg", 4000, 3000, 1000, 1.0) for i in range(3)],
    ]
    turned: list[np.ndarray | None] = [None] * 6
    turned[0] = np.stack([_unit(rng.normal(size=(1, 32)))[0], _at_angle(turned_whole, look, 0.97)]).astype(
        np.float32
    )
    turned[1] = np.stack([_unit(rng.normal(size=(1, 32)))[0], _at_angle(turned_whole, look, 0.96)]).astype(
        np.float32
    )
    group = NeighbourGraph(records, vectors, turned=turned).groups(0.95)[0]
    assert [m.image.path for m in group.members] == [
        "/p/portrait.jpg",
        "/p/portrait-copy.jpg",
        "/p/landscape.jpg",
    ]
    assert group.members[2].turned_match


def test_turned_looks_never_match_a_picture_of_the_same_orientation(rng: np.random.Generator) -> None:
    """Two different designs of one orientation that a turn would make alike stay apart."""
    picture, turned_whole, look = _turn_scene(rng)
    vectors = np.vstack([picture, turned_whole, _unit(rng.normal(size=(3, 32)))]).astype(np.float32)
    records = [
        ImageRecord("/p/a.jpg", 3000, 4000, 3_000_000, 1.0),
        ImageRecord("/p/b.jpg", 3000, 4000, 3_000_000, 1.0),
        *[ImageRecord(f"/p/other{i}.jpg", 3000, 4000, 1000, 1.0) for i in range(3)],
    ]
    turned: list[np.ndarray | None] = [None] * 5
    turned[1] = np.stack([look, look]).astype(np.float32)
    assert NeighbourGraph(records, vectors, turned=turned).groups(0.9) == []
    square = [ImageRecord("/p/a.jpg", 3000, 3000, 3_000_000, 1.0), *records[1:]]
    assert NeighbourGraph(square, vectors, turned=turned).groups(0.9) == []


def _crop_scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A picture, a crop of it (its whole vector unlike the picture's) and the picture's region
    that the crop keeps (like the crop)."""
    picture = _unit(rng.normal(size=(1, 32)))[0]
    crop = _at_angle(picture, _unit(rng.normal(size=(1, 32)))[0], 0.6)
    region = _at_angle(crop, _unit(rng.normal(size=(1, 32)))[0], 0.97)
    return picture, crop, region


def _regions(count: int, owner: int, region: np.ndarray, rng: np.random.Generator) -> list[np.ndarray | None]:
    regions: list[np.ndarray | None] = [None] * count
    regions[owner] = np.stack([_unit(rng.normal(size=(1, 32)))[0], region]).astype(np.float32)
    return regions


def test_a_cropped_copy_joins_the_group_of_the_picture_whose_region_it_matches(
    rng: np.random.Generator,
) -> None:
    picture, crop, region = _crop_scene(rng)
    copy = _at_angle(picture, _unit(rng.normal(size=(1, 32)))[0], 0.98)
    vectors = np.vstack([picture, copy, crop, _unit(rng.normal(size=(4, 32)))]).astype(np.float32)
    records = [
        ImageRecord("/p/photo.jpg", 4000, 3000, 3_000_000, 1.0),
        ImageRecord("/p/copy.jpg", 2000, 1500, 900_000, 1.0),
        ImageRecord("/p/crop.jpg", 2400, 1800, 1_500_000, 2.0),
        *[ImageRecord(f"/p/other{i}.jpg", 1000, 800, 1000, 1.0) for i in range(4)],
    ]
    group = NeighbourGraph(records, vectors, regions=_regions(7, 0, region, rng)).groups(0.95)[0]
    assert [m.image.path for m in group.members] == ["/p/photo.jpg", "/p/copy.jpg", "/p/crop.jpg"]
    member = group.members[2]
    assert member.cropped_match and not member.turned_match
    assert member.similarity == pytest.approx(0.97, abs=1e-3)
    assert member.to_dict()["cropped_match"] is True and "cropped from it" in member.similarity_text
    assert _paths(NeighbourGraph(records, vectors), 0.95) == [{"/p/photo.jpg", "/p/copy.jpg"}]


def test_two_lone_pictures_pair_by_a_region_with_the_bigger_one_kept(rng: np.random.Generator) -> None:
    picture, crop, region = _crop_scene(rng)
    vectors = np.vstack([crop, picture, _unit(rng.normal(size=(3, 32)))]).astype(np.float32)
    records = [
        ImageRecord("/p/crop.jpg", 1200, 900, 400_000, 1.0),
        ImageRecord("/p/photo.jpg", 4000, 3000, 3_000_000, 2.0),
        *[ImageRecord(f"/p/other{i}.jpg", 1000, 800, 1000, 1.0) for i in range(3)],
    ]
    groups = NeighbourGraph(records, vectors, regions=_regions(5, 1, region, rng)).groups(0.95)
    assert [[m.image.path for m in g.members] for g in groups] == [["/p/photo.jpg", "/p/crop.jpg"]]
    assert groups[0].members[1].cropped_match


def test_a_region_never_matches_a_picture_with_as_many_pixels_as_its_owner(rng: np.random.Generator) -> None:
    """A crop keeps fewer pixels than its source: a region like a bigger picture is a look-alike
    detail (a corner of sky, a logo), not a copy."""
    picture, crop, region = _crop_scene(rng)
    vectors = np.vstack([picture, crop, _unit(rng.normal(size=(3, 32)))]).astype(np.float32)
    records = [
        ImageRecord("/p/photo.jpg", 1200, 900, 3_000_000, 1.0),
        ImageRecord("/p/bigger.jpg", 4000, 3000, 400_000, 2.0),
        *[ImageRecord(f"/p/other{i}.jpg", 1000, 800, 1000, 1.0) for i in range(3)],
    ]
    assert NeighbourGraph(records, vectors, regions=_regions(5, 0, region, rng)).groups(0.9) == []


def test_a_picture_joins_through_the_reference_s_twin_when_the_reference_frames_it_otherwise(
    rng: np.random.Generator,
) -> None:
    """The reference is a padded copy (more pixels) of the photo; a crop matches the photo but not
    the padded copy, and the photo is the same picture as the reference (a twin, >= 0.99)."""
    photo = _unit(rng.normal(size=(1, 32)))[0]
    padded = _at_angle(photo, _unit(rng.normal(size=(1, 32)))[0], 0.995)
    crop = _at_angle(photo, photo - padded, 0.965)  # away from the padded copy
    vectors = np.vstack([padded, photo, crop, _unit(rng.normal(size=(3, 32)))]).astype(np.float32)
    assert float(crop @ padded) < 0.95 < float(crop @ photo)
    records = [
        ImageRecord("/p/padded.png", 4000, 4000, 5_000_000, 1.0),
        ImageRecord("/p/photo.jpg", 4000, 3000, 3_000_000, 1.0),
        ImageRecord("/p/crop.jpg", 3000, 2000, 900_000, 1.0),
        *[ImageRecord(f"/p/other{i}.jpg", 1000, 800, 1000, 1.0) for i in range(3)],
    ]
    group = NeighbourGraph(records, vectors).groups(0.95)[0]
    assert [m.image.path for m in group.members] == ["/p/padded.png", "/p/photo.jpg", "/p/crop.jpg"]
    assert group.members[2].similarity == pytest.approx(float(crop @ photo), abs=1e-5)
    loose_twin = vectors.copy()
    loose_twin[1] = _at_angle(padded, photo - padded, 0.97)  # like the reference, but no twin
    loose_twin[2] = _at_angle(loose_twin[1], loose_twin[1] - padded, 0.955)
    assert float(loose_twin[2] @ padded) < 0.95
    # No twin, so the crop is no member by it; it comes in by the one hop through a copy instead.
    (group,) = NeighbourGraph(records, loose_twin).groups(0.95)
    assert [m.image.path for m in group.members] == ["/p/padded.png", "/p/photo.jpg", "/p/crop.jpg"]
    assert group.members[2].group_match and not group.members[1].group_match


def test_a_crop_matches_a_region_of_the_reference_s_twin(rng: np.random.Generator) -> None:
    picture, crop, region = _crop_scene(rng)
    padded = _at_angle(picture, _unit(rng.normal(size=(1, 32)))[0], 0.995)
    vectors = np.vstack([padded, picture, crop, _unit(rng.normal(size=(3, 32)))]).astype(np.float32)
    records = [
        ImageRecord("/p/padded.png", 4000, 4000, 5_000_000, 1.0),
        ImageRecord("/p/photo.jpg", 4000, 3000, 3_000_000, 1.0),
        ImageRecord("/p/crop.jpg", 2000, 1500, 900_000, 1.0),
        *[ImageRecord(f"/p/other{i}.jpg", 1000, 800, 1000, 1.0) for i in range(3)],
    ]
    group = NeighbourGraph(records, vectors, regions=_regions(6, 1, region, rng)).groups(0.95)[0]
    assert [m.image.path for m in group.members] == ["/p/padded.png", "/p/photo.jpg", "/p/crop.jpg"]
    assert group.members[2].cropped_match


def _twin_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[ImageRecord]]:
    """A padded copy (the reference: most pixels), the photo (its twin, 0.995), a turned copy and a
    crop: the turned copy and the crop each match the photo (0.955, 0.965) and each other (0.974),
    but not the padded copy (0.93)."""
    photo, side, away, _ = np.linalg.qr(rng.normal(size=(32, 4)))[0].T
    padded = 0.995 * photo + np.sqrt(1 - 0.995**2) * side
    crop = 0.965 * photo - np.sqrt(1 - 0.965**2) * side
    turned = 0.955 * photo - 0.2 * side + np.sqrt(1 - 0.955**2 - 0.2**2) * away
    vectors = np.stack([padded, photo, turned, crop]).astype(np.float32)
    records = [
        ImageRecord("/p/padded.png", 4000, 4000, 5_000_000, 1.0),
        ImageRecord("/p/photo.jpg", 4000, 3000, 3_000_000, 1.0),
        ImageRecord("/p/turned.jpg", 3500, 2500, 2_000_000, 1.0),
        ImageRecord("/p/crop.jpg", 3000, 2000, 900_000, 1.0),
    ]
    return vectors, records


def test_copies_that_match_the_reference_s_twin_join_its_group_instead_of_starting_their_own(
    rng: np.random.Generator,
) -> None:
    """Without the twin, the turned copy (matching no reference) became a reference and took the
    crop (which matches it best) into a second group of the same picture."""
    vectors, records = _twin_scene(rng)
    similarity = vectors @ vectors.T
    assert similarity[2, 0] < 0.95 and similarity[3, 0] < 0.95 and similarity[3, 2] > similarity[3, 1] > 0.95
    (group,) = NeighbourGraph(records, vectors).groups(0.95)
    paths = [m.image.path for m in group.members]
    assert paths == ["/p/padded.png", "/p/photo.jpg", "/p/crop.jpg", "/p/turned.jpg"]
    assert [m.similarity for m in group.members[1:]] == pytest.approx(
        [similarity[1, 0], similarity[3, 1], similarity[2, 1]], abs=1e-5
    )
    assert not any(m.hash_confirmed for m in group.members)


def _stray_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[ImageRecord]]:
    """`_twin_scene` and a stray picture that matches only the turned copy (0.965)."""
    vectors, records = _twin_scene(rng)
    _, _, _, _, elsewhere = np.linalg.qr(np.column_stack([vectors.T, rng.normal(size=32)]))[0].T
    stray = 0.965 * vectors[2] + np.sqrt(1 - 0.965**2) * elsewhere
    vectors = np.vstack([vectors, stray[None]]).astype(np.float32)
    return vectors, [*records, ImageRecord("/p/stray.jpg", 1000, 800, 100_000, 1.0)]


def test_a_copy_that_joined_through_the_twin_carries_the_hop_too(rng: np.random.Generator) -> None:
    """The stray matches only the turned copy, which joined through the twin (the same picture as
    the reference): the stray joins by the one hop through a copy, and says so."""
    vectors, records = _stray_scene(rng)
    assert float((vectors[:4] @ vectors[4]).max()) == pytest.approx(0.965, abs=1e-4)
    assert max(float(vectors[i] @ vectors[4]) for i in (0, 1, 3)) < 0.95
    (group,) = NeighbourGraph(records, vectors).groups(0.95)
    members = {m.image.path: m for m in group.members}
    assert group.reference.image.path == "/p/padded.png" and len(members) == 5
    assert members["/p/stray.jpg"].group_match
    assert members["/p/stray.jpg"].similarity == pytest.approx(float(vectors[2] @ vectors[4]), abs=1e-5)


def test_a_merge_moves_only_the_pictures_that_match_a_copy_they_join(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stray (matching only the turned copy, 0.965) became a reference and took the turned copy;
    the turned copy matches the photo and the crop, so it moves to their group, and the stray, which
    matches none of them, is left alone rather than chained in. (2 pairs in 6 match across: the
    share is lowered to let this small scene merge; and with no `STAY_MARGIN` the turned copy
    follows the stray, which it matches a little better than the twin.)"""
    monkeypatch.setattr(grouping, "MERGE_SHARE", 0.3)
    monkeypatch.setattr(grouping, "STAY_MARGIN", 0.0)
    vectors, records = _stray_scene(rng)
    (group,) = NeighbourGraph(records, vectors).groups(0.95)
    paths = [m.image.path for m in group.members]
    assert paths == ["/p/padded.png", "/p/photo.jpg", "/p/turned.jpg", "/p/crop.jpg"]
    turned = group.members[2]
    assert turned.group_match and turned.similarity == pytest.approx(float(vectors[2] @ vectors[3]), abs=1e-5)


def _mirror_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[int], list[tuple[int, ...]]]:
    """A photo, its mirrored copy (0.92: below a 0.95 threshold) and an unrelated picture; the copy's
    pHash is far from the photo's, but its mirrored view is the photo's pHash."""
    photo, away, other = _unit(rng.normal(size=(3, 16)))
    vectors = np.stack([photo, _at_angle(photo, away, 0.92), other]).astype(np.float32)
    hashes = [0xF0F0_F0F0_0000_FFFF, 0x0F0F_0F0F_FFFF_0000, 0x1234_5678_9ABC_DEF0]
    views = [(0x0F0F_0F0F_FFFF_0001, 1, 2, 3), (0xF0F0_F0F0_0000_FFFE, 4, 5, 6), (7, 8, 9, 10)]
    return vectors, hashes, views


def test_a_mirrored_copy_joins_by_its_mirrored_phash_only_when_mirrors_are_compared(
    rng: np.random.Generator,
) -> None:
    from dupfinder.grouping import HashConfirm

    vectors, hashes, views = _mirror_scene(rng)
    rule = HashConfirm(margin=0.05, max_distance=2)

    def graph(compared: tuple[str, ...]) -> NeighbourGraph:
        return NeighbourGraph(
            _records(3), vectors, hashes=hashes, confirm=rule, hash_views=views, compared_views=compared
        )

    assert _paths(graph(()), 0.95) == []
    assert _paths(graph(("turned left", "turned over", "turned right")), 0.95) == []
    (group,) = graph(("mirrored",)).groups(0.95)
    copy = group.members[1]
    assert copy.hash_confirmed and copy.hash_view == "mirrored"
    assert (
        copy.similarity_text.endswith("(pHash match, mirrored)") and copy.to_dict()["hash_view"] == "mirrored"
    )
    assert _paths(graph(("mirrored",)), 0.98) == []  # still only `margin` below the threshold
    with pytest.raises(ValueError, match="compared_views"):
        graph(("upside down",))


def test_the_colour_veto_compares_a_mirrored_copy_s_colours_mirrored(rng: np.random.Generator) -> None:
    """Red left and blue right: its mirrored copy is blue left and red right, which agrees once
    mirrored; the same design recoloured green and yellow is still vetoed."""
    from PIL import Image

    from dupfinder.chroma import chroma_signature
    from dupfinder.grouping import HashConfirm

    def signature(left: tuple[int, int, int], right: tuple[int, int, int]) -> int:
        picture = Image.new("RGB", (64, 48), left)
        picture.paste(right, (32, 0, 64, 48))
        return chroma_signature(picture)

    red, blue, green, yellow = (220, 30, 30), (30, 30, 220), (30, 200, 30), (220, 200, 20)
    vectors, hashes, views = _mirror_scene(rng)
    rule = HashConfirm(margin=0.05, max_distance=2)
    for colours, grouped in (
        ([signature(red, blue), signature(blue, red), signature(red, red)], True),
        ([signature(red, blue), signature(yellow, green), signature(red, red)], False),
    ):
        graph = NeighbourGraph(
            _records(3),
            vectors,
            hashes=hashes,
            confirm=rule,
            colours=colours,
            hash_views=views,
            compared_views=("mirrored",),
        )
        assert _paths(graph, 0.95) == ([{"/p/0000.jpg", "/p/0001.jpg"}] if grouped else [])


def _split_scene(rng: np.random.Generator, close_copies: int = 0) -> tuple[np.ndarray, list[ImageRecord]]:
    """One picture whose copies score near a 0.9 threshold: the photo (the reference) and three
    copies (0.95 to it, 0.96 to one another), and an edited copy that matches the copies (0.93) but
    not the photo (0.84), with a smaller copy of the edit (0.99 to it, 0.92 to the copies). With
    `close_copies`, that many more copies of the photo (0.995 to it) that the edit does not match
    (0.84)."""
    e0, e1, *others = np.linalg.qr(rng.normal(size=(32, 6 + close_copies)))[0].T
    tilt = np.arccos(0.96)
    photo = np.cos(tilt) * e0 + np.sin(tilt) * e1
    edited = np.cos(tilt) * e0 - np.sin(tilt) * e1
    copies = [e0 + 0.03 * e1 + 0.2 * other for other in others[:3]]
    close = [photo + 0.1 * other for other in others[4:]]
    vectors = _unit(np.stack([photo, *copies, edited, edited + 0.15 * others[3], *close]))
    records = [
        ImageRecord("/p/photo.jpg", 400, 300, 9000, 1.0),
        *[ImageRecord(f"/p/copy{i}.jpg", 200, 150, 5000 - i, 1.0) for i in range(3)],
        ImageRecord("/p/edited.jpg", 300, 225, 7000, 1.0),
        ImageRecord("/p/edited-small.jpg", 100, 75, 1000, 1.0),
        *[ImageRecord(f"/p/close{i}.jpg", 200, 150, 4000 - i, 1.0) for i in range(close_copies)],
    ]
    return vectors, records


def test_two_groups_of_one_picture_merge_and_say_why(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edit matches every copy but not the photo, so it started a second group (with its small
    copy); a share of 6 in 8 pairs across the two matching merges them."""
    vectors, records = _split_scene(rng)
    similarity = vectors @ vectors.T
    assert similarity[4, 0] < 0.9 < similarity[4:6, 1:4].min()
    monkeypatch.setattr(grouping, "MERGE_SHARE", 2.0)  # never: the split as it was
    assert len(NeighbourGraph(records, vectors).groups(0.9)) == 2
    monkeypatch.undo()
    (group,) = NeighbourGraph(records, vectors).groups(0.9)
    assert group.reference.image.path == "/p/photo.jpg"
    edited, small = group.members[4], group.members[5]
    assert (edited.image.path, small.image.path) == ("/p/edited.jpg", "/p/edited-small.jpg")
    # Their best match among the copies they joined, not each other's 0.99.
    assert edited.similarity == pytest.approx(similarity[4, 1:4].max(), abs=1e-5)
    assert small.similarity == pytest.approx(similarity[5, 1:4].max(), abs=1e-5)
    assert edited.group_match and not edited.hash_confirmed and edited.to_dict()["group_match"] is True
    assert edited.similarity_text.endswith("(like the group's other copies)")
    assert not any(m.group_match for m in group.members[:4])


def test_two_groups_stay_apart_when_under_half_the_pairs_across_match(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 4 more copies of the photo that the edit does not match, 6 pairs in 16 match."""
    vectors, records = _split_scene(rng, close_copies=4)
    assert (vectors[4:6] @ vectors[6:].T).max() < 0.9
    assert len(NeighbourGraph(records, vectors).groups(0.9)) == 2
    monkeypatch.setattr(grouping, "MERGE_SHARE", 0.3)
    assert len(NeighbourGraph(records, vectors).groups(0.9)) == 1


def test_a_user_s_not_duplicates_keeps_the_two_groups_apart(rng: np.random.Generator) -> None:
    vectors, records = _split_scene(rng)
    ignored = frozenset({frozenset({"/p/photo.jpg", "/p/edited.jpg"})})
    assert len(NeighbourGraph(records, vectors).groups(0.9, ignored)) == 2


def test_a_group_whose_pictures_do_not_all_match_the_other_stays_apart(rng: np.random.Generator) -> None:
    """Two pictures (0.8 alike), each with three copies; one copy of each leans towards the other
    picture and the two match (0.965), but nothing else across does: no chain merges them."""
    e0, e1, *others = np.linalg.qr(rng.normal(size=(32, 6)))[0].T
    first, second = e0, 0.8 * e0 + 0.6 * e1
    vectors = _unit(
        np.stack(
            [
                first,
                *[first + 0.1 * other for other in others[:2]],
                first + 0.3 * (second - first),
                second,
                *[second + 0.1 * other for other in others[2:]],
                second + 0.3 * (first - second),
            ]
        )
    )
    names = ("a", "a1", "a2", "a3", "b", "b1", "b2", "b3")
    records = [ImageRecord(f"/p/{n}.jpg", 400 - i, 400 - i, 1000, 1.0) for i, n in enumerate(names)]
    assert (vectors[3] @ vectors[7]) > 0.9 and (vectors[:4] @ vectors[4:].T >= 0.9).sum() == 1
    groups = _paths(NeighbourGraph(records, vectors), 0.9)
    assert sorted(map(sorted, groups)) == [
        [f"/p/{n}.jpg" for n in names[:4]],
        sorted(f"/p/{n}.jpg" for n in names[4:]),
    ]


def test_a_group_whose_reference_matches_moves_whole(rng: np.random.Generator) -> None:
    """A copy of the edit that matches the edit (0.95) but none of the photo's copies (0.89) comes
    along with the edit's group: it matches that group's reference, which matches the copies."""
    vectors, records = _split_scene(rng)
    *_, away = np.linalg.qr(np.column_stack([vectors.T, rng.normal(size=32)]))[0].T
    follower = 0.95 * vectors[4] + np.sqrt(1 - 0.95**2) * away
    vectors = np.vstack([vectors, follower[None]]).astype(np.float32)
    records = [*records, ImageRecord("/p/edited-grey.png", 120, 90, 900, 1.0)]
    assert (vectors[1:4] @ follower).max() < 0.9
    (group,) = NeighbourGraph(records, vectors).groups(0.9)
    member = next(m for m in group.members if m.image.path == "/p/edited-grey.png")
    assert member.group_match and member.similarity == pytest.approx(
        (vectors[1:4] @ follower).max(), abs=1e-5
    )


def test_a_stretched_copy_is_not_the_best_copy_when_the_others_share_the_original_s_shape(
    rng: np.random.Generator,
) -> None:
    """Stretched 30% wider, a copy has more pixels than its original and no more picture: counted at
    the shape its matches share (2:1, one of them turned a quarter), it ranks as the original."""
    photo = _unit(rng.normal(size=(1, 16)))[0]
    vectors = np.stack([_at_angle(photo, other, 0.995) for other in _unit(rng.normal(size=(5, 16)))])
    records = [
        ImageRecord("/p/stretched.jpg", 333, 128, 40_000, 1.0),
        ImageRecord("/p/photo.jpg", 256, 128, 30_000, 1.0),
        ImageRecord("/p/small.jpg", 128, 64, 9_000, 1.0),
        ImageRecord("/p/turned.jpg", 128, 256, 29_000, 1.0),
        ImageRecord("/p/thumb.jpg", 100, 50, 5_000, 1.0),
    ]
    (group,) = NeighbourGraph(records, vectors.astype(np.float32)).groups(0.9)
    assert group.reference.image.path == "/p/photo.jpg"
    assert quality_key(records[0]) < quality_key(records[1])  # by its own pixels alone it would win


def test_a_stretched_copy_with_a_single_match_keeps_its_pixels(rng: np.random.Generator) -> None:
    """With one match there is no common shape to go by: which one is stretched is not known."""
    photo = _unit(rng.normal(size=(1, 16)))[0]
    other = _unit(rng.normal(size=(1, 16)))[0]
    vectors = np.stack([photo, _at_angle(photo, other, 0.99)]).astype(np.float32)
    records = [
        ImageRecord("/p/photo.jpg", 256, 128, 30_000, 1.0),
        ImageRecord("/p/wide.jpg", 333, 128, 40_000, 1.0),
    ]
    (group,) = NeighbourGraph(records, vectors).groups(0.9)
    assert group.reference.image.path == "/p/wide.jpg"


def test_shapes_compare_long_over_short_side_and_bars_hide_it() -> None:
    from dupfinder.grouping import in_common_shape, shape_of

    assert shape_of(ImageRecord("/a", 200, 100, 1, 0)) == shape_of(ImageRecord("/b", 100, 200, 1, 0)) == 2.0
    assert shape_of(ImageRecord("/c", 200, 150, 1, 0, picture_share=0.75)) is None
    assert in_common_shape(ImageRecord("/d", 333, 128, 1, 0), 2.0) == 256 * 128
    assert in_common_shape(ImageRecord("/e", 256, 128, 1, 0), 2.0) == 256 * 128


_COLOUR = 0x10F0_10F0_10F0_10F0  # a colour signature with colour in every quarter
_GREY = 0  # no colour anywhere


def _greyscale_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """A colour picture, a copy of it (0.995), its greyscale copy that the model scores 0.45 (under
    the graph's floor) with the very same pHash, and a picture the greyscale copy looks more like
    (0.85: under a 0.9 threshold, yet enough for the rival filter to cut a 0.45 link)."""
    photo, away, side, other = np.linalg.qr(rng.normal(size=(16, 4)))[0].T
    grey = _at_angle(photo, away, 0.45)
    vectors = np.stack([photo, _at_angle(photo, side, 0.995), grey, _at_angle(grey, other, 0.85)])
    hashes = [0xF0F0_F0F0_0000_FFFF] * 3 + [0x0F0F_0F0F_FFFF_0000]
    return vectors.astype(np.float32), hashes


def test_a_greyscale_copy_with_the_same_phash_joins_however_low_the_model_scores_it(
    rng: np.random.Generator,
) -> None:
    from dupfinder.grouping import HashConfirm

    vectors, hashes = _greyscale_scene(rng)
    rule = HashConfirm(margin=0.05, max_distance=2)
    records = [
        ImageRecord("/p/photo.jpg", 400, 300, 90_000, 1.0),
        ImageRecord("/p/small.jpg", 200, 150, 20_000, 1.0),
        ImageRecord("/p/grey.png", 400, 300, 120_000, 1.0, colourless=True),
        ImageRecord("/p/other.jpg", 300, 300, 60_000, 1.0),
    ]
    colours = [_COLOUR, _COLOUR, _GREY, _COLOUR]
    (group,) = NeighbourGraph(records, vectors, hashes=hashes, confirm=rule, colours=colours).groups(0.9)
    assert [m.image.path for m in group.members] == ["/p/photo.jpg", "/p/small.jpg", "/p/grey.png"]
    grey = group.members[2]
    assert grey.hash_confirmed and grey.similarity == pytest.approx(0.45, abs=1e-4)
    # Without the card's rule, or when both are in colour (an equal pHash alone is no proof), no.
    no_rule = NeighbourGraph(records, vectors, hashes=hashes, colours=colours)
    assert len(no_rule.groups(0.9)[0].members) == 2
    in_colour = NeighbourGraph(records, vectors, hashes=hashes, confirm=rule, colours=[_COLOUR] * 4)
    assert len(in_colour.groups(0.9)[0].members) == 2


def test_a_phash_shared_by_many_pictures_finds_no_greyscale_copy(rng: np.random.Generator) -> None:
    from dupfinder.grouping import GREYSCALE_BUCKET, HashConfirm

    count = GREYSCALE_BUCKET + 1
    vectors = _unit(rng.normal(size=(count, 16)))  # unrelated pictures, one flat pHash
    colours = [_GREY] + [_COLOUR] * (count - 1)
    graph = NeighbourGraph(
        _records(count), vectors, hashes=[0] * count, confirm=HashConfirm(0.05, 2), colours=colours
    )
    assert graph.groups(0.9) == []
    fewer = NeighbourGraph(
        _records(count - 1),
        vectors[:-1],
        hashes=[0] * (count - 1),
        confirm=HashConfirm(0.05, 2),
        colours=colours[:-1],
    )
    assert len(fewer.groups(0.9)) == 1  # under the limit the grey one joins a colour one


def _aligned_pair(rng: np.random.Generator, similarity: float) -> np.ndarray:
    """Ten unrelated unit vectors, the second `similarity` like the first."""
    vectors = _unit(rng.normal(size=(10, 32)))
    vectors[1] = _at_angle(vectors[0], vectors[1], similarity)
    return vectors


def test_an_aligned_pair_below_the_threshold_links_and_says_so(rng: np.random.Generator) -> None:
    vectors = _aligned_pair(rng, 0.85)
    asked: list[tuple[str, str]] = []

    def aligner(first: str, second: str) -> AlignedPair | None:
        asked.append((first, second))
        return AlignedPair(0.998, True, False) if {first, second} == {"/p/0000.jpg", "/p/0001.jpg"} else None

    graph = NeighbourGraph(_records(10), vectors, alignment=AlignmentRule(floor=0.8, min_similarity=0.995))
    graph.align(aligner, 0.8, 0.95)
    assert asked == [("/p/0000.jpg", "/p/0001.jpg")]  # only pairs between the floor and the threshold
    groups = graph.groups(0.95)
    assert _paths(graph, 0.95) == [{"/p/0000.jpg", "/p/0001.jpg"}]
    copy = groups[0].members[1]
    assert copy.aligned_match and not copy.hash_confirmed and copy.similarity == pytest.approx(0.998)
    assert "aligned with it" in copy.similarity_text
    graph.alignment = AlignmentRule(floor=0.8, min_similarity=0.999)  # a stricter bar: no link
    assert graph.groups(0.95) == []
    graph.alignment = None
    assert graph.groups(0.95) == []


def test_pairs_below_the_alignment_floor_are_not_asked_about(rng: np.random.Generator) -> None:
    vectors = _aligned_pair(rng, 0.7)

    def aligner(first: str, second: str) -> AlignedPair | None:
        raise AssertionError("a pair below the floor was aligned")

    graph = NeighbourGraph(_records(10), vectors, alignment=AlignmentRule(0.8, 0.995))
    graph.align(aligner, 0.8, 0.95)
    assert graph.aligned_pairs == {} and graph.groups(0.95) == []


@pytest.mark.parametrize("crop_to_original", [0.85, 0.97])
def test_a_crop_aligned_with_two_versions_does_not_join_them(
    rng: np.random.Generator, crop_to_original: float
) -> None:
    """A crop of a picture that leaves out what its second version changed is a part of both, so
    it links to each by its aligned parts; the second version still does not join the first's
    group through it, whether the crop joined by its whole (0.97) or its aligned part (0.85)."""
    vectors = _unit(rng.normal(size=(10, 32)))
    original, crop, version = 9, 5, 2  # most pixels first: the version is a smaller save
    vectors[original] = _at_angle(vectors[crop], vectors[original], crop_to_original)
    vectors[version] = _at_angle(vectors[crop], vectors[version], 0.85)
    parts = {frozenset(("/p/0005.jpg", "/p/0009.jpg")), frozenset(("/p/0002.jpg", "/p/0005.jpg"))}

    def aligner(first: str, second: str) -> AlignedPair | None:
        score = 0.998 if frozenset((first, second)) in parts else 0.9  # the versions: by their changes
        return AlignedPair(score, first == "/p/0005.jpg", second == "/p/0005.jpg")  # the crop is inside

    graph = NeighbourGraph(_records(10), vectors, alignment=AlignmentRule(floor=0.8, min_similarity=0.99))
    graph.align(aligner, 0.8, 0.95)
    assert graph.aligned_pairs  # the crop's pairs were asked about
    assert float(vectors[original] @ vectors[version]) < 0.95
    groups = _paths(graph, 0.95)
    assert {"/p/0002.jpg", "/p/0009.jpg"} not in [group & {"/p/0002.jpg", "/p/0009.jpg"} for group in groups]
    assert any("/p/0005.jpg" in group for group in groups)  # the crop is in one of the two groups


def test_aligning_on_threads_gives_the_same_scores_and_stops_when_asked(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(12, 32)))
    for copy in range(1, 12):  # every picture 0.85 like the first: eleven pairs to align
        vectors[copy] = _at_angle(vectors[0], vectors[copy], 0.85)

    def aligner(first: str, second: str) -> AlignedPair | None:
        return AlignedPair(0.9 + int(second[-8:-4]) / 1000, False, True)

    def graph() -> NeighbourGraph:
        return NeighbourGraph(_records(12), vectors, alignment=AlignmentRule(0.8, 0.99))

    alone, threaded = graph(), graph()
    alone.align(aligner, 0.8, 0.95)
    threaded.align(aligner, 0.8, 0.95, workers=2)
    assert alone.aligned_pairs == threaded.aligned_pairs and len(alone.aligned_pairs) >= 11

    class Stop(Exception):
        pass

    def stop_after_three(done: int, total: int) -> None:
        if done >= 3:
            raise Stop

    stopped = graph()
    with pytest.raises(Stop):
        stopped.align(aligner, 0.8, 0.95, stop_after_three, workers=2)
    assert 3 <= len(stopped.aligned_pairs) < len(alone.aligned_pairs)
    stopped.align(aligner, 0.8, 0.95, workers=2)  # a second call asks only the pairs left
    assert stopped.aligned_pairs == alone.aligned_pairs


def test_a_crop_of_a_crop_joins_through_the_crop_it_lies_in(rng: np.random.Generator) -> None:
    """A part of a copy is a part of the picture: a 40% crop that lies inside a 70% crop (and is
    too unlike the whole picture to be aligned with it) joins the picture's group through it."""
    vectors = _unit(rng.normal(size=(10, 32)))
    original, crop, small_crop = 9, 5, 1
    vectors[crop] = _at_angle(vectors[original], vectors[crop], 0.85)
    vectors[small_crop] = _at_angle(vectors[crop], vectors[small_crop], 0.85)
    assert float(vectors[original] @ vectors[small_crop]) < 0.8  # never aligned with the whole

    def aligner(first: str, second: str) -> AlignedPair | None:
        inside = {"/p/0001.jpg": 0, "/p/0005.jpg": 1, "/p/0009.jpg": 2}  # smaller lies inside bigger
        return AlignedPair(0.998, inside[first] < inside[second], inside[second] < inside[first])

    graph = NeighbourGraph(_records(10), vectors, alignment=AlignmentRule(floor=0.8, min_similarity=0.99))
    graph.align(aligner, 0.8, 0.95)
    assert _paths(graph, 0.95) == [{"/p/0001.jpg", "/p/0005.jpg", "/p/0009.jpg"}]


def test_pairs_the_model_already_puts_in_one_group_are_not_aligned(rng: np.random.Generator) -> None:
    vectors = _unit(rng.normal(size=(10, 32)))
    vectors[1] = _at_angle(vectors[9], vectors[1], 0.97)  # two copies of the best picture, 9
    vectors[2] = _at_angle(vectors[9], -vectors[1], 0.97)  # 0.88 like the first copy
    assert 0.8 <= float(vectors[1] @ vectors[2]) < 0.95  # a near pair, in one group already
    asked: list[tuple[str, str]] = []

    def aligner(first: str, second: str) -> AlignedPair | None:
        asked.append((first, second))
        return None

    graph = NeighbourGraph(_records(10), vectors, alignment=AlignmentRule(floor=0.8, min_similarity=0.99))
    graph.align(aligner, 0.8, 0.95)
    assert _paths(graph, 0.95) == [{"/p/0001.jpg", "/p/0002.jpg", "/p/0009.jpg"}]
    assert asked == []


def test_a_screenshot_links_by_its_pasted_picture_not_by_alignment(rng: np.random.Generator) -> None:
    vectors = _aligned_pair(rng, 0.85)
    inner: list[np.ndarray | None] = [None] * 10
    inner[1] = vectors[0].copy()  # the second picture is a screenshot with the first pasted in
    asked: list[tuple[str, str]] = []

    def aligner(first: str, second: str) -> AlignedPair | None:
        asked.append((first, second))
        return AlignedPair(0.999, True, False)

    graph = NeighbourGraph(_records(10), vectors, inner=inner, alignment=AlignmentRule(0.8, 0.99))
    graph.align(aligner, 0.8, 0.95)
    assert asked == []  # its pairs are not aligned
    members = graph.groups(0.95)[0].members
    assert members[1].screenshot_match and not members[1].aligned_match
