"""Is one picture a crop, a tilt or a frame of the other? A second opinion on pairs the model scores
just below its threshold.

One embedding per file has to score a 60% crop, a copy turned 10° or a photo pasted into a
screenshot above the threshold, while scoring two versions of one design (a wall texture with
another sign on it, the next frame of an animation) below it; near the threshold it cannot do both.
Geometry can: ORB keypoints of the two pictures are matched and a similarity transform (shift,
scale, small rotation) is fitted with RANSAC. When one picture lies (nearly) wholly inside the
other, the part they share is cut from both, aligned, brought to one brightness and contrast, and
embedded again by the same model. A crop, a tilt or a frame then scores as the copy it is, while
two versions of one design keep the score of their differences,
because aligning pictures that were already aligned changes nothing.

Quarter turns are allowed only when the scan compares turned copies, mirror images only when it
compares mirrored copies: the arrows of one icon set are turns and mirror images of each other.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np
from PIL import Image

from dupfinder.grouping import AlignedPair
from dupfinder.imaging import RESIZE_MODES, DecodeError, ResizeMode, open_oriented_rgb, resize_for_model

ALIGNMENT_VERSION = 2  # the cache forgets alignments made by another version of this module
SIDE = 320  # pictures are compared at most this big: keypoints need detail, not megapixels
KEYPOINTS = 600
RATIO = 0.8  # Lowe's ratio test: a match must be clearly better than the second best
MIN_INLIERS = 12  # keypoint pairs that must agree on one transform
REPROJECTION = 4.0  # pixels (at SIDE) a keypoint may miss the fitted transform by
CONTAINED = 0.8  # share of one picture that must lie inside the other
MAX_TILT = 20.0  # degrees a copy may be turned by, or off a quarter turn when turns are compared
MIN_BOX = 24  # pixels (at SIDE) the shared part must span each way
SAME_GAIN, SAME_OFFSET = 0.03, 3.0  # a tone fit this close to none is not applied
TONE_STRIDE = 2
FLAT = 4.0  # mean distance of pixels from their grey (0..255) below which a picture is colourless
CACHE = 512  # pictures whose keypoints are kept: the pairs of one neighbourhood come together

Embed = Callable[[np.ndarray], np.ndarray]
cv2.setNumThreads(1)  # the scan's pool already keeps the cores busy


@dataclass(frozen=True)
class Keypoints:
    """A picture at most SIDE pixels across, with its ORB keypoints."""

    pixels: np.ndarray  # (h, w, 3) uint8 RGB
    points: np.ndarray  # (n, 2) float32, x and y
    descriptors: np.ndarray | None  # (n, 32) uint8, None when no keypoint was found


def keypoints(pixels: np.ndarray) -> Keypoints:
    """ORB keypoints of an RGB picture."""
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    found, descriptors = cv2.ORB.create(nfeatures=KEYPOINTS, fastThreshold=10).detectAndCompute(grey, None)
    points = np.array([k.pt for k in found], np.float32).reshape(-1, 2)
    return Keypoints(pixels, points, None if descriptors is None else np.asarray(descriptors))


def fit_transform(first: Keypoints, second: Keypoints) -> np.ndarray | None:
    """The 2×3 similarity transform taking `second`'s pixels onto `first`'s, when at least
    MIN_INLIERS matched keypoints agree on one; else None. The picture with fewer keypoints (a
    crop's are mostly in its source too, not the other way round) is the one matched."""
    if first.descriptors is None or second.descriptors is None:
        return None
    if len(first.points) < MIN_INLIERS or len(second.points) < MIN_INLIERS:
        return None
    if len(second.points) > len(first.points):
        matrix = _fit(second, first)
        return None if matrix is None else cv2.invertAffineTransform(matrix)
    return _fit(first, second)


def _fit(target: Keypoints, query: Keypoints) -> np.ndarray | None:
    """The transform taking `query`'s pixels onto `target`'s, from `query`'s keypoints matched."""
    if query.descriptors is None or target.descriptors is None:
        return None
    candidates = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, target.descriptors, k=2)
    good = [pair[0] for pair in candidates if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    source = query.points[[m.queryIdx for m in good]]
    destination = target.points[[m.trainIdx for m in good]]
    matrix, inliers = cv2.estimateAffinePartial2D(
        source, destination, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION, maxIters=2000
    )
    if matrix is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return np.asarray(matrix, np.float64)


def turn_of(matrix: np.ndarray) -> float:
    """The rotation of a similarity transform, in degrees (-180, 180]."""
    return math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))


