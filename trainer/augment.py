"""What happens to a picture on its way to becoming a duplicate, as small deterministic functions.

Every transform takes a PIL RGB picture and explicit parameters and returns a new picture, so the
same function serves the trainer (with parameters drawn from a seeded generator, `sample_ops`) and
the accuracy benchmark (with fixed parameters, see `trainer.tiers`). Nothing here reads a global
random state: the same parameters always give the same pixels.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from dupfinder.imaging import open_oriented_rgb

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)
BLACK: Colour = (0, 0, 0)
_RESAMPLE = Image.Resampling.BILINEAR


def _check(ok: bool, name: str, expected: str, value: object) -> None:
    if not ok:
        raise ValueError(f"Invalid value for `{name}`: {expected}, received: {name}={value!r}")


# --- size and encoding -------------------------------------------------------------------------


def rescale(image: Image.Image, scale: float) -> Image.Image:
    """Resize by a factor (a shared copy is usually smaller than the original)."""
    _check(scale > 0, "scale", "expected > 0", scale)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS if scale < 1 else _RESAMPLE)


def thumbnail(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink so the longer side is at most `max_side` (as galleries and messengers do)."""
    _check(max_side >= 1, "max_side", "expected >= 1", max_side)
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return copy


def encode(
    image: Image.Image, fmt: str = "JPEG", quality: int = 90, exif_orientation: int | None = None
) -> bytes:
    """The bytes of a file holding `image` (JPEG, PNG, WEBP...), optionally with an EXIF rotation."""
    _check(1 <= quality <= 100, "quality", "expected 1..100", quality)
    buffer = io.BytesIO()
    params: dict[str, object] = {"quality": quality} if fmt.upper() in ("JPEG", "WEBP") else {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        params["exif"] = exif.tobytes()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def decode(data: bytes, draft_size: int | None = None) -> Image.Image:
    """Decode file bytes exactly as the engine decodes a file (draft, EXIF orientation, RGB)."""
    image, _, _ = open_oriented_rgb(io.BytesIO(data), draft_size=draft_size)
    return image


def reencode(image: Image.Image, fmt: str = "JPEG", quality: int = 90) -> Image.Image:
    """Save and load again: compression artefacts, as every re-shared copy has."""
    return decode(encode(image, fmt, quality))


# --- geometry ----------------------------------------------------------------------------------


def crop_fraction(image: Image.Image, left: float, top: float, width: float, height: float) -> Image.Image:
    """Crop a box given in fractions of the picture's width and height."""
    for name, value in (("left", left), ("top", top)):
        _check(0 <= value < 1, name, "expected a fraction in [0, 1)", value)
    for name, value in (("width", width), ("height", height)):
        _check(0 < value <= 1, name, "expected a fraction in (0, 1]", value)
    box_width = max(1, round(width * image.width))
    box_height = max(1, round(height * image.height))
    x0 = min(round(left * image.width), image.width - box_width)
    y0 = min(round(top * image.height), image.height - box_height)
    x1, y1 = x0 + box_width, y0 + box_height
    return image.crop((x0, y0, x1, y1))


def centre_crop(image: Image.Image, area: float) -> Image.Image:
    """Keep the centre `area` fraction of the picture, same aspect ratio."""
    _check(0 < area <= 1, "area", "expected a fraction in (0, 1]", area)
    side = math.sqrt(area)
    return crop_fraction(image, (1 - side) / 2, (1 - side) / 2, side, side)


def rotate90(image: Image.Image, quarter_turns: int) -> Image.Image:
    """Rotate counter-clockwise by a multiple of 90 degrees (phones, scanners, wrong EXIF)."""
    turns = quarter_turns % 4
    methods = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
    return image.copy() if turns == 0 else image.transpose(methods[turns])


def rotate(image: Image.Image, degrees: float, fill: Colour | None = None) -> Image.Image:
    """Rotate by a small angle: onto a `fill` background, or cropped to the largest clean box."""
    if fill is not None:
        return image.rotate(degrees, _RESAMPLE, expand=True, fillcolor=fill)
    rotated = image.rotate(degrees, _RESAMPLE, expand=False)
    width, height = _largest_rotated_box(image.width, image.height, math.radians(degrees))
    left, top = (image.width - width) / 2, (image.height - height) / 2
    return rotated.crop((round(left), round(top), round(left + width), round(top + height)))


def _largest_rotated_box(width: int, height: int, angle: float) -> tuple[float, float]:
    """Largest axis-aligned box inside a w×h picture rotated by `angle` (no corners of fill)."""
    sin, cos = abs(math.sin(angle)), abs(math.cos(angle))
    long_side, short_side = max(width, height), min(width, height)
    if short_side <= 2 * sin * cos * long_side or abs(sin - cos) < 1e-10:
        half = 0.5 * short_side
        w, h = (half / sin, half / cos) if width >= height else (half / cos, half / sin)
    else:
        cos2 = cos * cos - sin * sin
        w, h = (width * cos - height * sin) / cos2, (height * cos - width * sin) / cos2
    return max(1.0, w), max(1.0, h)


def hflip(image: Image.Image) -> Image.Image:
    """Mirror left to right (selfies, some editors)."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def stretch(image: Image.Image, x_factor: float, y_factor: float) -> Image.Image:
    """Change the aspect ratio (a careless resize to a fixed box)."""
    _check(x_factor > 0, "x_factor", "expected > 0", x_factor)
    _check(y_factor > 0, "y_factor", "expected > 0", y_factor)
    size = (max(1, round(image.width * x_factor)), max(1, round(image.height * y_factor)))
    return image.resize(size, _RESAMPLE)


# --- colour and quality ------------------------------------------------------------------------


def adjust_brightness(image: Image.Image, factor: float) -> Image.Image:
    _check(factor >= 0, "factor", "expected >= 0", factor)
    return ImageEnhance.Brightness(image).enhance(factor)


def adjust_contrast(image: Image.Image, factor: float) -> Image.Image:
    _check(factor >= 0, "factor", "expected >= 0", factor)
    return ImageEnhance.Contrast(image).enhance(factor)


def adjust_saturation(image: Image.Image, factor: float) -> Image.Image:
    _check(factor >= 0, "factor", "expected >= 0", factor)
    return ImageEnhance.Color(image).enhance(factor)


def greyscale(image: Image.Image) -> Image.Image:
    """Black and white, kept as RGB as the engine decodes it."""
    return ImageOps.grayscale(image).convert("RGB")


def blur(image: Image.Image, radius: float) -> Image.Image:
    _check(radius >= 0, "radius", "expected >= 0", radius)
    return image.filter(ImageFilter.GaussianBlur(radius))


def add_noise(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    """Gaussian sensor-like noise; `seed` makes it reproducible."""
    _check(sigma >= 0, "sigma", "expected >= 0", sigma)
    pixels = np.asarray(image, np.float32)
    noise = np.random.default_rng(seed).normal(0.0, sigma, pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "RGB")


# --- overlays and framing ----------------------------------------------------------------------


def overlay_text(
    image: Image.Image,
    text: str,
    x: float = 0.05,
    y: float = 0.85,
    height: float = 0.08,
    colour: Colour = WHITE,
    opacity: float = 0.8,
) -> Image.Image:
    """Draw a caption or watermark; position and height are fractions of the picture."""
    _check(0 < height <= 1, "height", "expected a fraction in (0, 1]", height)
    _check(0 <= opacity <= 1, "opacity", "expected a fraction in [0, 1]", opacity)
    font = ImageFont.load_default(size=max(6, round(height * image.height)))
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).text(
        (x * image.width, y * image.height), text, font=font, fill=(*colour, round(255 * opacity))
    )
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def overlay_logo(
    image: Image.Image,
    x: float = 0.8,
    y: float = 0.05,
    size: float = 0.15,
    colour: Colour = WHITE,
    opacity: float = 0.6,
) -> Image.Image:
    """Stamp a simple logo (ring, bar and dot) such as a channel or agency mark."""
    _check(0 < size <= 1, "size", "expected a fraction in (0, 1]", size)
    side = max(4, round(size * min(image.size)))
    x0, y0 = round(x * image.width), round(y * image.height)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw, alpha = ImageDraw.Draw(layer), round(255 * opacity)
    draw.ellipse((x0, y0, x0 + side, y0 + side), outline=(*colour, alpha), width=max(1, side // 8))
    draw.rectangle(
        (x0 + side // 4, y0 + side // 2 - side // 16, x0 + 3 * side // 4, y0 + side // 2 + side // 16),
        fill=(*colour, alpha),
    )
    draw.ellipse(
        (
            x0 + side // 2 - side // 10,
            y0 + side // 4 - side // 10,
            x0 + side // 2 + side // 10,
            y0 + side // 4 + side // 10,
        ),
        fill=(*colour, alpha),
    )
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def add_border(image: Image.Image, width: float, colour: Colour = WHITE) -> Image.Image:
    """A frame around the picture, `width` a fraction of the shorter side."""
    _check(0 <= width <= 1, "width", "expected a fraction in [0, 1]", width)
    return ImageOps.expand(image, border=round(width * min(image.size)), fill=colour)


def pad_to_aspect(image: Image.Image, aspect: float, colour: Colour = BLACK) -> Image.Image:
    """Letterbox (bars above and below) or pillarbox (bars left and right) to width/height=`aspect`."""
    _check(aspect > 0, "aspect", "expected > 0", aspect)
    if image.width / image.height < aspect:
        size = (round(image.height * aspect), image.height)
    else:
        size = (image.width, round(image.width / aspect))
    canvas = Image.new("RGB", size, colour)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas


def screenshot_canvas(
    image: Image.Image,
    scale: float = 1.6,
    x: float = 0.5,
    y: float = 0.5,
    background: Colour = (245, 245, 245),
    seed: int = 0,
) -> Image.Image:
    """Paste into a larger window-like canvas with title bar, side bar and text lines."""
    _check(scale >= 1, "scale", "expected >= 1", scale)
    rng = np.random.default_rng(seed)
    width, height = round(image.width * scale), round(image.height * scale) + 24
    canvas = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, width, 22), fill=tuple(int(c) for c in rng.integers(30, 90, 3)))
    for line in range(int(rng.integers(2, 6))):
        top = 30 + line * 14
        draw.rectangle(
            (6, top, 6 + int(rng.integers(20, max(21, width // 3))), top + 6), fill=(180, 180, 180)
        )
    left = round(x * (width - image.width))
    top = 24 + round(y * (height - 24 - image.height))
    canvas.paste(image, (left, top))
    return canvas
