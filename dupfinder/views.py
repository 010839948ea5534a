"""Second looks the engine takes at a picture besides the whole: quarter turns of a portrait
picture, and the parts of a picture a crop would keep.

A copy turned by a quarter in its pixels (not by an EXIF tag) swaps its sides, so a landscape photo
comes back portrait. The model is not reliably turn-invariant, so each portrait picture is also
embedded turned both ways and those vectors are matched only against landscape pictures: two
different designs of the same orientation, which a turn-invariant model would confuse, are never
compared turned.

A copy cropped to half its area or less is no longer like the whole picture to the model, but it
is like the same part of it. So a picture can also be embedded as a few regions (`REGIONS`: two
centred crops and the four corners), and a region is matched only against whole pictures with
fewer pixels than its owner (a crop keeps fewer pixels than its source). Regions of nearly one
flat colour (sky, a white page) look like every other flat picture, so they are left out.
(The picture pasted into a screenshot, the other second look, is `dupfinder.framed`.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The longer side must exceed the shorter by this factor to count as portrait or landscape:
# a nearly square picture turned is still nearly square, and its turn would find look-alikes.
ORIENTATION_RATIO = 1.05


@dataclass(frozen=True)
class Region:
    """A box given in fractions of the picture's sides: its left and top edge and its side."""

    left: float
    top: float
    side: float


def _corners(side: float) -> tuple[Region, ...]:
    far = 1.0 - side
    return tuple(Region(left, top, side) for top in (0.0, far) for left in (0.0, far))


# A tight crop keeps the subject (a centred box), a trim cuts two edges (a corner box). The centre
# boxes keep 36% and 56% of the area, the corners 64%. Only a crop framed much like one of them is
# alike to the model: on one validation draw, corner boxes of 49% found 32% of the 60% corner
# crops, boxes of 64% found 98% (a one-off measurement; `benchmarks.random_crops` measures crops
# of any frame).
REGIONS: tuple[Region, ...] = (Region(0.2, 0.2, 0.6), Region(0.125, 0.125, 0.75), *_corners(0.8))
# Regions whose values spread less than this in every channel (standard deviation, 0..255) are
# left out: nearly one flat colour (a white page with a corner of a drawing), they look like every
# other nearly flat picture. On two draws of the validation split, 5 let such regions add 15 false
# pairs each time (precision 0.9858 and 0.9871); 15 removed them for 1% of the cropped copies found.
MIN_REGION_SPREAD = 15.0


def is_portrait(width: int, height: int) -> bool:
    return height > ORIENTATION_RATIO * width


def is_landscape(width: int, height: int) -> bool:
    return width > ORIENTATION_RATIO * height


def turned_inputs(pixels: np.ndarray) -> list[np.ndarray]:
    """The model input turned a quarter each way (the square input turns with its picture)."""
    return [np.ascontiguousarray(np.rot90(pixels, 1)), np.ascontiguousarray(np.rot90(pixels, 3))]


def region_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The `REGIONS` of a picture of this size as pixel boxes (left, top, right, bottom)."""
    boxes = []
    for region in REGIONS:
        box_width, box_height = max(1, round(region.side * width)), max(1, round(region.side * height))
        left, top = round(region.left * width), round(region.top * height)
        boxes.append((left, top, left + box_width, top + box_height))
    return boxes


def is_flat(pixels: np.ndarray) -> bool:
    """Whether a model input spreads less than `MIN_REGION_SPREAD` in every channel. Every fourth
    pixel each way tells the spread as well, at a tenth of the time."""
    return float(pixels[::4, ::4].reshape(-1, 3).std(axis=0).max()) < MIN_REGION_SPREAD


def may_be_cropped_from(copy_pixels: int, source_pixels: int) -> bool:
    """Whether a picture of `copy_pixels` may be a crop of one of `source_pixels`: a crop keeps
    fewer pixels than its source (an enlarged crop is not looked for)."""
    return copy_pixels < source_pixels
