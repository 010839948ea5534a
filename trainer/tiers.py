"""Named duplicate transforms with fixed parameters, as files: for evaluation and the benchmark.

Each tier turns an original picture into the bytes of a derived file (and its extension), the
way a real duplicate reaches a disk: edited, then saved. `evaluate` reports recall per tier; the
project's accuracy benchmark writes the same files and scans them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from trainer import augment


@dataclass(frozen=True)
class Tier:
    """A fixed transform and the format the result is saved in."""

    name: str
    transform: Callable[[Image.Image], Image.Image]
    fmt: str = "JPEG"
    quality: int = 90
    exif_orientation: int | None = None

    @property
    def extension(self) -> str:
        return {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[self.fmt]

    def apply(self, image: Image.Image) -> bytes:
        """The derived file's bytes."""
        return augment.encode(self.transform(image), self.fmt, self.quality, self.exif_orientation)


def _identity(image: Image.Image) -> Image.Image:
    return image


def _blur(image: Image.Image) -> Image.Image:
    return augment.blur(image, 0.008 * min(image.size))


def _watermark(image: Image.Image) -> Image.Image:
    return augment.overlay_text(image, "© dupfinder 2024", x=0.05, y=0.82, height=0.1, opacity=0.85)


def _letterbox(image: Image.Image) -> Image.Image:
    return augment.pad_to_aspect(image, image.width / image.height * 0.75)


def _pillarbox(image: Image.Image) -> Image.Image:
    return augment.pad_to_aspect(image, image.width / image.height * 1.33)


def _offcentre_crop_60(image: Image.Image) -> Image.Image:
    side = math.sqrt(0.6)
    return augment.crop_fraction(image, 0.0, 1 - side, side, side)


def _combo(image: Image.Image) -> Image.Image:
    cropped = augment.crop_fraction(image, 0.1, 0.05, 0.8, 0.85)
    edited = augment.adjust_contrast(augment.adjust_brightness(cropped, 1.2), 0.9)
    return augment.thumbnail(augment.overlay_text(edited, "@holiday_pics", height=0.07), 480)


_TIERS: tuple[Tier, ...] = (
    Tier("jpeg-q25", _identity, quality=25),
    Tier("half-size", lambda im: augment.rescale(im, 0.5)),
    Tier("thumbnail-320", lambda im: augment.thumbnail(im, 320), quality=85),
    Tier("png", _identity, fmt="PNG"),
    Tier("webp", _identity, fmt="WEBP", quality=80),
    Tier("centre-crop-80", lambda im: augment.centre_crop(im, 0.8)),
    Tier("offcentre-crop-60", _offcentre_crop_60),
    Tier("brightness-contrast", lambda im: augment.adjust_contrast(augment.adjust_brightness(im, 1.3), 0.8)),
    Tier("greyscale", augment.greyscale),
    Tier("blur", _blur),
    Tier("text-watermark", _watermark),
    Tier("letterbox", _letterbox),
    Tier("pillarbox", _pillarbox),
    Tier("rot90", lambda im: augment.rotate90(im, 1)),
    # Pixels stored turned a quarter counter-clockwise, EXIF orientation 6 says turn them back.
    Tier("exif-rotation", lambda im: augment.rotate90(im, 1), exif_orientation=6),
    Tier("crop-40", lambda im: augment.centre_crop(im, 0.4)),
    Tier("rotate-10", lambda im: augment.rotate(im, 10.0)),
    Tier("hflip", augment.hflip),
    Tier("combo", _combo, quality=60),
    Tier("screenshot", lambda im: augment.screenshot_canvas(im, 1.5, 0.3, 0.6), fmt="PNG"),
    Tier("aspect-stretch", lambda im: augment.stretch(im, 1.3, 1.0)),
)

TIERS: dict[str, Tier] = {tier.name: tier for tier in _TIERS}


def get_tier(name: str) -> Tier:
    if name not in TIERS:
        raise ValueError(f"Invalid value for `tier`: expected one of {tuple(TIERS)}, received: {name!r}")
    return TIERS[name]
