"""Render docs/screenshot.png: the real window after a real scan of generated photos.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.gui.screenshot [--model M.onnx] [--dark]

Landscapes are drawn here (no download), copied the ways duplicates happen (resized, re-encoded,
cropped, brightened, watermarked, exact backups), scanned with the given model (default: the
tiny test model), then a keep rule is applied and the window is grabbed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DAY = 24 * 3600
SKIES = [
    ((40, 90, 180), (170, 210, 245)),
    ((250, 120, 60), (255, 210, 150)),
    ((20, 30, 80), (120, 80, 160)),
    ((90, 150, 220), (230, 240, 250)),
]


def landscape(seed: int, size: tuple[int, int] = (1200, 800)) -> Image.Image:
    """Sky, sun, layered mountains, a lake or meadow, a few trees: photo-like and distinct per seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    top, bottom = (np.array(c, np.float32) for c in SKIES[seed % len(SKIES)])
    shift = rng.uniform(-30, 30, 3)
    ramp = np.linspace(0, 1, height)[:, None, None]
    sky = np.clip(top + shift + (bottom - top) * ramp, 0, 255) * np.ones((1, width, 1))
    image = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    sun = (int(rng.uniform(0.15, 0.85) * width), int(rng.uniform(0.12, 0.4) * height))
    radius = int(rng.uniform(0.04, 0.08) * width)
    draw.ellipse((sun[0] - radius, sun[1] - radius, sun[0] + radius, sun[1] + radius), fill=(255, 240, 200))
    for _ in range(int(rng.integers(0, 5))):
        cx, cy, cw = rng.uniform(0, width), rng.uniform(0.05, 0.35) * height, rng.uniform(60, 220)
        draw.ellipse((cx - cw, cy - cw / 4, cx + cw, cy + cw / 4), fill=(245, 245, 250))
    horizon = rng.uniform(0.4, 0.8) * height
    for layer in range(3):
        base = horizon - (2 - layer) * 40
        xs = np.linspace(0, width, 9)
        ys = base - rng.uniform(40, 220 - layer * 50, len(xs))
        shade = int(60 + layer * 35 + rng.uniform(-15, 15))
        colour = (shade // 2, shade, int(shade * 1.1)) if seed % 2 else (shade, int(shade * 0.8), shade // 2)
        draw.polygon([(0, height), *zip(xs.tolist(), ys.tolist()), (width, height)], fill=colour)
    water = seed % 3 == 0
    ground = (60, 110, 170) if water else (70 + seed % 40, 130, 60)
    draw.rectangle((0, int(horizon) + 30, width, height), fill=ground)
    for _ in range(int(rng.integers(3, 9))):
        x, y = rng.uniform(0, width), rng.uniform(horizon + 50, height)
        tall = rng.uniform(60, 160)
        draw.polygon([(x, y - tall), (x - tall / 4, y), (x + tall / 4, y)], fill=(20, 70 + seed % 50, 35))
    if seed % 4 == 1:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    noisy = np.asarray(image, np.float32) + rng.normal(0, 5, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))


def write_library(root: Path) -> None:
    """Twenty photos in three folders, and the copies a real library accumulates."""
    trips, hiking = root / "2023 Holidays", root / "2022 Hiking"
    phone, edited = root / "Phone backup", root / "Edited"
    for folder in (trips, hiking, phone, edited):
        folder.mkdir(parents=True)
    for seed in range(20):
        landscape(seed).save((trips if seed < 12 else hiking) / f"IMG_{2040 + seed}.jpg", quality=92)
    for seed in (0, 3, 5, 8):
        shutil.copy2(trips / f"IMG_{2040 + seed}.jpg", phone / f"IMG_{2040 + seed}.jpg")
    photo = Image.open(trips / "IMG_2041.jpg")
    photo.resize((600, 400)).save(phone / "IMG_2041-small.jpg", quality=80)
    ImageEnhance.Brightness(photo).enhance(1.15).save(edited / "IMG_2041 bright.jpg", quality=88)
    photo.crop((40, 30, 1160, 770)).save(edited / "IMG_2041 cropped.jpg", quality=90)
    photo = Image.open(trips / "IMG_2046.jpg")
    marked = photo.copy()
    ImageDraw.Draw(marked).text((40, 740), "© my holidays", fill=(255, 255, 255))
    marked.save(edited / "IMG_2046 watermark.jpg", quality=85)
    photo.resize((800, 533)).save(edited / "IMG_2046.png")
    Image.open(root / "2022 Hiking" / "IMG_2053.jpg").save(phone / "IMG_2053.webp", quality=80)
    for index, path in enumerate(sorted(root.rglob("*.*"))):
        stamp = 1_660_000_000 + index * 3 * DAY + (400 * DAY if path.parent.name != "2023 Holidays" else 0)
        os.utime(path, (stamp, stamp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--output", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--dark", action="store_true")
    parser.add_argument("--size", default="1600x960")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dupfinder-shot-"))
    os.environ["XDG_DATA_HOME"] = str(work / "xdg")
    os.environ["HOME"] = str(work)  # the folder list shows paths from ~
    library = work / "Pictures"
    write_library(library)
    model = args.model
    if model is None:
        from tests.tinymodel import build_tiny_model

        model = build_tiny_model(work / "model" / "tiny.onnx")
    shoot(library, model, work, args)


def shoot(library: Path, model: Path, work: Path, args: argparse.Namespace) -> None:
    from PySide6.QtCore import QSettings, Qt, QTimer

    from dupfinder.gui import theme
    from dupfinder.gui.app import application
    from dupfinder.gui.desktop import QtTrash
    from dupfinder.gui.environment import Environment
    from dupfinder.gui.window import MainWindow

    app = application()
    theme.apply(app, Qt.ColorScheme.Dark if args.dark else Qt.ColorScheme.Light)
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Environment(settings, work / "data", work / "cache.sqlite3", QtTrash()), model)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.split.setSizes([500, width - 500])
    window.left.setSizes([300, height - 380])
    window.show()

    window.scanDone.connect(lambda: show_a_marked_group(window, args.output))
    window.add_folders([library / name for name in sorted(os.listdir(library))], scan=False)
    window.folders.tree.topLevelItem(0).setCheckState(1, Qt.CheckState.Checked)  # 2022 Hiking: reference
    QTimer.singleShot(300, window.start_scan)
    app.exec()


def show_a_marked_group(window: Any, output: Path) -> None:
    """Mark by a rule, select a group of four or more, and grab the window once thumbnails are in."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from dupfinder.gui.groups_model import GROUP_ROLE

    window.cleanup.apply_rule("largest")
    panel = window.groups_panel
    for row in range(panel.proxy.rowCount()):
        group = panel.proxy.index(row, 0).data(GROUP_ROLE)
        if group is not None and len(group.members) >= 4:
            panel.select_index(panel.proxy.index(row, 0))
            break

    def grab() -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(output))
        print(f"wrote {output}")
        window.close()
        QApplication.instance().quit()

    QTimer.singleShot(1500, grab)


if __name__ == "__main__":
    main()
