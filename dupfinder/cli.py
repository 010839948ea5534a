"""Command line: `dupfinder [FOLDER...]` opens the window; `dupfinder scan PATH...` runs headless;
`dupfinder query IMAGE FOLDER...` lists the pictures closest to one picture.

Exit status of `scan`: 0 when the scan completed (unreadable files are listed in the report),
2 for bad usage, 1 for a fatal error with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from dupfinder import __version__
from dupfinder.cache import EmbeddingCache, default_cache_dir
from dupfinder.discover import DiscoverOptions
from dupfinder.embedder import DEVICES, Embedder, ModelError
from dupfinder.imaging import DecodeError
from dupfinder.jobs import Job, Progress
from dupfinder.modelcard import ModelCardError
from dupfinder.models import ModelNotFound, find_model
from dupfinder.report import to_csv, to_json, to_text
from dupfinder.scan import Scanner, ScanOptions, default_workers

FORMATS = {"json": to_json, "csv": to_csv, "text": to_text}
SUBCOMMANDS = ("scan", "query")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, received: {text}")
    return value


def _similarity(text: str) -> float:
    value = float(text)
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a similarity in [-1, 1], received: {text}")
    return value


def scan_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dupfinder scan", description="Find duplicate and near-duplicate pictures (headless)."
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folders (or files) to scan")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write the report here, not stdout")
    parser.add_argument(
        "--threshold",
        type=_similarity,
        metavar="T",
        help="minimum cosine similarity for near-duplicates (default: the model card's)",
    )
    parser.add_argument("--model", type=Path, metavar="PATH", help="ONNX model (its .json card beside it)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--workers", type=_positive_int, default=default_workers(), metavar="N")
    parser.add_argument("--batch-size", type=_positive_int, default=32, metavar="N")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", type=Path, metavar="DIR", help=f"default: {default_cache_dir()}")
    cache.add_argument("--no-cache", action="store_true", help="keep nothing between scans")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip paths or names matching GLOB (repeatable)",
    )
    parser.add_argument("--min-size", type=int, default=1, metavar="BYTES")
    parser.add_argument("--include-hidden", action="store_true")
    parser.add_argument("--follow-symlinks", action="store_true")
    parser.add_argument(
        "--turned-copies",
        action="store_true",
        help="also find copies turned in their pixels (a first scan of portrait photos is slower; "
        "the arrows of an icon set then group too)",
    )
    parser.add_argument(
        "--mirrored-copies",
        action="store_true",
        help="also find mirrored copies (mirror-image designs, a left and a right arrow, then group too)",
    )
    parser.add_argument(
        "--cropped-copies",
        action="store_true",
        help="also find copies cropped to a part of a picture (a first scan is slower on a CPU)",
    )
    parser.add_argument(
        "--aligned-copies",
        action="store_true",
        help="also check pairs just below the threshold for one picture being a crop, tilt or frame of "
        "the other (finds far more cropped and tilted copies; a first scan of a folder with many near "
        "pairs is much slower)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


class _TerminalProgress:
    """One self-rewriting line on stderr: stage, count, rate, time left."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0

    def __call__(self, event: Progress) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and not (event.total and event.done >= event.total):
            return
        self.last = now
        count = f"{event.done}/{event.total}" if event.total else f"{event.done}"
        rate = f" {event.rate:.0f}/s" if event.rate else ""
        eta = f" {event.eta_seconds:.0f}s left" if event.eta_seconds is not None else ""
        self.stream.write(f"\r\x1b[K{event.stage}: {count}{rate}{eta}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()


def run_scan(argv: Sequence[str]) -> int:
    args = scan_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="dupfinder: %(message)s")
    try:
        embedder = Embedder(find_model(args.model), device=args.device)
    except (ModelNotFound, ModelError, ModelCardError, OSError) as error:
        print(f"dupfinder: {error}", file=sys.stderr)
        return 1
    cache_path = None if args.no_cache else (args.cache_dir or default_cache_dir()) / "cache.sqlite3"
    options = ScanOptions(
        roots=[Path(p) for p in args.paths],
        threshold=args.threshold,
        workers=args.workers,
        batch_size=args.batch_size,
        turned_copies=args.turned_copies,
        mirrored_copies=args.mirrored_copies,
        cropped_copies=args.cropped_copies,
        aligned_copies=args.aligned_copies,
        discover=DiscoverOptions(
            exclude=args.exclude,
            min_size=args.min_size,
            include_hidden=args.include_hidden,
            follow_symlinks=args.follow_symlinks,
        ),
    )
    show = not args.quiet and sys.stderr.isatty()
    progress = _TerminalProgress(sys.stderr) if show else None
    try:
        with EmbeddingCache(cache_path) as cache:
            result = Scanner(embedder, cache).scan(options, Job(progress))
    except KeyboardInterrupt:
        print("\ndupfinder: interrupted", file=sys.stderr)
        return 130
    except (OSError, ModelError) as error:
        print(f"dupfinder: {error}", file=sys.stderr)
        return 1
    finally:
        if progress:
            progress.close()
    text = FORMATS[args.format](result.report)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def query_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dupfinder query", description="List the pictures in FOLDERs closest to IMAGE."
    )
    parser.add_argument("image", type=Path, metavar="IMAGE")
    parser.add_argument("folders", nargs="+", type=Path, metavar="FOLDER")
    parser.add_argument("--count", type=_positive_int, default=10, metavar="N")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--model", type=Path, metavar="PATH", help="ONNX model (its .json card beside it)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--workers", type=_positive_int, default=default_workers(), metavar="N")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", type=Path, metavar="DIR", help=f"default: {default_cache_dir()}")
    cache.add_argument("--no-cache", action="store_true", help="keep nothing between runs")
    return parser


def run_query(argv: Sequence[str]) -> int:
    from dupfinder import query

    args = query_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="dupfinder: %(message)s")
    cache_path = None if args.no_cache else (args.cache_dir or default_cache_dir()) / "cache.sqlite3"
    options = ScanOptions(roots=list(args.folders), workers=args.workers)
    try:
        embedder = Embedder(find_model(args.model), device=args.device)
        with EmbeddingCache(cache_path) as cache:
            matches, result = query.find_similar(Scanner(embedder, cache), args.image, options, args.count)
    except DecodeError as error:
        print(f"dupfinder: {args.image}: {error}", file=sys.stderr)
        return 1
    except (ModelNotFound, ModelError, ModelCardError, OSError) as error:
        print(f"dupfinder: {error}", file=sys.stderr)
        return 1
    render = query.to_json if args.format == "json" else query.to_text
    sys.stdout.write(render(args.image, matches, result))
    return 0


def run_window(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dupfinder",
        description="Find duplicate pictures. Without a sub-command, open the "
        "window (with FOLDERs, start scanning them). Headless: `dupfinder scan --help`.",
    )
    parser.add_argument("folders", nargs="*", type=Path, metavar="FOLDER")
    parser.add_argument("--model", type=Path, metavar="PATH")
    parser.add_argument("--version", action="version", version=f"dupfinder {__version__}")
    args = parser.parse_args(argv)
    from dupfinder.gui.app import run  # Qt is imported only for the window

    return run(folders=args.folders, model=args.model)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "scan":
        return run_scan(argv[1:])
    if argv and argv[0] == "query":
        return run_query(argv[1:])
    return run_window(argv)


if __name__ == "__main__":
    sys.exit(main())
