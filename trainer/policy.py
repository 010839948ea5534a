"""The random augmentation policy: which transforms a training view goes through, and how strongly.

`sample_ops` draws a list of (name, parameters) from a seeded generator, then `apply_ops` runs them
with the deterministic functions of `trainer.augment`. Keeping the two apart makes every view
reproducible from its seed and lets a preview or a test print exactly what was done.
The order follows a real duplicate's life: edit (crop, rotate, colour), overlay, frame, resize, save.
Crops, quarter turns, greyscale, letterbox bars and screenshot canvases come more often than the
rest: they are the copies the evaluation showed the model missing most.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from PIL import Image

from dupfinder.imaging import resize_for_model
from trainer import augment

Strength = Literal["none", "light", "full"]
STRENGTHS: tuple[str, ...] = ("none", "light", "full")
Op = tuple[str, dict[str, Any]]

_CAPTIONS = (
    "© 2024 Photo Studio",
    "@holiday_pics",
    "IMG_2231",
    "shared via app",
    "2023-08-14 17:42",
    "SAMPLE",
    "www.example.org",
    "Best moments ❤",
)


def _colour(rng: np.random.Generator) -> augment.Colour:
    choice = rng.integers(0, 3)
    if choice == 0:
        return augment.WHITE
    if choice == 1:
        return augment.BLACK
    red, green, blue = (int(c) for c in rng.integers(0, 256, 3))
    return (red, green, blue)


def _geometry(rng: np.random.Generator, ops: list[Op], min_crop_area: float) -> None:
    if rng.random() < 0.6:
        area = rng.uniform(min_crop_area, 1.0)
        aspect = math.exp(rng.uniform(-0.25, 0.25))
        width = min(1.0, math.sqrt(area * aspect))
        height = min(1.0, area / width)
        ops.append(
            (
                "crop_fraction",
                {
                    "left": rng.uniform(0, 1 - width) if width < 1 else 0.0,
                    "top": rng.uniform(0, 1 - height) if height < 1 else 0.0,
                    "width": width,
                    "height": height,
                },
            )
        )
    if rng.random() < 0.25:
        ops.append(("rotate90", {"quarter_turns": int(rng.integers(1, 4))}))
    if rng.random() < 0.15:
        fill = _colour(rng) if rng.random() < 0.5 else None
        ops.append(("rotate", {"degrees": float(rng.uniform(-15, 15)), "fill": fill}))
    if rng.random() < 0.25:
        ops.append(("hflip", {}))
    if rng.random() < 0.1:
        factor = math.exp(rng.uniform(-0.3, 0.3))
        ops.append(("stretch", {"x_factor": factor, "y_factor": 1.0}))


def _colour_and_quality(rng: np.random.Generator, ops: list[Op], short_side: int) -> None:
    if rng.random() < 0.3:
        ops.append(("adjust_brightness", {"factor": float(rng.uniform(0.6, 1.4))}))
    if rng.random() < 0.3:
        ops.append(("adjust_contrast", {"factor": float(rng.uniform(0.6, 1.4))}))
    if rng.random() < 0.3:
        ops.append(("adjust_saturation", {"factor": float(rng.uniform(0.3, 1.7))}))
    if rng.random() < 0.2:
        ops.append(("greyscale", {}))
    if rng.random() < 0.15:
        ops.append(("blur", {"radius": float(rng.uniform(0.002, 0.012) * short_side)}))
    if rng.random() < 0.15:
        ops.append(("add_noise", {"sigma": float(rng.uniform(3, 15)), "seed": int(rng.integers(1 << 31))}))


def _overlays_and_frames(rng: np.random.Generator, ops: list[Op]) -> None:
    if rng.random() < 0.2:
        ops.append(
            (
                "overlay_text",
                {
                    "text": str(rng.choice(_CAPTIONS)),
                    "x": float(rng.uniform(0, 0.6)),
                    "y": float(rng.uniform(0, 0.9)),
                    "height": float(rng.uniform(0.04, 0.12)),
                    "colour": _colour(rng),
                    "opacity": float(rng.uniform(0.5, 1.0)),
                },
            )
        )
    if rng.random() < 0.15:
        ops.append(
            (
                "overlay_logo",
                {
                    "x": float(rng.uniform(0, 0.85)),
                    "y": float(rng.uniform(0, 0.85)),
                    "size": float(rng.uniform(0.08, 0.2)),
                    "colour": _colour(rng),
                    "opacity": float(rng.uniform(0.4, 0.9)),
                },
            )
        )
    frame = rng.random()
    if frame < 0.1:
        ops.append(("add_border", {"width": float(rng.uniform(0.02, 0.1)), "colour": _colour(rng)}))
    elif frame < 0.24:
        ops.append(
            (
                "pad_to_aspect",
                {"aspect": float(rng.choice([16 / 9, 4 / 3, 1.0, 3 / 4, 9 / 16])), "colour": _colour(rng)},
            )
        )
    elif frame < 0.38:
        ops.append(
            (
                "screenshot_canvas",
                {
                    "scale": float(rng.uniform(1.2, 2.0)),
                    "x": float(rng.random()),
                    "y": float(rng.random()),
                    "seed": int(rng.integers(1 << 31)),
                },
            )
        )


def _resize_and_save(rng: np.random.Generator, ops: list[Op], size: int, light: bool) -> None:
    if rng.random() < 0.5:
        ops.append(("rescale", {"scale": float(rng.uniform(0.5 if light else 0.25, 1.0))}))
    if rng.random() < (0.5 if light else 0.6):
        low = 60 if light else 20
        ops.append(("reencode", {"fmt": "JPEG", "quality": int(rng.integers(low, 96)), "draft_size": size}))
    elif not light and rng.random() < 0.2:
        ops.append(("reencode", {"fmt": "WEBP", "quality": int(rng.integers(40, 96)), "draft_size": size}))


def sample_ops(
    rng: np.random.Generator,
    strength: Strength,
    image_size: tuple[int, int],
    model_size: int,
    min_crop_area: float = 0.4,
) -> list[Op]:
    """Draw the transforms of one view. `image_size` is the decoded source's (width, height)."""
    if strength not in STRENGTHS:
        raise ValueError(f"Invalid value for `strength`: expected one of {STRENGTHS}, received: {strength!r}")
    ops: list[Op] = []
    if strength == "full":
        _geometry(rng, ops, min_crop_area)
        _colour_and_quality(rng, ops, min(image_size))
        _overlays_and_frames(rng, ops)
    if strength != "none":
        _resize_and_save(rng, ops, model_size, light=strength == "light")
    return ops


