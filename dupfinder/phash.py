"""A 64-bit perceptual hash (pHash), the engine's cheap second opinion on a near match.

The embedding misses some colour edits (greyscale, strong brightness or contrast changes) that
leave a picture's coarse light and dark layout untouched, which is exactly what pHash keeps. The
engine therefore accepts a pair slightly below the model's threshold when the two pHashes agree
almost bit for bit (`dupfinder.grouping.HashConfirm`); it never uses pHash alone, which groups
unrelated drawings and flags at its usual distances.

The algorithm is the common one (as in the `imagehash` package): greyscale, 32×32 Lanczos
resize, 2-D DCT-II, the 8×8 lowest frequencies, each bit set when its coefficient is above their
median. The DCT is two small matrix products, so it needs nothing beyond numpy.
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


def perceptual_hash(image: Image.Image) -> int:
    """The picture's pHash as an unsigned 64-bit integer (first bit = lowest frequency)."""
    grey = image.convert("L").resize((_SAMPLE, _SAMPLE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    low = _DCT @ pixels @ _DCT.T
    bits = (low > np.median(low)).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def distance(first: int, second: int) -> int:
    """Hamming distance between two hashes: how many of the 64 bits differ."""
    return (first ^ second).bit_count()


def to_signed(value: int) -> int:
    """The hash as SQLite's signed 64-bit INTEGER stores it."""
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed(value: int) -> int:
    """Back from SQLite's signed storage to the unsigned hash."""
    return value + (1 << 64) if value < 0 else value
