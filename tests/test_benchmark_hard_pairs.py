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
