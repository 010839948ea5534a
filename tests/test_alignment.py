"""Pair alignment: a crop, a tilt or a frame of a picture is found inside it; other pictures are not."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dupfinder import alignment
from dupfinder.alignment import PairAligner, allowed_turn, match_tones, shared_box
from tests.imagegen import corrupt_file, detailed_photo, save


def _grey_embedding(batch: np.ndarray) -> np.ndarray:
    """A stand-in model: the picture's mean-free 16×16 grey thumbnail. Aligned copies score near 1."""
    rows = []
    for pixels in batch:
        grey = np.asarray(
            Image.fromarray(pixels).convert("L").resize((16, 16), Image.Resampling.BOX), np.float32
        )
        vector = (grey - grey.mean()).ravel()
        rows.append(vector / max(1e-6, float(np.linalg.norm(vector))))
    return np.stack(rows)


def _aligner(**options: bool) -> PairAligner:
    return PairAligner(_grey_embedding, 64, "stretch", **options)


def _score(aligner: PairAligner, first: str, second: str) -> float | None:
    found = aligner.align(first, second)
    return None if found is None else found.score


@pytest.fixture
def original(tmp_path: Path) -> Path:
    return save(detailed_photo(11), tmp_path / "original.jpg", quality=92)


def _copy(tmp_path: Path, name: str, image: Image.Image) -> Path:
    return save(image, tmp_path / f"{name}.jpg", quality=85)


def _crop_fraction(image: Image.Image, left: float, top: float, width: float, height: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(left * w), round(top * h), round((left + width) * w), round((top + height) * h)))


def test_an_off_centre_crop_scores_as_a_copy_once_aligned(tmp_path: Path, original: Path) -> None:
    crop = _copy(tmp_path, "crop", _crop_fraction(Image.open(original), 0.0, 0.2, 0.7, 0.7))
    score = _score(_aligner(), str(original), str(crop))
    assert score is not None and score > 0.97
    assert _score(_aligner(), str(crop), str(original)) == pytest.approx(score, abs=0.02)
    found = _aligner().align(str(original), str(crop))
    assert found is not None and found.second_inside and not found.first_inside  # the crop is the part
    back = _aligner().align(str(crop), str(original))
    assert back is not None and back.first_inside and not back.second_inside


def test_a_copy_tilted_ten_degrees_and_cropped_clean_is_found(tmp_path: Path, original: Path) -> None:
    image = Image.open(original)
    turned = image.rotate(10, Image.Resampling.BICUBIC)
    tilted = _copy(tmp_path, "tilted", _crop_fraction(turned, 0.15, 0.15, 0.7, 0.7))
    score = _score(_aligner(), str(original), str(tilted))
    assert score is not None and score > 0.95


def test_a_picture_pasted_into_a_bigger_canvas_is_found(tmp_path: Path, original: Path) -> None:
    canvas = Image.new("RGB", (900, 700), (235, 235, 240))
    canvas.paste(Image.open(original).resize((400, 300)), (250, 200))
    framed = _copy(tmp_path, "framed", canvas)
    score = _score(_aligner(), str(original), str(framed))
    assert score is not None and score > 0.97


def test_another_picture_is_not_aligned(tmp_path: Path, original: Path) -> None:
    other = save(detailed_photo(12), tmp_path / "other.jpg", quality=92)
    assert _score(_aligner(), str(original), str(other)) is None


def test_neighbouring_views_that_only_share_a_strip_are_not_copies(tmp_path: Path) -> None:
    scene = detailed_photo(5, (900, 300))
    left = save(scene.crop((0, 0, 450, 300)), tmp_path / "left.jpg", quality=92)
    right = save(scene.crop((330, 0, 780, 300)), tmp_path / "right.jpg", quality=92)  # a quarter shared
    assert _score(_aligner(), str(left), str(right)) is None


