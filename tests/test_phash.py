"""The engine's perceptual hash: the common pHash, stable under re-saving, apart for other pictures."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dupfinder.phash import (
    VIEWS,
    compared_views,
    distance,
    from_signed,
    hash_views,
    perceptual_hash,
    to_signed,
)
from tests.imagegen import synthetic_photo


def _resaved(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def test_copies_keep_the_hash_and_other_pictures_do_not() -> None:
    photo = synthetic_photo(1, (320, 240))
    other = synthetic_photo(2, (320, 240))
    original = perceptual_hash(photo)
    assert distance(original, perceptual_hash(photo.resize((160, 120)))) <= 2
    assert distance(original, perceptual_hash(_resaved(photo, 30))) <= 4
    assert distance(original, perceptual_hash(photo.convert("L").convert("RGB"))) <= 4
    assert distance(original, perceptual_hash(other)) > 12


def test_matches_the_imagehash_package_bit_for_bit() -> None:
    import imagehash  # installed by `make test` with the benchmark extras

    for seed in range(5):
        photo = synthetic_photo(seed, (200, 150))
        assert perceptual_hash(photo) == int(str(imagehash.phash(photo)), 16)


def test_hashes_survive_sqlite_signed_storage() -> None:
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        stored = to_signed(value)
        assert -(1 << 63) <= stored < 1 << 63
        assert from_signed(stored) == value
    assert distance(0, (1 << 64) - 1) == 64


def test_flat_pictures_hash_without_error() -> None:
    flat = Image.new("RGB", (64, 64), "grey")
    assert perceptual_hash(flat) == perceptual_hash(Image.new("RGB", (9, 7), "grey"))
    assert isinstance(perceptual_hash(Image.fromarray(np.zeros((1, 1, 3), np.uint8))), int)


_TRANSPOSES = {
    "mirrored": Image.Transpose.FLIP_LEFT_RIGHT,
    "turned left": Image.Transpose.ROTATE_90,  # Pillow turns anticlockwise
    "turned over": Image.Transpose.ROTATE_180,
    "turned right": Image.Transpose.ROTATE_270,
}


def test_each_view_is_the_phash_of_the_picture_mirrored_or_turned_exactly() -> None:
    photo = synthetic_photo(3, (320, 240))
    plain, views = hash_views(photo)
    assert plain == perceptual_hash(photo) and len(views) == len(VIEWS) == len(_TRANSPOSES)
    for name, view in zip(VIEWS, views):
        copy = perceptual_hash(photo.transpose(_TRANSPOSES[name]))
        assert view == copy, name
        assert distance(plain, copy) > 12  # what the plain rule could not match
    saved = perceptual_hash(_resaved(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 40))
    assert distance(views[0], saved) <= 4


def test_a_scan_compares_the_views_it_is_asked_for() -> None:
    assert compared_views(False, False) == ()
    assert compared_views(True, False) == ("mirrored",)
    assert compared_views(False, True) == ("turned left", "turned over", "turned right")
    assert compared_views(True, True) == VIEWS
