"""Batches of look-alikes: each batch gathers small groups of pictures the model finds similar.

Random batches seldom hold two pictures that look alike (two flags with the same stripes, two
phases of the Moon, two frames of one sequence), so the loss never learns to tell such pictures
apart, and they are what a high threshold is then spent on. Fine-tuning with `--neighbour-groups G`
embeds every training picture once with the starting weights, and each epoch's order then places
each picture next to up to G-1 of its nearest neighbours: every batch carries those hard negatives.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dupfinder.imaging import DecodeError, load_for_model

Neighbours = tuple[tuple[int, ...], ...]  # per position in a renderer's rows: positions of look-alikes


def nearest(vectors: np.ndarray, count: int, block: int = 1024) -> np.ndarray:
    """(N, count) indices of each row's most similar other rows (cosine, rows unit length)."""
    count = min(count, len(vectors) - 1)
    found = np.zeros((len(vectors), max(count, 0)), np.int64)
    if count <= 0:
        return found
    for start in range(0, len(vectors), block):
        scores = vectors[start : start + block] @ vectors.T
        rows = np.arange(start, min(start + block, len(vectors)))
        scores[rows - start, rows] = -np.inf  # never one's own neighbour
        top = np.argpartition(-scores, count, axis=1)[:, :count]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        found[rows] = np.take_along_axis(top, order, axis=1)
    return found


def embed_rows(branch: Any, paths: Sequence[str], size: int, resize: str, batch: int = 128) -> np.ndarray:
    """Each picture as the engine sees it, embedded by a Keras branch; undecodable ones get zeros."""
    vectors = []
    for start in range(0, len(paths), batch):
        pixels = []
        for path in paths[start : start + batch]:
            try:
                pixels.append(load_for_model(Path(path), size, resize).pixels)  # type: ignore[arg-type]
            except DecodeError:
                pixels.append(np.zeros((size, size, 3), np.uint8))
        vectors.append(np.asarray(branch(np.stack(pixels).astype("float32"), training=False)))
    return np.concatenate(vectors).astype(np.float32)


def neighbour_table(vectors: np.ndarray, group: int) -> Neighbours:
    """What a Renderer keeps: for each row position, its group-1 nearest row positions."""
    return tuple(tuple(int(i) for i in row) for row in nearest(vectors, group - 1))


@lru_cache(maxsize=4)
def grouped_order(neighbours: Neighbours, seed: int, epoch: int) -> np.ndarray:
    """A permutation of the row positions in which look-alikes follow each other.

    Seeds come in a random order; each unused seed is followed by its unused neighbours.
    """
    count = len(neighbours)
    used = np.zeros(count, bool)
    order: list[int] = []
    for position in np.random.default_rng([seed, epoch, 13]).permutation(count):
        if used[position]:
            continue
        members = [int(position)] + [n for n in neighbours[position] if not used[n]]
        used[members] = True
        order.extend(members)
    return np.asarray(order, np.int64)
