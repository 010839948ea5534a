"""The colour signature tells colour schemes apart and lets greyscale and brightness edits through."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from dupfinder.chroma import chroma_signature, colours_agree, is_colourless, signature_view
from dupfinder.phash import distance, perceptual_hash
from tests.imagegen import synthetic_photo


def _button(fill: tuple[int, int, int]) -> Image.Image:
    """One design (an arrow on white) in a given colour, as clip-art sets ship it."""
    image = Image.new("RGB", (256, 128), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.polygon([(10, 40), (170, 40), (170, 10), (246, 64), (170, 118), (170, 88), (10, 88)], fill=fill)
    return image


def test_one_design_in_two_colour_schemes_hashes_alike_but_disagrees_in_colour() -> None:
    yellow, green = _button((220, 200, 20)), _button((40, 170, 40))
    assert distance(perceptual_hash(yellow), perceptual_hash(green)) <= 4  # why pHash needs help
    assert not colours_agree(chroma_signature(yellow), chroma_signature(green))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greyscale_and_brightness_copies_agree_with_their_original(seed: int) -> None:
    photo = synthetic_photo(seed, (320, 240))
    original = chroma_signature(photo)
    grey = ImageOps.grayscale(photo).convert("RGB")
    brighter = ImageEnhance.Contrast(ImageEnhance.Brightness(photo).enhance(1.3)).enhance(0.8)
    assert colours_agree(original, chroma_signature(grey))
    assert colours_agree(original, chroma_signature(brighter))
    assert colours_agree(original, chroma_signature(photo.resize((160, 120))))


def test_a_button_brightened_still_agrees_and_the_signature_is_a_signed_64_bit_integer() -> None:
    yellow = _button((220, 200, 20))
    assert colours_agree(
        chroma_signature(yellow), chroma_signature(ImageEnhance.Brightness(yellow).enhance(1.2))
    )
    for image in (yellow, Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))):
        signature = chroma_signature(image)
        assert -(1 << 63) <= signature < 1 << 63
    assert chroma_signature(Image.new("RGB", (8, 8), (90, 90, 90))) == 0
    assert colours_agree(0, chroma_signature(yellow))  # colourless agrees with anything


def test_red_and_blue_pictures_disagree_in_every_quarter() -> None:
    red = Image.fromarray(np.full((16, 16, 3), (200, 30, 30), np.uint8))
    blue = Image.fromarray(np.full((16, 16, 3), (30, 30, 200), np.uint8))
    assert not colours_agree(chroma_signature(red), chroma_signature(blue))


def test_the_signature_of_a_view_is_that_of_the_picture_mirrored_or_turned() -> None:
    """Red on the left, blue on the right: the mirror image disagrees with it as it is, and agrees
    once its signature is mirrored, as the pHash rule compares a mirrored copy."""
    quarters = Image.fromarray(
        np.array([[[220, 30, 30], [30, 30, 220]], [[30, 200, 30], [220, 200, 20]]], np.uint8)
    )
    picture = quarters.resize((64, 48), Image.Resampling.NEAREST)
    signature = chroma_signature(picture)
    transposes = {
        "mirrored": Image.Transpose.FLIP_LEFT_RIGHT,
        "turned left": Image.Transpose.ROTATE_90,
        "turned over": Image.Transpose.ROTATE_180,
        "turned right": Image.Transpose.ROTATE_270,
    }
    for name, transpose in transposes.items():
        turned = chroma_signature(picture.transpose(transpose))
        assert signature_view(signature, name) == turned, name
        assert not colours_agree(signature, turned) and colours_agree(signature_view(signature, name), turned)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_greyscale_copy_is_colourless_and_its_colour_original_is_not(seed: int) -> None:
    photo = synthetic_photo(seed, (320, 240))
    assert not is_colourless(chroma_signature(photo))
    assert is_colourless(chroma_signature(ImageOps.grayscale(photo)))
    assert not is_colourless(chroma_signature(_button((220, 200, 20))))  # colour on white
