"""Second looks the engine takes at a picture besides the whole: quarter turns of a portrait picture.

A copy turned by a quarter in its pixels (not by an EXIF tag) swaps its sides, so a landscape photo
comes back portrait. The model is not reliably turn-invariant, so each portrait picture is also
embedded turned both ways and those vectors are matched only against landscape pictures: two
different designs of the same orientation, which a turn-invariant model would confuse, are never
compared turned. (The picture pasted into a screenshot, the other second look, is `dupfinder.framed`.)
"""

from __future__ import annotations

import numpy as np

# The longer side must exceed the shorter by this factor to count as portrait or landscape:
# a nearly square picture turned is still nearly square, and its turn would find look-alikes.
ORIENTATION_RATIO = 1.05


def is_portrait(width: int, height: int) -> bool:
    return height > ORIENTATION_RATIO * width


def is_landscape(width: int, height: int) -> bool:
    return width > ORIENTATION_RATIO * height


def turned_inputs(pixels: np.ndarray) -> list[np.ndarray]:
    """The model input turned a quarter each way (the square input turns with its picture)."""
    return [np.ascontiguousarray(np.rot90(pixels, 1)), np.ascontiguousarray(np.rot90(pixels, 3))]
