"""`dupfinder-train preview`: a grid of training triplets exactly as the model will see them.

It renders the first batch of the first epoch with the same options, split and seed as `fit`, so
what the grid shows is the first thing training sees: anchor, positive (an augmented view, or
another picture of the identity) and a negative from another row of the batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from trainer.data import Renderer

_HEADERS = ("anchor", "positive", "negative")


def triplets(views: np.ndarray, labels: np.ndarray, per_row: int) -> list[tuple[np.ndarray, ...]]:
    """(anchor, positive, negative) per row; without an explicit negative, another row's view."""
    rows = len(views) // per_row
    found: list[tuple[np.ndarray, ...]] = []
    for row in range(rows):
        anchor, positive = views[row * per_row], views[row * per_row + 1]
        if per_row == 3:
            negative = views[row * per_row + 2]
        else:
            others = [i for i in range(len(views)) if labels[i] != labels[row * per_row]]
            negative = views[others[(row * 7) % len(others)]] if others else np.zeros_like(anchor)
        found.append((anchor, positive, negative))
    return found


def grid(rows: list[tuple[np.ndarray, ...]], cell: int) -> Image.Image:
    """Columns anchor | positive | negative, one triplet per row, with a header line."""
    gap, header = 4, 18
    canvas = Image.new("RGB", (3 * cell + 4 * gap, header + len(rows) * (cell + gap) + gap), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for column, title in enumerate(_HEADERS):
        draw.text((gap + column * (cell + gap) + 4, 3), title, fill=(0, 0, 0))
    for row, views in enumerate(rows):
        for column, pixels in enumerate(views):
            tile = Image.fromarray(pixels, "RGB").resize((cell, cell), Image.Resampling.NEAREST)
            canvas.paste(tile, (gap + column * (cell + gap), header + row * (cell + gap)))
    return canvas


def preview(renderer: Renderer, out: Path, rows: int = 8) -> Path:
    """Write the grid of the first training batch (up to `rows` triplets) to `out` (PNG)."""
    views, labels, _ = renderer.render(0, 0)
    chosen = triplets(views, labels, renderer.data.views_per_row)[:rows]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid(chosen, max(renderer.image_size, 128)).save(out)
    return out
