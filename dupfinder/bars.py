"""Finding letterbox and pillarbox bars, so a copy with bars added is seen as the picture inside.

Bars are what a video frame grab, a phone's "fit to screen" export or a social site's square
format adds: two solid strips of one colour on opposite sides, about as wide as each other and of
the same colour as each other (a tricolour flag's outer bands are not bars). Only
that shape is cut. A picture with a margin on all four sides (clip-art on white, a framed print)
or on one side only is left whole, so a picture's own background is not mistaken for bars and
two different designs on plain backgrounds do not become alike once cut. Cutting repeats a few
times: bars added to a picture that already had bars come off layer by layer.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Largest difference (0..255, any channel) from the bar's colour that still counts as bar:
# JPEG ringing and noise in a re-saved black bar stay well under it.
TOLERANCE = 24
# Bars on two sides may differ by this fraction of the side (rounding, off-by-one encoders).
ASYMMETRY = 0.1
# What is left must keep at least this fraction of each side, or nothing is cut.
MIN_KEPT = 0.25
# Detection runs on a copy reduced to about this shorter side (fast on a 50-megapixel photo).
WORKING_SIDE = 256
MAX_PASSES = 3

Box = tuple[int, int, int, int]


def _is_solid(line: np.ndarray) -> bool:
    """Whether one row or column of pixels is a single colour, within TOLERANCE."""
    values = line.astype(np.int16)
    return bool(np.abs(values - np.median(values, axis=0)).max() <= TOLERANCE)


def _solid_run(lines: np.ndarray) -> int:
    """How many lines, from the first, are all within TOLERANCE of the first line's median colour."""
    reference = np.median(lines[0], axis=0)
    deviation = np.abs(lines - reference).max(axis=(1, 2))
    outside = np.flatnonzero(deviation > TOLERANCE)
    return int(outside[0]) if len(outside) else len(lines)


def _barred_axis(pixels: np.ndarray) -> str | None:
    """'rows' when exactly the top and bottom edges are solid, 'columns' when exactly the left and
    right ones are, else None. A letterbox's side edges cross the picture, so they are not solid.
    Most pictures are settled by their first two edges, so the others are looked at only if needed."""
    if _is_solid(pixels[0]):
        if _is_solid(pixels[-1]) and not _is_solid(pixels[:, 0]) and not _is_solid(pixels[:, -1]):
            return "rows"
        return None
    if _is_solid(pixels[:, 0]) and _is_solid(pixels[:, -1]) and not _is_solid(pixels[-1]):
        return "columns"
    return None


def reduced_rgb(image: Image.Image, side: int) -> tuple[np.ndarray, int]:
    """RGB pixels of a copy reduced by a whole factor to about `side` on its shorter side (fast
    on a 50-megapixel photo), and that factor."""
    factor = max(1, min(image.size) // side)
    small = image.reduce(factor) if factor > 1 else image
    return np.asarray(small if small.mode == "RGB" else small.convert("RGB")), factor


def bar_box(image: Image.Image) -> Box | None:
    """The box inside letterbox or pillarbox bars, or None when the picture has no such bars."""
    width, height = image.size
    if min(width, height) < 8:
        return None
    pixels, factor = reduced_rgb(image, WORKING_SIDE)
    axis = _barred_axis(pixels)
    if axis is None:
        return None
    lines = pixels.astype(np.int16) if axis == "rows" else pixels.transpose(1, 0, 2).astype(np.int16)
    first, last, side = _solid_run(lines), _solid_run(lines[::-1]), len(lines)
    if first >= side or abs(first - last) > ASYMMETRY * side + 2:
        return None  # one colour all over, or lopsided margins rather than bars
    if np.abs(np.median(lines[0], axis=0) - np.median(lines[-1], axis=0)).max() > TOLERANCE:
        return None  # two bands of different colours (a flag, a striped design) are the picture
    if axis == "rows":
        box = (0, first * factor, width, height - last * factor)
    else:
        box = (first * factor, 0, width - last * factor, height)
    if box[2] - box[0] < MIN_KEPT * width or box[3] - box[1] < MIN_KEPT * height:
        return None
    return box


def trim_bars(image: Image.Image) -> Image.Image:
    """The picture without its letterbox or pillarbox bars (itself when it has none)."""
    for _ in range(MAX_PASSES):
        box = bar_box(image)
        if box is None:
            break
        image = image.crop(box)
    return image