def _reencode(image: Image.Image, fmt: str, quality: int, draft_size: int | None = None) -> Image.Image:
    """Save and decode as the engine would decode the saved file (JPEG draft at the model size)."""
    return augment.decode(augment.encode(image, fmt, quality), draft_size=draft_size)


_FUNCTIONS: dict[str, Callable[..., Image.Image]] = {
    name: getattr(augment, name)
    for name in (
        "crop_fraction",
        "rotate90",
        "rotate",
        "hflip",
        "stretch",
        "adjust_brightness",
        "adjust_contrast",
        "adjust_saturation",
        "greyscale",
        "blur",
        "add_noise",
        "overlay_text",
        "overlay_logo",
        "add_border",
        "pad_to_aspect",
        "screenshot_canvas",
        "rescale",
    )
} | {"reencode": _reencode}


def apply_ops(image: Image.Image, ops: list[Op]) -> Image.Image:
    """Run sampled transforms in order."""
    for name, params in ops:
        image = _FUNCTIONS[name](image, **params)
    return image


def make_view(
    source: Image.Image,
    rng: np.random.Generator,
    strength: Strength,
    size: int,
    resize: str = "stretch",
    min_crop_area: float = 0.4,
) -> np.ndarray:
    """One training view: sampled transforms, then the engine's own resize → (size, size, 3) uint8."""
    ops = sample_ops(rng, strength, source.size, size, min_crop_area)
    resized = resize_for_model(apply_ops(source, ops), size, resize)  # type: ignore[arg-type]
    return np.asarray(resized, dtype=np.uint8)
