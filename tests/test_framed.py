"""A picture pasted into a screenshot is found; photos, clip-art, bars and flat blocks are left alone."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dupfinder.framed import framed_picture_box
from dupfinder.imaging import load_for_model, resize_for_model
from tests.imagegen import save, synthetic_photo
from trainer.augment import pad_to_aspect, screenshot_canvas


def _pasted_box(picture: Image.Image, scale: float, x: float, y: float) -> tuple[int, int, int, int]:
    """Where `screenshot_canvas` puts the picture (its own arithmetic, restated)."""
    width, height = round(picture.width * scale), round(picture.height * scale) + 24
    left = round(x * (width - picture.width))
    top = 24 + round(y * (height - 24 - picture.height))
    return left, top, left + picture.width, top + picture.height


def _resaved(picture: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.mark.parametrize(
    "seed, size, scale, x, y",
    [(1, (320, 240), 1.5, 0.3, 0.6), (2, (400, 300), 1.3, 0.5, 0.5), (3, (240, 320), 2.0, 0.1, 0.9)],
)
def test_the_pasted_picture_is_found_to_within_two_percent(
    seed: int, size: tuple[int, int], scale: float, x: float, y: float
) -> None:
    picture = synthetic_photo(seed, size)
    screenshot = screenshot_canvas(picture, scale, x, y, seed=seed)
    box = framed_picture_box(screenshot)
    assert box is not None
    expected = _pasted_box(picture, scale, x, y)
    assert max(abs(a - b) for a, b in zip(box, expected)) <= 0.02 * max(size)


def test_a_jpeg_screenshot_of_a_big_picture_is_found() -> None:
    picture = synthetic_photo(4, (1200, 800))
    screenshot = _resaved(screenshot_canvas(picture, 1.4, 0.4, 0.4, seed=4), quality=80)
    box = framed_picture_box(screenshot)
    assert box is not None
    expected = _pasted_box(picture, 1.4, 0.4, 0.4)
    assert max(abs(a - b) for a, b in zip(box, expected)) <= 0.02 * 1200


def test_a_white_backed_picture_on_a_light_grey_page_is_found() -> None:
    """255 against 245 is faint, but a human sees the rectangle, and so must we."""
    picture = Image.new("RGB", (300, 300), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((40, 40, 260, 260), fill=(200, 40, 40))
    draw.rectangle((120, 10, 140, 60), fill=(40, 120, 40))
    box = framed_picture_box(screenshot_canvas(picture, 1.5, 0.3, 0.6))
    assert box is not None
    assert max(abs(a - b) for a, b in zip(box, _pasted_box(picture, 1.5, 0.3, 0.6))) <= 6


def _clip_art_on_white() -> Image.Image:
    image = Image.new("RGB", (400, 300), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 40, 340, 260), fill=(30, 90, 200), outline=(0, 0, 0), width=4)
    draw.polygon([(200, 20), (230, 80), (170, 80)], fill=(220, 180, 0))
    return image


def _flat_block_on_white() -> Image.Image:
    image = Image.new("RGB", (400, 300), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((80, 60, 320, 240), fill=(0, 0, 0))
    return image


@pytest.mark.parametrize(
    "name, image",
    [
        ("a photo", synthetic_photo(5, (400, 300))),
        ("a letterboxed photo", pad_to_aspect(synthetic_photo(6, (400, 300)), 2.0)),
        ("clip-art on a white page", _clip_art_on_white()),
        ("a flat block on a page", _flat_block_on_white()),
        ("one colour", Image.new("RGB", (300, 200), (245, 245, 245))),
        ("a small picture on a big page", screenshot_canvas(synthetic_photo(7, (80, 60)), 4.0)),
        ("a tiny file", screenshot_canvas(synthetic_photo(7, (80, 60)), 1.5).resize((30, 24))),
        ("a picture filling nearly all the canvas", screenshot_canvas(synthetic_photo(8, (400, 300)), 1.04)),
    ],
)
def test_other_pictures_have_no_inner_picture(name: str, image: Image.Image) -> None:
    assert framed_picture_box(image) is None, name


def test_the_decode_gives_the_inner_picture_only_when_asked_and_only_for_screenshots(tmp_path: Path) -> None:
    picture = synthetic_photo(9, (320, 240))
    shot = save(screenshot_canvas(picture, 1.5, 0.3, 0.6, seed=9), tmp_path / "shot.png")
    photo = save(picture, tmp_path / "photo.png")
    assert load_for_model(shot, 64).inner is None
    assert load_for_model(photo, 64, find_inner=True).inner is None
    inner = load_for_model(shot, 64, find_inner=True).inner
    assert inner is not None and inner.shape == (64, 64, 3) and inner.dtype == np.uint8
    alone = np.asarray(resize_for_model(picture, 64), np.float32)
    assert float(np.abs(inner.astype(np.float32) - alone).mean()) < 6.0
