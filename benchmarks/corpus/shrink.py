"""Shrink a corpus split to small JPEGs so it travels to a GPU machine (64 MiB per call there).

The shipped model was trained on the train split shrunk to a 176 px longer side, quality 85:
`python -m benchmarks.corpus.shrink --split train --side 176 --out .carry/gpu-train`.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

DEFAULT_CORPUS = Path.home() / ".cache" / "dupfinder" / "corpus"


def shrink(source: Path, target: Path, side: int, quality: int) -> None:
    """Save `source` as an RGB JPEG whose longer side is at most `side`."""
    with Image.open(source) as image:
        picture = image.convert("RGB")
    picture.thumbnail((side, side), Image.Resampling.LANCZOS)
    picture.save(target, quality=quality)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--split", default="train", choices=("train", "val", "test", "extra"))
    parser.add_argument("--side", type=int, default=176)
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sources = sorted((args.corpus / "images" / args.split).glob("*.jpg"))
    target = args.out / args.split
    target.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor() as pool:
        list(pool.map(lambda p: shrink(p, target / p.name, args.side, args.quality), sources))
    print(f"{len(sources)} pictures written to {target}")


if __name__ == "__main__":
    main()
