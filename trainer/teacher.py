"""A trained ONNX model whose similarities a new network learns (`fit --teacher`).

The teacher embeds exactly the views the student trains on, so its input must be the student's:
the same side and the same square-making resize, as its model card tells. It runs through the
engine's own `Embedder`, so any exported model, an ensemble of two included
(`benchmarks/ensemble.py`), can teach without Keras rebuilding it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dupfinder.embedder import Embedder, ModelError
from dupfinder.modelcard import ModelCardError


class TeacherError(ValueError):
    """The teacher cannot embed the student's views."""


class Teacher:
    """Embeds (M, S, S, 3) uint8 views with an exported model; returns (M, D) float32."""

    def __init__(self, path: Path, image_size: int, resize: str, anchor_width: int | None = None) -> None:
        """`anchor_width`: the student's embedding width when it learns `--distil-target anchor`,
        which reads only the teacher's vector of each picture's first view (`targets`)."""
        if not path.is_file():
            raise TeacherError(f"teacher model {path} does not exist")
        try:
            self.embedder = Embedder(path, device="cpu")
        except (ModelError, ModelCardError) as error:
            raise TeacherError(
                f"teacher {path} is not a readable ONNX model with its card: {error}"
            ) from error
        card = self.embedder.card
        if card.input_size != image_size:
            raise TeacherError(
                f"teacher {path} takes {card.input_size}×{card.input_size} pictures, the student's "
                f"views are uint8 [batch, {image_size}, {image_size}, 3]"
            )
        if card.resize != resize:
            raise TeacherError(
                f"teacher {path} was made for --resize {card.resize}, the student trains with {resize}"
            )

        width = card.embedding_dim
        if anchor_width is not None and width != anchor_width:
            raise TeacherError(
                f"--distil-target anchor needs the teacher's embedding width: the teacher gives "
                f"{width}-d vectors, the student {anchor_width}-d (--embedding-dim {width})"
            )
        self.anchor = anchor_width is not None

    def embed(self, views: np.ndarray) -> np.ndarray:
        return self.embedder.embed(views)

    def targets(self, views: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """(M, D) teacher vectors for a batch's views. The anchor target reads only each label's
        first view (`losses.anchor_loss`), so only those are embedded (half the teacher's work
        with two views a picture) and the other rows are left zero."""
        if not self.anchor:
            return self.embed(views)
        _, first = np.unique(labels, return_index=True)
        vectors = np.zeros((len(views), self.embedder.card.embedding_dim), np.float32)
        vectors[first] = self.embed(views[first])
        return vectors
