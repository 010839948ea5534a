"""Finding letterbox and pillarbox bars, so a copy with bars added is seen as the picture inside.

Bars are what a video frame grab, a phone's "fit to screen" export or a social site's square
format adds: two solid strips of one colour on opposite sides, about as wide as each other. Only
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
    return bool((np.abs(line - np.median(line, axis=0)).max()) <= TOLERANCE)


def _solid_run(lines: np.ndarray) -> int:
    """How many lines, from the first, are all within TOLERANCE of the first line's median colour."""
    reference = np.median(lines[0], axis=0)
    deviation = np.abs(lines - reference).max(axis=(1, 2))
    outside = np.flatnonzero(deviation > TOLERANCE)
    return int(outside[0]) if len(outside) else len(lines)


def bar_box(image: Image.Image) -> Box | None:
    """The box inside letterbox or pillarbox bars, or None when the picture has no such bars."""
    width, height = image.size
    if min(width, height) < 8:
        return None
    factor = max(1, min(width, height) // WORKING_SIDE)
    small = image.reduce(factor) if factor > 1 else image
    pixels = np.asarray(small.convert("RGB"), dtype=np.int16)
    rows, columns = pixels.shape[:2]
    # Only the four outer lines first: most pictures stop here, and the rule needs exactly two
    # opposite solid edges (a letterbox's side edges cross the picture, so they are not solid).
    top, bottom = _is_solid(pixels[0]), _is_solid(pixels[-1])
    left, right = _is_solid(pixels[:, 0]), _is_solid(pixels[:, -1])
    if top and bottom and not (left or right):
        first, last, side = _solid_run(pixels), _solid_run(pixels[::-1]), rows
    elif left and right and not (top or bottom):
        across = pixels.transpose(1, 0, 2)
        first, last, side = _solid_run(across), _solid_run(across[::-1]), columns
    else:
        return None
    if first >= side or abs(first - last) > ASYMMETRY * side + 2:
        return None  # one colour all over, or lopsided margins rather than bars
    if top:
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
