"""Augmentations, the random policy and the named tiers: deterministic, well-formed, realistic."""

from __future__ import annotations

import io
from typing import cast

import numpy as np
import pytest
from PIL import Image

from dupfinder.imaging import open_oriented_rgb
from tests.imagegen import synthetic_photo
from trainer import augment, policy
from trainer.tiers import TIERS, get_tier

PHOTO = synthetic_photo(7, (200, 150))


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, np.int16)


def test_geometry_sizes() -> None:
    assert augment.rescale(PHOTO, 0.5).size == (100, 75)
    assert max(augment.thumbnail(PHOTO, 80).size) == 80
    assert augment.centre_crop(PHOTO, 0.25).size == (100, 75)
    assert augment.crop_fraction(PHOTO, 0.5, 0.5, 0.5, 0.5).size == (100, 75)
    assert augment.rotate90(PHOTO, 1).size == (150, 200)
    assert augment.rotate90(PHOTO, 4).size == (200, 150)
    assert augment.stretch(PHOTO, 1.5, 1.0).size == (300, 150)
    assert augment.pad_to_aspect(PHOTO, 1.0).size == (200, 200)
    assert augment.add_border(PHOTO, 0.1, augment.BLACK).size == (230, 180)
    canvas = augment.screenshot_canvas(PHOTO, 1.5)
    assert canvas.width == 300 and canvas.height > 225


def test_small_rotation_without_fill_leaves_no_corners() -> None:
    white = Image.new("RGB", (200, 150), (255, 255, 255))
    rotated = augment.rotate(white, 10.0)
    assert rotated.width < 200 and rotated.height < 150
    assert _pixels(rotated).min() > 200  # no black corners from outside the picture
    assert augment.rotate(white, 10.0, fill=augment.BLACK).width > 200


def test_colour_transforms_change_what_they_should() -> None:
    assert _pixels(augment.adjust_brightness(PHOTO, 1.3)).mean() > _pixels(PHOTO).mean()
    grey = _pixels(augment.greyscale(PHOTO))
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    assert _pixels(augment.adjust_saturation(PHOTO, 0.0)).std(axis=2).max() <= 1
    assert _pixels(augment.blur(PHOTO, 3)).std() < _pixels(PHOTO).std()


def test_noise_is_reproducible_from_its_seed() -> None:
    first, second = augment.add_noise(PHOTO, 10, seed=5), augment.add_noise(PHOTO, 10, seed=5)
    assert np.array_equal(_pixels(first), _pixels(second))
    assert not np.array_equal(_pixels(first), _pixels(augment.add_noise(PHOTO, 10, seed=6)))


def test_overlays_mark_only_part_of_the_picture() -> None:
    for marked in (
        augment.overlay_text(PHOTO, "© test", opacity=1.0),
        augment.overlay_logo(PHOTO, opacity=1.0),
    ):
        changed = np.any(_pixels(marked) != _pixels(PHOTO), axis=2).mean()
        assert 0.001 < changed < 0.3


def test_reencode_goes_through_the_engine_decoder() -> None:
    data = augment.encode(PHOTO, "JPEG", 20)
    decoded = augment.decode(data)
    assert decoded.size == PHOTO.size and decoded.mode == "RGB"
    assert np.abs(_pixels(decoded) - _pixels(PHOTO)).mean() > 1  # low quality leaves artefacts


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: augment.rescale(PHOTO, 0), "Invalid value for `scale`: expected > 0, received: scale=0"),
        (lambda: augment.centre_crop(PHOTO, 1.5), "`area`"),
        (lambda: augment.encode(PHOTO, "JPEG", 0), "`quality`"),
        (lambda: augment.overlay_text(PHOTO, "x", opacity=2), "`opacity`"),
    ],
)
def test_parameters_are_validated(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_policy_is_reproducible_from_the_seed() -> None:
    first = policy.sample_ops(np.random.default_rng(11), "full", PHOTO.size, 64)
    again = policy.sample_ops(np.random.default_rng(11), "full", PHOTO.size, 64)
    assert first == again
    a = policy.make_view(PHOTO, np.random.default_rng(11), "full", 64)
    b = policy.make_view(PHOTO, np.random.default_rng(11), "full", 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)


def test_policy_uses_every_transform_and_light_stays_light() -> None:
    names: set[str] = set()
    for seed in range(300):
        names |= {name for name, _ in policy.sample_ops(np.random.default_rng(seed), "full", (400, 300), 64)}
        light = policy.sample_ops(np.random.default_rng(seed), "light", (400, 300), 64)
        assert {name for name, _ in light} <= {"rescale", "reencode"}
    expected = {
        "crop_fraction",
        "rotate90",
        "rotate",
        "hflip",
        "stretch",
        "adjust_brightness",
        "adjust_contrast",
        "adjust_saturation",
        "greyscale",
        "blur",
        "add_noise",
        "overlay_text",
        "overlay_logo",
        "add_border",
        "pad_to_aspect",
        "screenshot_canvas",
        "rescale",
        "reencode",
    }
    assert expected <= names
    assert policy.sample_ops(np.random.default_rng(0), "none", (400, 300), 64) == []


def test_crops_keep_at_least_the_minimum_area() -> None:
    for seed in range(200):
        for name, params in policy.sample_ops(np.random.default_rng(seed), "full", (400, 300), 64, 0.4):
            if name == "crop_fraction":
                assert params["width"] * params["height"] >= 0.4 - 1e-9


def test_every_tier_makes_a_decodable_file() -> None:
    for name, tier in TIERS.items():
        data = tier.apply(PHOTO)
        image, _, _ = open_oriented_rgb(cast("object", io.BytesIO(data)))  # type: ignore[arg-type]
        assert image.mode == "RGB" and min(image.size) > 10, name


def test_exif_rotation_tier_displays_like_the_original() -> None:
    data = get_tier("exif-rotation").apply(PHOTO)
    stored = Image.open(io.BytesIO(data))
    assert stored.size == (150, 200)  # pixels are stored turned
    shown, _, _ = open_oriented_rgb(cast("object", io.BytesIO(data)))  # type: ignore[arg-type]
    assert shown.size == PHOTO.size
    assert np.abs(_pixels(shown) - _pixels(PHOTO)).mean() < 8


def test_unknown_tier_is_named() -> None:
    with pytest.raises(ValueError, match="Invalid value for `tier`"):
        get_tier("sepia")
