"""Decoding: EXIF orientation, odd modes, the JPEG draft path, and hostile files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dupfinder.imaging import DecodeError, load_for_model, open_oriented_rgb, resize_for_model
from tests.imagegen import corrupt_file, save, synthetic_photo, truncated_jpeg, with_exif_orientation


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    picture = synthetic_photo(1, (300, 200))
    upright = save(picture, tmp_path / "upright.png")
    # Stored rotated 90° clockwise; EXIF 6 says "rotate 90° CW to display" → display upright.
    stored = picture.transpose(Image.Transpose.ROTATE_90)
    rotated = with_exif_orientation(stored, tmp_path / "rotated.jpg", 6)
    decoded = load_for_model(rotated, 64)
    assert (decoded.width, decoded.height) == (300, 200)
    reference = load_for_model(upright, 64).pixels.astype(int)
    assert np.abs(decoded.pixels.astype(int) - reference).mean() < 8


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "1", "LA", "RGBA"])
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    image = synthetic_photo(2, (96, 80)).convert(mode)
    path = save(image, tmp_path / ("x.tif" if mode == "CMYK" else "x.png"))
    decoded = load_for_model(path, 32)
    assert decoded.pixels.shape == (32, 32, 3) and decoded.pixels.dtype == np.uint8
    assert (decoded.width, decoded.height) == (96, 80)


def test_palette_transparency_is_flattened_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    image.paste(1, (20, 0, 40, 40))
    image.info["transparency"] = 0  # the red half is see-through
    path = save(image, tmp_path / "palette.png", transparency=0)
    pixels = load_for_model(path, 40).pixels
    assert tuple(pixels[20, 5]) == (255, 255, 255)
    assert tuple(pixels[20, 35]) == (0, 0, 255)


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (16, 1))
    path = save(Image.fromarray(ramp), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    row = load_for_model(path, 64).pixels[8, :, 0].astype(int)
    assert row[0] < 10 and row[-1] > 245 and 100 < row[32] < 160


def test_draft_decode_matches_full_decode(tmp_path: Path) -> None:
    path = save(synthetic_photo(3, (1600, 1200)), tmp_path / "big.jpg", quality=92)
    drafted = load_for_model(path, 128).pixels.astype(int)
    full, _, _ = open_oriented_rgb(path, draft_size=None)
    reference = np.asarray(resize_for_model(full, 128)).astype(int)
    assert np.abs(drafted - reference).mean() < 3.0


def test_pad_mode_keeps_aspect(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (200, 100), (0, 0, 0)), tmp_path / "wide.png")
    pixels = load_for_model(path, 50, "pad").pixels
    assert tuple(pixels[2, 25]) == (255, 255, 255) and tuple(pixels[25, 25]) == (0, 0, 0)


def test_corrupt_and_truncated_files_raise_decode_error(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="corrupt"):
        load_for_model(corrupt_file(tmp_path / "junk.jpg"), 32)
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(DecodeError, match="not a picture"):
        load_for_model(tmp_path / "text.png", 32)
    with pytest.raises(DecodeError):
        load_for_model(truncated_jpeg(synthetic_photo(4), tmp_path / "cut.jpg"), 32)
    with pytest.raises(DecodeError):
        load_for_model(tmp_path / "missing.jpg", 32)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(Image.new("L", (400, 400)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DecodeError, match="refused"):
        load_for_model(path, 32)
