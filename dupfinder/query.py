"""Find similar: the pictures in scanned folders closest to one given picture.

The folders are scanned as usual (the cache makes a repeat instant), the query picture is decoded
and embedded exactly as the scan does it, and the neighbour graph's index is searched. A query that
is a screenshot with a picture pasted in is also searched by that picture, so it finds the photo.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dupfinder.embedder import Embedder
from dupfinder.imaging import load_for_model
from dupfinder.jobs import Job
from dupfinder.report import ImageRecord, picture_payload
from dupfinder.scan import Scanner, ScanOptions, ScanResult


@dataclass(frozen=True)
class Match:
    """One picture found by a query, with its cosine similarity to the query picture."""

    image: ImageRecord
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return picture_payload(self.image, self.similarity)


def embed_file(embedder: Embedder, path: Path) -> np.ndarray:
    """The looks of one picture file to search by, (looks, dim): the whole picture, then the
    picture pasted into it if it is a screenshot (raises DecodeError for a file that is no picture)."""
    card = embedder.card
    decoded = load_for_model(Path(path), card.input_size, card.resize, find_inner=True)  # type: ignore[arg-type]
    looks = [decoded.pixels] if decoded.inner is None else [decoded.pixels, decoded.inner]
    return embedder.embed(np.stack(looks))


def similar_in(result: ScanResult, looks: np.ndarray, count: int = 20) -> list[Match]:
    """The `count` pictures of a finished scan most similar to any of `looks` (one vector, or one
    per row), best first, each with its best similarity."""
    if count < 1:
        raise ValueError(f"Invalid value for `count`: expected >= 1, received: count={count}")
    best: dict[int, float] = {}
    for vector in np.atleast_2d(looks):
        for found in result.graph.nearest(vector, count):
            best[found.index] = max(best.get(found.index, -2.0), found.similarity)
    matches = [Match(result.graph.records[index], similarity) for index, similarity in best.items()]
    return sorted(matches, key=lambda m: (-m.similarity, m.image.path))[:count]


def find_similar(
    scanner: Scanner, image: Path, options: ScanOptions, count: int = 20, job: Job | None = None
) -> tuple[list[Match], ScanResult]:
    """Scan `options.roots` and return the pictures closest to `image`, with the scan itself."""
    vector = embed_file(scanner.embedder, image)  # fail fast on an unreadable query picture
    result = scanner.scan(options, job)
    return similar_in(result, vector, count), result


def to_json(image: Path, matches: list[Match], result: ScanResult) -> str:
    payload = {
        "query": os.path.abspath(image),
        "model": {"name": result.report.model_name, "sha256": result.report.model_sha256},
        "roots": list(result.report.roots),
        "cancelled": result.report.cancelled,
        "matches": [match.to_dict() for match in matches],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def to_text(image: Path, matches: list[Match], result: ScanResult) -> str:
    lines = [
        f"{len(matches)} closest picture(s) to {os.path.abspath(image)} "
        f"among {result.report.stats.images} scanned:"
    ]
    lines.extend(f"  {m.similarity:.3f}  {m.image.width}x{m.image.height}  {m.image.path}" for m in matches)
    return "\n".join(lines) + "\n"
