"""Keep training-only pictures that show a benchmark picture out of the corpus.

Game packages share textures and signs with the corpus's packages (Nexuiz's walls are UFO:AI's,
a road sign is Open Clip Art's) in versions that the hash de-duplication does not join: cropped,
tiled, recoloured. Training on one would teach the model a test picture. So every training-only
picture is embedded by a model, whole and by the engine's six regions, and dropped when any of
its views is at least `threshold` alike any view of a val or test picture (cosine). The threshold
lies far below the app's (0.965): this screen should err towards dropping.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dupfinder.embedder import Embedder
from dupfinder.imaging import open_oriented_rgb, region_inputs, resize_for_model

DEFAULT_THRESHOLD = 0.80
REGION_VIEWS = 6  # dupfinder.views.REGIONS; a picture with flat regions repeats its whole view
_BATCH = 64


def embed_views(embedder: Embedder, paths: Sequence[Path]) -> np.ndarray:
    """(pictures, 1 + REGION_VIEWS, D) unit vectors: the whole picture, then its regions."""
    size, mode = embedder.card.input_size, embedder.card.resize
    rows: list[np.ndarray] = []
    for start in range(0, len(paths), _BATCH):
        views = []
        for path in paths[start : start + _BATCH]:
            picture, _, _ = open_oriented_rgb(path, draft_size=2 * size)
            whole = np.asarray(resize_for_model(picture, size, mode), np.uint8)[None]
            regions = region_inputs(picture, size)[:REGION_VIEWS]
            padding = [whole] * (REGION_VIEWS - len(regions))
            views.append(np.concatenate([whole, regions, *padding]))
        batch = np.concatenate(views)
        rows.append(embedder.embed(batch).reshape(len(views), 1 + REGION_VIEWS, -1))
    if not rows:
        return np.zeros((0, 1 + REGION_VIEWS, embedder.card.embedding_dim), np.float32)
    return np.concatenate(rows)


def closest(candidates: np.ndarray, held_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate, the highest cosine between a view of it and a view of any held-out
    picture (whole with whole, whole with region, region with whole), and which picture that is."""
    if len(candidates) == 0 or len(held_out) == 0:
        return np.zeros(len(candidates), np.float32), np.zeros(len(candidates), np.int64)
    whole_c, whole_h = candidates[:, 0], held_out[:, 0]
    scores = whole_c @ whole_h.T
    scores = np.maximum(scores, np.einsum("cd,hrd->chr", whole_c, held_out[:, 1:]).max(axis=2))
    scores = np.maximum(scores, np.einsum("crd,hd->chr", candidates[:, 1:], whole_h).max(axis=2))
    return scores.max(axis=1), scores.argmax(axis=1)


def screen(
    embedder: Embedder,
    candidates: Sequence[Path],
    held_out: Sequence[Path],
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[int, tuple[int, float]]:
    """{candidate index: (held-out index, cosine)} for every candidate to drop."""
    best, which = closest(embed_views(embedder, candidates), embed_views(embedder, held_out))
    return {int(i): (int(which[i]), float(best[i])) for i in np.flatnonzero(best >= threshold)}
