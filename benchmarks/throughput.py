"""Throughput: model-only inference, and whole scans cold (empty cache) and warm (all cached).

Model-only inference says whether the model or decoding bounds a scan; the scan figures are what
a user waits for. Pictures are generated (photo-like, 1600×1200 JPEG) so the run needs no corpus.
Cold scans of the same pictures stood upright (1200×1600), without and with `turned_copies`,
price the turned second looks that portrait pictures then get (two more embeddings each), and a
cold scan with `cropped_copies` prices the regions (up to six more embeddings per picture). Decoding
alone is timed with and without the screenshot search, in alternating passes, to price that search.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from dupfinder.cache import EmbeddingCache
from dupfinder.embedder import Embedder
from dupfinder.models import find_model
from dupfinder.scan import Scanner, ScanOptions, default_workers


def model_only(embedder: Embedder, batch_size: int, batches: int) -> float:
    """Images per second through the ONNX session alone (random pixels, warm-up excluded)."""
    size = embedder.card.input_size
    batch = np.random.default_rng(0).integers(0, 256, (batch_size, size, size, 3), dtype=np.uint8)
    embedder.embed(batch)
    start = time.perf_counter()
    for _ in range(batches):
        embedder.embed(batch)
    return batch_size * batches / (time.perf_counter() - start)


def make_library(folder: Path, count: int, portrait: bool = False) -> None:
    """`count` photo-like JPEGs the size a camera phone shares (1600×1200, or 1200×1600)."""
    from tests.imagegen import save, synthetic_photo

    for index in range(count):
        save(
            synthetic_photo(index, (1200, 1600) if portrait else (1600, 1200)),
            folder / f"{index:05d}.jpg",
            quality=90,
        )


def scan_rate(
    embedder: Embedder,
    folder: Path,
    cache_file: Path,
    workers: int,
    turned_copies: bool = False,
    cropped_copies: bool = False,
) -> tuple[float, int]:
    options = ScanOptions(
        [folder], workers=workers, turned_copies=turned_copies, cropped_copies=cropped_copies
    )
    with EmbeddingCache(cache_file) as cache:
        start = time.perf_counter()
        report = Scanner(embedder, cache).scan(options).report
        seconds = time.perf_counter() - start
    return report.stats.images / seconds, report.stats.cached


def decode_ms(embedder: Embedder, folder: Path, passes: int = 5) -> tuple[float, float]:
    """Median milliseconds to decode one picture without and with the screenshot search."""
    from dupfinder.imaging import load_for_model

    files = sorted(folder.glob("*.jpg"))
    size, mode = embedder.card.input_size, embedder.card.resize
    timings: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(passes):
        for find_inner in (False, True):
            start = time.perf_counter()
            for path in files:
                load_for_model(path, size, mode, find_inner)  # type: ignore[arg-type]
            timings[find_inner].append(1000 * (time.perf_counter() - start) / len(files))
    return float(np.median(timings[False])), float(np.median(timings[True]))


def run(model: Path, images: int, batch_size: int, workers: int) -> dict[str, object]:
    embedder = Embedder(model, device="auto")
    result: dict[str, object] = {
        "model": embedder.card.name,
        "device": embedder.device,
        "cpu_count": os.cpu_count(),
        "batch_size": batch_size,
        "workers": workers,
        "model_only_images_per_second": round(model_only(embedder, batch_size, 20), 1),
    }
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "library"
        make_library(folder, images)
        plain_ms, searching_ms = decode_ms(embedder, folder)
        cold, _ = scan_rate(embedder, folder, Path(scratch) / "cache.db", workers)
        warm, cached = scan_rate(embedder, folder, Path(scratch) / "cache.db", workers)
        cold_cropped, _ = scan_rate(
            embedder, folder, Path(scratch) / "cropped.db", workers, cropped_copies=True
        )
        upright = Path(scratch) / "portrait"
        make_library(upright, images, portrait=True)
        cold_portrait, _ = scan_rate(embedder, upright, Path(scratch) / "portrait.db", workers)
        cold_turned, _ = scan_rate(
            embedder, upright, Path(scratch) / "turned.db", workers, turned_copies=True
        )
    result |= {
        "decode_ms": round(plain_ms, 2),
        "decode_with_screenshot_search_ms": round(searching_ms, 2),
        "scan_images": images,
        "scan_cold_images_per_second": round(cold, 1),
        "scan_cold_cropped_copies_images_per_second": round(cold_cropped, 1),
        "scan_cold_portrait_images_per_second": round(cold_portrait, 1),
        "scan_cold_portrait_turned_copies_images_per_second": round(cold_turned, 1),
        "scan_warm_images_per_second": round(warm, 1),
        "warm_cached": cached,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/throughput.json")
    parser.add_argument(
        "--model-only",
        action="store_true",
        help="only the model's images/s (seconds, to compare models); written only with --out",
    )
    args = parser.parse_args()
    model = find_model(args.model)
    if args.model_only:
        embedder = Embedder(model, device="auto")
        rate = model_only(embedder, args.batch_size, 40)
        result: dict[str, object] = {
            "model": embedder.card.name,
            "model_only_images_per_second": round(rate, 1),
        }
    else:
        result = run(model, args.images, args.batch_size, args.workers)
        args.out = args.out or Path("benchmarks/results/throughput.json")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
