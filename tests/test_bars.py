"""Letterbox and pillarbox bars come off; a picture's own margins and backgrounds stay."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from dupfinder.bars import bar_box, trim_bars
from dupfinder.imaging import load_for_model, resize_for_model
from tests.imagegen import save, synthetic_photo
from trainer.augment import pad_to_aspect


def _resaved(picture: Image.Image, quality: int = 70) -> Image.Image:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _difference(a: Image.Image, b: Image.Image, size: int = 64) -> float:
    first = np.asarray(resize_for_model(a, size), np.float32)
    second = np.asarray(resize_for_model(b, size), np.float32)
    return float(np.abs(first - second).mean())


@pytest.mark.parametrize("aspect, colour", [(1.0, (0, 0, 0)), (1.9, (255, 255, 255)), (1.2, (30, 60, 200))])
def test_bars_of_any_colour_come_off_a_resaved_copy(aspect: float, colour: tuple[int, int, int]) -> None:
    photo = synthetic_photo(4, (400, 300))
    copy = _resaved(pad_to_aspect(photo, aspect, colour))
    trimmed = trim_bars(copy)
    assert abs(trimmed.width - 400) <= 6 and abs(trimmed.height - 300) <= 6
    assert _difference(trimmed, photo) < 6 < _difference(copy, photo)


def test_a_large_photo_is_measured_on_a_reduced_copy_and_cut_at_full_size() -> None:
    photo = synthetic_photo(5, (1600, 900))
    box = bar_box(pad_to_aspect(photo, 1.0))
    assert box is not None
    left, top, right, bottom = box
    assert (left, right) == (0, 1600) and abs(top - 350) <= 8 and abs(bottom - 1250) <= 8


def test_bars_added_twice_come_off_layer_by_layer() -> None:
    photo = synthetic_photo(6, (300, 300))
    twice = pad_to_aspect(pad_to_aspect(photo, 1.5, (0, 0, 0)), 1.0, (255, 255, 255))
    assert trim_bars(twice).size == photo.size


def test_pictures_without_bars_are_left_whole() -> None:
    photo = synthetic_photo(7, (320, 240))
    assert bar_box(photo) is None and trim_bars(photo) is photo


@pytest.mark.parametrize("margins", [(20, 20, 20, 20), (0, 30, 0, 0), (0, 10, 0, 60), (10, 20, 0, 20)])
def test_a_pictures_own_margins_are_notpad_to_aspect(margins: tuple[int, int, int, int]) -> None:
    """Margins on all sides (a framed print), on one side, or lopsided: all kept."""
    left, top, right, bottom = margins
    photo = synthetic_photo(10, (200, 160))
    framed = ImageOps.expand(photo, (left, top, right, bottom), fill=(255, 255, 255))
    assert bar_box(framed) is None


def test_two_designs_on_white_are_not_cut_into_lookalikes() -> None:
    """Clip-art on a white page keeps its page: two flags stay two small flags, not two full frames."""
    for stripes in ([(255, 255, 255), (220, 20, 60)], [(174, 28, 40), (255, 255, 255), (33, 70, 139)]):
        flag = Image.new("RGB", (240, 150))
        draw = ImageDraw.Draw(flag)
        for index, colour in enumerate(stripes):
            band = 150 / len(stripes)
            draw.rectangle((0, round(index * band), 240, round((index + 1) * band)), fill=colour)
        page = ImageOps.expand(flag, 40, fill=(255, 255, 255))
        ImageDraw.Draw(page).rectangle((39, 39, 280, 190), outline=(0, 0, 0))
        assert bar_box(page) is None


@pytest.mark.parametrize("vertical", [False, True])
def test_a_tricolour_flags_outer_bands_are_not_bars(vertical: bool) -> None:
    """Red over white over blue has solid top and bottom bands of equal height, but they differ in
    colour: cutting them left a white strip that looked like every blank picture."""
    flag = Image.new("RGB", (600, 400), (255, 255, 255))
    draw = ImageDraw.Draw(flag)
    draw.rectangle((0, 0, 599, 132), fill=(174, 28, 40))
    draw.rectangle((0, 267, 599, 399), fill=(33, 70, 139))
    if vertical:
        flag = flag.transpose(Image.Transpose.ROTATE_90)
    assert bar_box(_resaved(flag)) is None
    assert trim_bars(flag).size == flag.size


def test_one_colour_all_over_and_tiny_pictures_are_left_alone() -> None:
    assert bar_box(Image.new("RGB", (300, 200), (0, 0, 0))) is None
    assert bar_box(Image.new("RGB", (5, 5), (0, 0, 0))) is None


def test_too_little_left_inside_means_nopad_to_aspect() -> None:
    """A thin strip between two wide dark areas is a picture, not bars around a picture."""
    strip = Image.new("RGB", (400, 400), (0, 0, 0))
    strip.paste(synthetic_photo(8, (400, 60)), (0, 170))
    assert bar_box(strip) is None


def test_trim_stretch_mode_makes_a_letterboxed_file_load_like_its_original(tmp_path: Path) -> None:
    photo = synthetic_photo(9, (480, 320))
    original = save(photo, tmp_path / "original.png")
    letterboxed = save(pad_to_aspect(photo, 1.0), tmp_path / "letterboxed.jpg", quality=85)
    plain = load_for_model(original, 64, "trim-stretch").pixels.astype(np.float32)
    trimmed = load_for_model(letterboxed, 64, "trim-stretch").pixels.astype(np.float32)
    stretched = load_for_model(letterboxed, 64, "stretch").pixels.astype(np.float32)
    assert np.abs(plain - trimmed).mean() < 5 < np.abs(plain - stretched).mean()
