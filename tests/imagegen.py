"""Pictures made by the tests: varied synthetic photos and awkward files (corrupt, odd modes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def synthetic_photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct, photo-like RGB picture: smooth gradient, shapes, texture; stable per seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.zeros((height, width, 3), np.float32)
    for channel in range(3):
        fx, fy, phase = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 6.3)
        base[..., channel] = 127 + 100 * np.sin(fx * x / width * 6.28 + fy * y / height * 6.28 + phase)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        x1, y1 = x0 + int(rng.integers(15, width // 2)), y0 + int(rng.integers(15, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    noise = rng.normal(0, 6, (height, width, 3))
    noisy = np.clip(np.asarray(image, np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB").filter(ImageFilter.GaussianBlur(0.6))


def detailed_photo(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A synthetic photo with small detail all over, as real photos have: keypoints to match."""
    image = synthetic_photo(seed, size)
    rng = np.random.default_rng(seed + 1000)
    draw = ImageDraw.Draw(image)
    for _ in range(120):
        x, y = int(rng.integers(0, size[0] - 8)), int(rng.integers(0, size[1] - 8))
        box = (x, y, x + int(rng.integers(4, 18)), y + int(rng.integers(4, 18)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
    return image


def save(image: Image.Image, path: Path, **params: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **params)
    return path


def with_exif_orientation(image: Image.Image, path: Path, orientation: int) -> Path:
    """Save `image` as a JPEG whose EXIF says to rotate it for display."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(image, path, quality=95, exif=exif.tobytes())


def corrupt_file(path: Path) -> Path:
    """A file named like a JPEG holding junk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" + bytes(range(256)))
    return path


def truncated_jpeg(image: Image.Image, path: Path) -> Path:
    """A real JPEG cut in half, as an interrupted copy leaves it."""
    save(image, path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
