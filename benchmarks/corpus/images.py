"""Decode one candidate picture, judge whether it is usable, and stage its resized JPEG copies.

Runs in worker processes, so everything here is a pure function of its arguments plus the files it
writes into the staging folder.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".pgm", ".ppm"})
MIN_SIDE = 128  # smaller pictures are icons and sprites, not photos anyone deduplicates
MAX_PIXELS = 40_000_000  # only giant clip-art renders are bigger; decoding them costs seconds each
MIN_OPAQUE = 0.15  # cut-outs keep most of their subject; sparse sprites and glows do not
MIN_STD = 6.0  # grey-level std (0-255) below which a picture is blank or a flat fill
ART_FLAT = 0.30  # share of identical neighbouring opaque pixels above which `auto` means drawn art
THUMB = 256  # side of the thumbnail the measurements and hashes are computed on
SIG_SIDE = 32  # side of the grey signature kept for comparing hard-negative pairs


@dataclass(frozen=True)
class Job:
    """One file to look at, with the kind its package rule gave it (photo, art or auto)."""

    package: str
    version: str
    source: str  # path inside the unpacked package
    path: str  # absolute path on disk
    kind: str


@dataclass(frozen=True)
class Settings:
    """Where and how big the staged copies are written."""

    stage: str
    max_side: int
    small_side: int


@dataclass
class Record:
    """What the later, global steps (de-duplication, pairing, splitting) need to know about a file."""

    package: str
    version: str
    source: str
    kind: str
    reject: str | None = None
    width: int = 0
    height: int = 0
    sha256: str = ""
    phash: int = 0
    dhash: int = 0
    signature: bytes = b""
    stage_big: str = ""
    stage_small: str = ""

    @property
    def key(self) -> str:
        """Unique id of the source file across the corpus."""
        return f"{self.package}/{self.source}"


def flatten(im: Image.Image) -> tuple[Image.Image, float, np.ndarray]:
    """Composite transparency on white (as viewers show it); also return opaque share and opaque mask."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return white.convert("RGB"), float((alpha > 16).mean()), alpha >= 250
    rgb = im.convert("RGB")
    return rgb, 1.0, np.ones((rgb.height, rgb.width), dtype=bool)


def flat_share(thumb: np.ndarray, opaque: np.ndarray) -> float:
    """Share of horizontally adjacent opaque pixel pairs that are identical.

    Drawn art is made of flat fills; photographs carry sensor noise and gradients, so even their
    smooth areas rarely repeat a pixel exactly. Transparent surroundings of cut-outs are ignored.
    """
    pixels = thumb.astype(np.int16)
    same = np.abs(np.diff(pixels, axis=1)).max(axis=2) == 0
    both = opaque[:, 1:] & opaque[:, :-1]
    return float(same[both].mean()) if both.any() else 1.0


def load(path: str) -> Image.Image:
    """Open with EXIF orientation applied; big JPEGs are decoded at reduced scale to save time."""
    im = Image.open(path)
    if im.format == "JPEG":
        im.draft("RGB", (2048, 2048))
    return ImageOps.exif_transpose(im)


def stage_copies(rgb: Image.Image, rec: Record, settings: Settings) -> None:
    """Write the corpus-size and small JPEG copies now, so no picture is decoded twice."""
    name = hashlib.sha1(rec.key.encode()).hexdigest()
    big = rgb.copy()
    big.thumbnail((settings.max_side, settings.max_side), Image.Resampling.LANCZOS)
    rec.stage_big = os.path.join(settings.stage, name + ".jpg")
    big.save(rec.stage_big, "JPEG", quality=90, optimize=True)
    big.thumbnail((settings.small_side, settings.small_side), Image.Resampling.LANCZOS)
    rec.stage_small = os.path.join(settings.stage, name + ".small.jpg")
    big.save(rec.stage_small, "JPEG", quality=85, optimize=True)


def trim_margins(grey: Image.Image) -> Image.Image:
    """Cut away white margins, so a trimmed and a padded copy of one drawing hash alike.

    Packages re-ship each other's clip art with different padding (Tux Paint trims Open Clip Art
    to its subject); photographs have no white frame and are left as they are.
    """
    content = np.asarray(grey) < 245
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size < 8 or cols.size < 8:
        return grey
    return grey.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))


def measure(rgb: Image.Image, opaque: np.ndarray, rec: Record) -> None:
    """Blankness, kind, perceptual hashes and signature, all from one thumbnail."""
    thumb = rgb.copy()
    thumb.thumbnail((THUMB, THUMB), Image.Resampling.BOX)
    mask = np.asarray(Image.fromarray(opaque).resize(thumb.size, Image.Resampling.NEAREST))
    grey = thumb.convert("L")
    if float(np.asarray(grey).std()) < MIN_STD:
        rec.reject = "blank"
        return
    if rec.kind == "auto":
        rec.kind = "art" if flat_share(np.asarray(thumb), mask) >= ART_FLAT else "photo"
    grey = trim_margins(grey)
    rec.phash = int(str(imagehash.phash(grey)), 16)
    rec.dhash = int(str(imagehash.dhash(grey)), 16)
    rec.signature = grey.resize((SIG_SIDE, SIG_SIDE), Image.Resampling.BOX).tobytes()


def passes_header(path: str, rec: Record) -> bool:
    """Check the size from the header alone, so tiny and giant files are never decoded."""
    with Image.open(path) as head:
        rec.width, rec.height = head.size
    if min(rec.width, rec.height) < MIN_SIDE:
        rec.reject = "small"
    elif rec.width * rec.height > MAX_PIXELS:
        rec.reject = "huge"
    return rec.reject is None


def analyse(task: tuple[Job, Settings]) -> Record:
    """Decode and judge one file; a bad file becomes a rejected record, never an exception."""
    job, settings = task
    rec = Record(job.package, job.version, job.source, job.kind)
    try:
        with open(job.path, "rb") as fh:
            rec.sha256 = hashlib.sha256(fh.read()).hexdigest()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not passes_header(job.path, rec):
                return rec
            im = load(job.path)
            if (im.width > im.height) != (rec.width > rec.height):  # EXIF rotated it
                rec.width, rec.height = rec.height, rec.width
            rgb, opaque_share, opaque = flatten(im)
    except Image.DecompressionBombError:
        rec.reject = "huge"
        return rec
    except (OSError, ValueError, SyntaxError) as exc:
        rec.reject = f"undecodable: {type(exc).__name__}"
        return rec
    if opaque_share < MIN_OPAQUE:
        rec.reject = "transparent"
        return rec
    measure(rgb, opaque, rec)
    if rec.reject is None:
        stage_copies(rgb, rec, settings)
    return rec
