"""A 64-bit perceptual hash (pHash), the engine's cheap second opinion on a near match.

The embedding misses some colour edits (greyscale, strong brightness or contrast changes) that
leave a picture's coarse light and dark layout untouched, which is exactly what pHash keeps. The
engine therefore accepts a pair slightly below the model's threshold when the two pHashes agree
almost bit for bit (`dupfinder.grouping.HashConfirm`); it never uses pHash alone, which groups
unrelated drawings and flags at its usual distances.

The algorithm is the common one (as in the `imagehash` package): greyscale, 32×32 Lanczos
resize, 2-D DCT-II, the 8×8 lowest frequencies, each bit set when its coefficient is above their
median. The DCT is two small matrix products, so it needs nothing beyond numpy.

The same coefficients give the pHash of the picture's mirror image and of its turns
(`hash_views`) without another resize: mirroring the 32 samples of a row negates its odd
frequencies, and a quarter turn transposes the coefficients and negates the odd ones along one
side. A mirrored or turned copy then keeps the layout bits that its plain pHash loses.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

HASH_SIZE = 8
_SAMPLE = 32


def _dct_matrix(size: int) -> np.ndarray:
    """Rows are the (unnormalised) DCT-II basis; a constant factor does not move a median."""
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    return np.cos(np.pi * (2 * n + 1) * k / (2 * size))


_DCT = _dct_matrix(_SAMPLE)[:HASH_SIZE]  # only the low frequencies are ever used


# (-1) ** frequency along the columns (horizontal frequencies) and along the rows.
_ODD_COLUMNS = np.tile((-1.0) ** np.arange(HASH_SIZE), (HASH_SIZE, 1))
_ODD_ROWS = _ODD_COLUMNS.T
# The views `hash_views` returns, in order.
VIEWS = ("mirrored", "turned left", "turned over", "turned right")


def _low_frequencies(image: Image.Image) -> np.ndarray:
    """The 8×8 lowest DCT coefficients of the picture's 32×32 greyscale (rows: vertical)."""
    grey = image.convert("L").resize((_SAMPLE, _SAMPLE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    return _DCT @ pixels @ _DCT.T


def _pack(low: np.ndarray) -> int:
    bits = (low > np.median(low)).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def perceptual_hash(image: Image.Image) -> int:
    """The picture's pHash as an unsigned 64-bit integer (first bit = lowest frequency)."""
    return _pack(_low_frequencies(image))


def hash_views(image: Image.Image) -> tuple[int, tuple[int, ...]]:
    """The picture's pHash and the pHashes of its mirror image and of it turned a quarter left,
    upside down and a quarter right (`VIEWS`), from one DCT."""
    low = _low_frequencies(image)
    turned = low.T
    views = (low * _ODD_COLUMNS, turned * _ODD_ROWS, low * _ODD_COLUMNS * _ODD_ROWS, turned * _ODD_COLUMNS)
    return _pack(low), tuple(_pack(view) for view in views)


def compared_views(mirrored_copies: bool, turned_copies: bool) -> tuple[str, ...]:
    """The `VIEWS` a scan compares: the mirror image when mirrored copies are asked for, the turns
    when turned copies are. Neither is on by default: mirror-image designs (a left and a right
    arrow) and the turns of a set of arrows agree as well as a copy does."""
    return (("mirrored",) if mirrored_copies else ()) + (VIEWS[1:] if turned_copies else ())


def distance(first: int, second: int) -> int:
    """Hamming distance between two hashes: how many of the 64 bits differ."""
    return (first ^ second).bit_count()


def to_signed(value: int) -> int:
    """The hash as SQLite's signed 64-bit INTEGER stores it."""
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed(value: int) -> int:
    """Back from SQLite's signed storage to the unsigned hash."""
    return value + (1 << 64) if value < 0 else value
