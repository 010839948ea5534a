"""Finding a picture pasted into a screenshot, so the engine can also see the picture alone.

A screenshot of a photo viewer, a web page or a chat shows the photo as a rectangle on a flat
canvas: a background of one colour, with title bars, toolbars and lines of text around it. A
whole-picture embedding of the screenshot is mostly canvas, so it cannot match the photo. The
engine therefore embeds a second view, the rectangle inside, whenever this module finds one.

Only that shape is taken: the canvas colour owns most of the border; on every side, lines that
are canvas, uniform bars or sparse text are peeled until a run of lines that belong to a
picture (textured, or mostly unlike the canvas); and the rectangle found must be a hard edge
(each side mostly unlike the canvas) around content that is not flat. Clip-art on a white page
fails the edge test (its drawing touches its bounding box at a few points), a photo fails the
border test, and bars around a picture are left to `dupfinder.bars`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from dupfinder.bars import reduced_rgb

Box = tuple[int, int, int, int]

# Detection runs on a copy reduced to about this shorter side (a 4K screenshot costs little).
WORKING_SIDE = 192
# Colour difference (0..255, any channel) that makes a pixel unlike the canvas: a white picture
# on a light-grey page (255 against 245) still counts, JPEG noise in a flat canvas does not.
UNLIKE_TOLERANCE = 8
# Difference between neighbouring pixels that counts as a change (texture, an edge).
CHANGE_TOLERANCE = 24
# The canvas colour must own at least this share of the border pixels.
CANVAS_BORDER_SHARE = 0.5
# A line belongs to the picture when more than this share of it changes (texture) ...
PICTURE_CHANGES = 0.1
# ... or more than this share of it is unlike the canvas.
PICTURE_COVERAGE = 0.4
# The picture starts at a run of picture lines this long (a share of the side): a toolbar's
# few busy lines do not stop the peeling.
PICTURE_RUN = 0.05
# Every side must have a canvas margin of at least this share of the side.
MIN_MARGIN = 0.02
# Each side of the rectangle must be unlike the canvas over at least this share of its length.
EDGE_UNLIKE = 0.75
# The content must vary (standard deviation of some channel, 0..255): a flat block is not a
# picture worth a second look, while a smooth sky or gradient is.
MIN_SPREAD_INSIDE = 8.0
# The picture must cover this share of the screenshot's area, or it is too small to trust (or,
# above the maximum, not much different from the whole).
MIN_AREA, MAX_AREA = 0.12, 0.85


def framed_picture_box(image: Image.Image) -> Box | None:
    """The box of a picture pasted into a screenshot-like canvas, or None when there is none."""
    width, height = image.size
    if min(width, height) < 32:
        return None
    reduced, factor = reduced_rgb(image, WORKING_SIDE)
    pixels = reduced.astype(np.int16)
    canvas = _canvas_colour(pixels)
    if canvas is None:
        return None
    found = _picture_lines(pixels, canvas)
    if found is None:
        return None
    top, bottom, left, right, unlike = found
    h, w = unlike.shape
    if min(top, h - bottom) < MIN_MARGIN * h or min(left, w - right) < MIN_MARGIN * w:
        return None
    inside = unlike[top:bottom, left:right]
    edges = (inside[:2].mean(), inside[-2:].mean(), inside[:, :2].mean(), inside[:, -2:].mean())
    if min(edges) < EDGE_UNLIKE:
        return None
    if pixels[top:bottom, left:right].reshape(-1, 3).std(axis=0).max() < MIN_SPREAD_INSIDE:
        return None
    box = (left * factor, top * factor, min(width, right * factor), min(height, bottom * factor))
    area = (box[2] - box[0]) * (box[3] - box[1]) / (width * height)
    if not MIN_AREA <= area <= MAX_AREA:
        return None
    return box


def _canvas_colour(pixels: np.ndarray) -> np.ndarray | None:
    """The colour most of the border shares (to 1/16 of the range), or None if none dominates."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    coarse = border // 16
    keys = coarse[:, 0] * 256 + coarse[:, 1] * 16 + coarse[:, 2]
    values, counts = np.unique(keys, return_counts=True)
    if counts.max() < CANVAS_BORDER_SHARE * len(keys):
        return None
    return np.median(border[keys == values[counts.argmax()]], axis=0)


def _picture_lines(pixels: np.ndarray, canvas: np.ndarray) -> tuple[int, int, int, int, np.ndarray] | None:
    """Top, bottom, left, right (exclusive ends) of the picture lines, and the unlike-canvas map."""
    h, w = pixels.shape[:2]
    planes = np.ascontiguousarray(pixels.transpose(2, 0, 1))  # channels first: fast reductions
    unlike = _channel_max(np.abs(planes - canvas.astype(np.int16)[:, None, None])) > UNLIKE_TOLERANCE
    changes_x = _channel_max(np.abs(np.diff(planes, axis=2))) > CHANGE_TOLERANCE
    changes_y = _channel_max(np.abs(np.diff(planes, axis=1))) > CHANGE_TOLERANCE
    unlike_rows, unlike_cols = np.count_nonzero(unlike, axis=1) / w, np.count_nonzero(unlike, axis=0) / h
    # A uniform line in another colour than the canvas is a bar (a title bar, a toolbar).
    row_spread = _channel_max(planes.max(axis=2) - planes.min(axis=2))
    col_spread = _channel_max(planes.max(axis=1) - planes.min(axis=1))
    bar_rows = (row_spread <= 2 * CHANGE_TOLERANCE) & (unlike_rows > 0.95)
    bar_cols = (col_spread <= 2 * CHANGE_TOLERANCE) & (unlike_cols > 0.95)
    textured_rows = np.count_nonzero(changes_x, axis=1) > PICTURE_CHANGES * (w - 1)
    textured_cols = np.count_nonzero(changes_y, axis=0) > PICTURE_CHANGES * (h - 1)
    rows = (textured_rows | (unlike_rows > PICTURE_COVERAGE)) & ~bar_rows
    cols = (textured_cols | (unlike_cols > PICTURE_COVERAGE)) & ~bar_cols
    row_run, col_run = max(2, round(PICTURE_RUN * h)), max(2, round(PICTURE_RUN * w))
    top, from_bottom = _run_start(rows, row_run), _run_start(rows[::-1], row_run)
    left, from_right = _run_start(cols, col_run), _run_start(cols[::-1], col_run)
    if top is None or from_bottom is None or left is None or from_right is None:
        return None
    bottom, right = h - from_bottom, w - from_right
    if bottom - top < 4 or right - left < 4:
        return None
    return top, bottom, left, right, unlike


def _channel_max(planes: np.ndarray) -> np.ndarray:
    """The largest of the three channel planes (first axis), element by element."""
    return np.maximum(np.maximum(planes[0], planes[1]), planes[2])


def _run_start(flags: np.ndarray, run: int) -> int | None:
    """Index of the first of `run` consecutive true flags, or None."""
    if len(flags) < run:
        return None
    windows = np.convolve(flags.astype(np.int32), np.ones(run, np.int32), mode="valid")
    hits = np.flatnonzero(windows == run)
    return int(hits[0]) if len(hits) else None
