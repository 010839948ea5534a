"""The corpus's similar-but-different families: paired in order, and split between val and test."""

from __future__ import annotations

import numpy as np

from benchmarks.corpus import hard_pairs
from benchmarks.corpus.images import Record


def _stereo(n: int, side: str, grey: int) -> Record:
    """A left or right view of stereo pair `n`, with a flat 32x32 signature of one grey level."""
    signature = np.full(32 * 32, grey, dtype=np.uint8).tobytes()
    return Record(
        "opencv-doc",
        "1",
        f"usr/share/doc/opencv-doc/examples/data/{side}{n:02d}.jpg",
        "photo",
        signature=signature,
    )


def test_one_family_in_three_goes_to_val_and_train_gets_none() -> None:
    records = [
        _stereo(n, side, 40 * n + (9 if side == "right" else 0))
        for n in range(1, 6)
        for side in ("left", "right")
    ]
    grouped = hard_pairs.families(records)
    pairs, forced, copies = hard_pairs.make_pairs(grouped, {r.key for r in records})

    assert len(pairs) == 5 and not copies
    assert set(forced) == {r.key for r in records}
    splits = [forced[a.key] for a, _, _ in pairs]
    assert splits == ["test", "val", "test", "test", "val"]
    assert all(forced[a.key] == forced[b.key] for a, b, _ in pairs), "a pair never straddles splits"


def test_a_member_that_is_the_same_picture_is_dropped_not_paired() -> None:
    left, right = _stereo(1, "left", 100), _stereo(1, "right", 101)  # 1 grey level apart: a copy
    pairs, forced, copies = hard_pairs.make_pairs(hard_pairs.families([left, right]), {left.key, right.key})

    assert pairs == [] and forced == {} and copies == {right.key}


def _moon(n: int) -> Record:
    """Moon texture `n` (one family for every night), with its own grey level."""
    signature = np.full(32 * 32, 10 * n, dtype=np.uint8).tobytes()
    return Record(
        "kstars-data", "1", f"usr/share/kstars/textures/moon{n:02d}.png", "photo", signature=signature
    )


def test_the_pairs_of_one_family_are_split_too_and_unpaired_members_follow_the_first() -> None:
    records = [_moon(n) for n in range(11)]  # 5 pairs (the rule's cap) and one member left over
    pairs, forced, _ = hard_pairs.make_pairs(hard_pairs.families(records), {r.key for r in records})

    assert [forced[a.key] for a, _, _ in pairs] == ["test", "val", "test", "test", "val"]
    assert all(forced[a.key] == forced[b.key] for a, b, _ in pairs)
    assert forced[records[10].key] == "test"
