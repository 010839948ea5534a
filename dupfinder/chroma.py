"""Where a picture's colours lie, so a pHash match is not taken for a copy across colour schemes.

pHash sees only light and dark, so a yellow button and the same button in green hash alike. The
model sees the difference, but may still score such a pair just under its threshold, where the pHash
rule (`dupfinder.grouping.HashConfirm`) would accept it. The colour signature vetoes that: the mean
colour of each quarter of the picture as two opponent channels (red-green and blue-yellow), packed
into one signed 64-bit integer that the cache keeps beside the pHash.

A picture without colour (a greyscale copy) agrees with any other: nothing is left to compare, and a
greyscale copy is exactly what the pHash rule is there to find. Brightness and contrast edits scale
the channels, so the tolerance grows with how colourful the pictures are.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

GRID = 2  # quarters: coarse enough to ignore crops and blur, fine enough to see a recoloured part
# Below this (0..255 units of a channel) in every quarter, a picture counts as colourless.
COLOURLESS = 10.0
# Two quarters agree when their channels differ by at most this, or by RELATIVE of the larger
# channel when that is more (a contrast edit scales every channel).
TOLERANCE = 20.0
RELATIVE = 0.4
_STEP = 2.0  # a channel spans -255..255; halved, it fits a signed byte


def chroma_signature(image: Image.Image) -> int:
    """The picture's colour layout as a signed 64-bit integer (see the module docstring)."""
    quarters = np.asarray(image.convert("RGB").resize((GRID, GRID), Image.Resampling.BOX), np.float32)
    red, green, blue = quarters.reshape(-1, 3).T
    channels = np.stack([red - green, blue - (red + green) / 2], axis=1) / _STEP
    packed = np.clip(np.round(channels), -127, 127).astype(np.int8).tobytes()
    return int.from_bytes(packed, "big", signed=True)


# Where each quarter (top-left, top-right, bottom-left, bottom-right) of a picture's mirror image or
# turned view comes from, by view name (`dupfinder.phash.VIEWS`).
_VIEW_QUARTERS = {
    "mirrored": (1, 0, 3, 2),
    "turned left": (1, 3, 0, 2),
    "turned over": (3, 2, 1, 0),
    "turned right": (2, 0, 3, 1),
}


def signature_view(signature: int, view: str) -> int:
    """The colour signature of the picture's mirror image or of it turned (a `VIEWS` name)."""
    quarters = _channels(signature).reshape(GRID * GRID, 2)[list(_VIEW_QUARTERS[view])] / _STEP
    packed = quarters.astype(np.int8).tobytes()
    return int.from_bytes(packed, "big", signed=True)


def _channels(signature: int) -> np.ndarray:
    packed = signature.to_bytes(GRID * GRID * 2, "big", signed=True)
    return np.frombuffer(packed, dtype=np.int8).astype(np.float32) * _STEP


def is_colourless(signature: int) -> bool:
    """Whether a picture has no colour to speak of (greyscale, or nearly so) in any quarter."""
    return float(np.abs(_channels(signature)).max()) <= COLOURLESS


def colours_agree(first: int, second: int) -> bool:
    """Whether two signatures could belong to one picture: either has no colour, or every quarter's
    colour is close."""
    if is_colourless(first) or is_colourless(second):
        return True
    a, b = _channels(first), _channels(second)
    largest = max(float(np.abs(a).max()), float(np.abs(b).max()))
    return float(np.abs(a - b).max()) <= max(TOLERANCE, RELATIVE * largest)