def test_quarter_turns_only_when_asked_for(tmp_path: Path, original: Path) -> None:
    turned = _copy(tmp_path, "turned", Image.open(original).transpose(Image.Transpose.ROTATE_90))
    assert _score(_aligner(), str(original), str(turned)) is None
    score = _score(_aligner(quarter_turns=True), str(original), str(turned))
    assert score is not None and score > 0.97


def test_mirror_images_only_when_asked_for(tmp_path: Path, original: Path) -> None:
    mirrored = _copy(tmp_path, "mirrored", Image.open(original).transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    assert _score(_aligner(), str(original), str(mirrored)) is None
    score = _score(_aligner(mirrored=True), str(original), str(mirrored))
    assert score is not None and score > 0.97


def test_brightness_and_contrast_are_matched_before_embedding(tmp_path: Path, original: Path) -> None:
    image = Image.open(original)
    pixels = np.asarray(image, np.float32)
    edited = Image.fromarray(np.clip((pixels - 128) * 0.8 + 128 + 20, 0, 255).astype(np.uint8))
    crop = _copy(tmp_path, "edited", _crop_fraction(edited, 0.1, 0.1, 0.75, 0.75))
    score = _score(_aligner(), str(original), str(crop))
    assert score is not None and score > 0.97


def test_unreadable_files_are_not_aligned_and_do_not_raise(tmp_path: Path, original: Path) -> None:
    broken = corrupt_file(tmp_path / "broken.jpg")
    missing = tmp_path / "gone.jpg"
    aligner = _aligner()
    assert _score(aligner, str(original), str(broken)) is None
    assert _score(aligner, str(missing), str(original)) is None


def test_flat_pictures_without_keypoints_are_not_aligned(tmp_path: Path) -> None:
    white = save(Image.new("RGB", (300, 200), "white"), tmp_path / "white.png")
    grey = save(Image.new("RGB", (200, 300), (128, 128, 128)), tmp_path / "grey.png")
    assert _score(_aligner(), str(white), str(grey)) is None


@pytest.mark.parametrize(
    ("degrees", "quarter_turns", "allowed"),
    [
        (0.0, False, True),
        (-15.0, False, True),
        (25.0, False, False),
        (90.0, False, False),
        (88.0, True, True),
        (-178.0, True, True),
        (135.0, True, False),
        (10.0, True, True),
    ],
)
def test_allowed_turns(degrees: float, quarter_turns: bool, allowed: bool) -> None:
    assert allowed_turn(degrees, quarter_turns) is allowed


def test_shared_box_lies_inside_a_turned_rectangle() -> None:
    import cv2

    mask = np.zeros((300, 300), np.uint8)
    corners = cv2.boxPoints(((150, 150), (200, 120), 10.0)).astype(np.int32)
    cv2.fillConvexPoly(mask, corners, 1)
    box = shared_box(mask)
    assert box is not None
    left, top, right, bottom = box
    assert mask[top:bottom, left:right].mean() >= 0.995
    assert (right - left) * (bottom - top) > 0.6 * 200 * 120  # not shrunk to nothing
    assert shared_box(np.zeros((50, 50), np.uint8)) is None


def test_match_tones_undoes_one_gain_and_offset_and_lost_colour() -> None:
    rng = np.random.default_rng(0)
    reference = rng.integers(30, 220, (40, 40, 3)).astype(np.uint8)
    brighter = np.clip(reference.astype(np.float32) * 0.7 + 40, 0, 255).astype(np.uint8)
    toned = match_tones(reference, brighter)
    assert toned is not None and np.abs(toned[0].astype(int) - toned[1].astype(int)).mean() < 2.0
    grey = np.repeat(reference.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    toned = match_tones(reference, grey)
    assert toned is not None and alignment.pixels_look_grey(toned[0])
    assert np.abs(toned[0].astype(int) - toned[1].astype(int)).mean() < 2.0
    assert match_tones(reference, reference.copy()) is None  # nothing to undo: embedded once


def test_turn_of_reads_the_rotation() -> None:
    angle = math.radians(30)
    matrix = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0]])
    assert alignment.turn_of(matrix) == pytest.approx(30.0)
