"""Crops the benchmark's tiers do not name: does finding cropped copies carry over to any crop?

The crop tiers cut fixed boxes (the centre 40%, a corner 60%), and the regions a scan with
`--cropped-copies` embeds (`dupfinder.views.REGIONS`) are boxes of about those shapes, so those
tiers alone would flatter it. Here each original also gets crops of a random area (30–80%),
shape and place. A crop counts as found when its whole vector, or one of its original's region
vectors, reaches the threshold against it: the pair a scan would link (every crop has fewer pixels
than its original, as the engine's rule for regions asks).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dupfinder.imaging import open_oriented_rgb

AREA_BANDS: tuple[tuple[float, float], ...] = ((0.3, 0.45), (0.45, 0.6), (0.6, 0.8))
CROPS_PER_ORIGINAL = 4
MAX_ASPECT_CHANGE = 0.2  # log of the crop's aspect ratio against the original's, at most


def write_random_crops(originals: list[Path], work: Path, seed: int) -> list[tuple[int, float, Path]]:
    """Write (once) `CROPS_PER_ORIGINAL` random crops of each original; (original, area, path) each."""
    from trainer import augment

    rng = np.random.default_rng(seed)
    folder = work / f"random-crops-{seed}"  # the same seed always draws the same boxes
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, original in enumerate(originals):
        picture = None
        for copy in range(CROPS_PER_ORIGINAL):
            area = float(rng.uniform(AREA_BANDS[0][0], AREA_BANDS[-1][1]))
            aspect = math.exp(rng.uniform(-MAX_ASPECT_CHANGE, MAX_ASPECT_CHANGE))
            width = min(1.0, math.sqrt(area * aspect))
            height = min(1.0, area / width)
            left, top = float(rng.uniform(0, 1 - width)), float(rng.uniform(0, 1 - height))
            target = folder / f"{original.stem}-{copy}.jpg"
            if not target.exists():
                if picture is None:
                    picture, _, _ = open_oriented_rgb(original)
                cropped = augment.crop_fraction(picture, left, top, width, height)
                target.write_bytes(augment.encode(cropped, "JPEG", 90))
            written.append((index, area, target))
    return written


def found_share(
    original_vectors: np.ndarray,
    original_regions: list[np.ndarray | None],
    crops: list[tuple[int, float, Path]],
    crop_vectors: np.ndarray,
    threshold: float,
) -> dict[str, Any]:
    """Share of the crops found by whole vectors alone and with the originals' regions, by area."""
    owner = np.array([c[0] for c in crops])
    area = np.array([c[1] for c in crops])
    whole = np.einsum("ij,ij->i", crop_vectors, original_vectors[owner])
    region = np.array(
        [
            float((parts @ vector).max()) if parts is not None and len(parts) else -1.0
            for parts, vector in zip((original_regions[i] for i in owner), crop_vectors)
        ]
    )
    best = np.maximum(whole, region)

    def shares(mask: np.ndarray) -> dict[str, Any]:
        return {
            "crops": int(mask.sum()),
            "whole": round(float((whole[mask] >= threshold).mean()), 3) if mask.any() else None,
            "with_regions": round(float((best[mask] >= threshold).mean()), 3) if mask.any() else None,
        }

    by_area = {
        f"{round(100 * low)}–{round(100 * high)}%": shares((area >= low) & (area < high))
        for low, high in AREA_BANDS
    }
    return {"all": shares(np.ones(len(crops), bool)), "by_area": by_area}