def allowed_turn(degrees: float, quarter_turns: bool) -> bool:
    """A tilt of up to MAX_TILT; with `quarter_turns`, also that much off a quarter or half turn."""
    off = abs((degrees + 45.0) % 90.0 - 45.0) if quarter_turns else abs(degrees)
    return off <= MAX_TILT


def shared_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """An axis-aligned box (left, top, right, bottom) nearly all inside `mask`, shrunk from the
    mask's bounding box towards its centre; None when what is left is too small to compare."""
    rows, columns = np.nonzero(mask)
    if len(columns) == 0:
        return None
    left, right, top, bottom = (
        int(columns.min()),
        int(columns.max()) + 1,
        int(rows.min()),
        int(rows.max()) + 1,
    )
    while right - left >= MIN_BOX and bottom - top >= MIN_BOX:
        if mask[top:bottom, left:right].mean() >= 0.995:
            return left, top, right, bottom
        step_x, step_y = max(1, (right - left) // 50), max(1, (bottom - top) // 50)
        left, right, top, bottom = left + step_x, right - step_x, top + step_y, bottom - step_y
    return None


def pixels_look_grey(pixels: np.ndarray) -> bool:
    """Whether an (H, W, 3) part's channels barely differ (`chroma.is_colourless` judges a
    picture's stored signature; this judges the pixels of an aligned part)."""
    return float(np.abs(pixels - pixels.mean(axis=2, keepdims=True)).mean()) < FLAT


def match_tones(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both parts with `other` brought to `reference`'s brightness and contrast (one gain and
    offset for all channels, as those edits apply), in grey when either has no colour; None when
    that changes next to nothing (most crops and frames), so the parts are embedded once. Tones are
    judged on every `TONE_STRIDE`th pixel each way: a quarter of the work for the same fit."""
    first, second = reference.astype(np.float32), other.astype(np.float32)
    sampled = (first[::TONE_STRIDE, ::TONE_STRIDE], second[::TONE_STRIDE, ::TONE_STRIDE])
    changed = pixels_look_grey(sampled[0]) or pixels_look_grey(sampled[1])
    if changed:
        first = np.repeat(first.mean(axis=2, keepdims=True), 3, axis=2)
        second = np.repeat(second.mean(axis=2, keepdims=True), 3, axis=2)
    light_first, light_second = (part.mean(axis=2).ravel() for part in sampled)
    unclipped = (light_second > 3) & (light_second < 252)  # clipped pixels say nothing of the gain
    if unclipped.sum() > 100 and np.ptp(light_second[unclipped]) > 1:
        gain, offset = np.polyfit(light_second[unclipped], light_first[unclipped], 1)
        if 0.4 < gain < 2.5 and (abs(gain - 1) > SAME_GAIN or abs(offset) > SAME_OFFSET):
            second = second * gain + offset
            changed = True
    if not changed:
        return None
    return (
        np.clip(first, 0, 255).astype(np.uint8),
        np.clip(second, 0, 255).astype(np.uint8),
    )


class PairAligner:
    """Scores pairs of files by their aligned shared part; keeps recent pictures' keypoints. Safe to
    call from several threads (OpenCV and onnxruntime let go of the GIL)."""

    def __init__(
        self,
        embed: Embed,
        size: int,
        resize: str = "stretch",
        quarter_turns: bool = False,
        mirrored: bool = False,
    ) -> None:
        if resize not in RESIZE_MODES:
            raise ValueError(
                f"Invalid value for `resize`: expected one of {RESIZE_MODES}, received: {resize!r}"
            )
        self._embed = embed
        self._size = size
        self._resize = cast(ResizeMode, resize)
        self.quarter_turns = quarter_turns
        self.mirrored = mirrored
        self._pictures: OrderedDict[tuple[str, bool], Keypoints | None] = OrderedDict()
        self._lock = threading.Lock()

    def _keypoints(self, path: str, mirror: bool = False) -> Keypoints | None:
        key = (path, mirror)
        with self._lock:
            if key in self._pictures:
                self._pictures.move_to_end(key)
                return self._pictures[key]
        try:
            image, _, _ = open_oriented_rgb(Path(path), draft_size=SIDE)
            image.thumbnail((SIDE, SIDE), Image.Resampling.BILINEAR)
            pixels = np.ascontiguousarray(np.asarray(image, np.uint8))
            found: Keypoints | None = keypoints(pixels[:, ::-1].copy() if mirror else pixels)
        except (DecodeError, OSError, ValueError, cv2.error):
            found = None  # the scan already reported a file it could not read
        with self._lock:  # two threads may have read one picture: either answer is the same
            self._pictures[key] = found
            if len(self._pictures) > CACHE:
                self._pictures.popitem(last=False)
        return found

    def align(self, first: str, second: str) -> AlignedPair | None:
        """The model's similarity of the two files' aligned shared part and which lies inside the
        other, or None when neither does at an allowed turn (or a file cannot be read: the scan
        reports it)."""
        one = self._keypoints(first)
        other = self._keypoints(second)
        if one is None or other is None:
            return None
        try:
            found = self._aligned(one, other)
            if found is None and self.mirrored:
                mirror = self._keypoints(second, mirror=True)
                found = None if mirror is None else self._aligned(one, mirror)
        except (cv2.error, ValueError, np.linalg.LinAlgError, MemoryError):
            return None  # a degenerate fit (all keypoints on a line, say) is no alignment
        return found

    def _aligned(self, first: Keypoints, second: Keypoints) -> AlignedPair | None:
        matrix = fit_transform(first, second)
        if matrix is None or not allowed_turn(turn_of(matrix), self.quarter_turns):
            return None
        scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
        if scale <= 0:
            return None
        swapped = scale > 1.0
        if swapped:  # warp the picture that shows the shared part bigger, never enlarge
            first, second = second, first
            matrix = cv2.invertAffineTransform(matrix)
            scale = 1.0 / scale
        height, width = first.pixels.shape[:2]
        other_height, other_width = second.pixels.shape[:2]
        ones = np.ones((other_height, other_width), np.uint8)
        mask = cv2.warpAffine(ones, matrix, (width, height), flags=cv2.INTER_NEAREST)
        overlap = float(mask.sum())
        inside = overlap / max(1.0, scale * scale * other_height * other_width)
        covers = overlap / (height * width)
        if max(inside, covers) < CONTAINED:
            return None  # neighbouring views of one scene share a strip, not a picture
        box = shared_box(mask)
        if box is None:
            return None
        left, top, right, bottom = box
        warped = cv2.warpAffine(second.pixels, matrix, (width, height), flags=cv2.INTER_LINEAR)
        parts = (first.pixels[top:bottom, left:right], warped[top:bottom, left:right])
        toned = match_tones(*parts)
        inputs = [self._input(part) for part in (*parts, *(toned or ()))]
        vectors = self._embed(np.stack(inputs))
        score = float(max(vectors[i] @ vectors[i + 1] for i in range(0, len(vectors), 2)))
        found = AlignedPair(score, first_inside=covers >= CONTAINED, second_inside=inside >= CONTAINED)
        return found.reversed() if swapped else found

    def _input(self, part: np.ndarray) -> np.ndarray:
        image = Image.fromarray(np.ascontiguousarray(part))
        return np.asarray(resize_for_model(image, self._size, self._resize), np.uint8)
