"""A trained ONNX model whose similarities a new network learns (`fit --teacher`).

The teacher embeds exactly the views the student trains on, so its input must be the student's:
the same side and the same square-making resize (its model card, when beside it, tells). It runs
through onnxruntime, the engine's own runtime, so any exported model, an ensemble of two included
(`benchmarks/ensemble.py`), can teach without Keras rebuilding it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

_BATCH = 64


class TeacherError(ValueError):
    """The teacher cannot embed the student's views."""


class Teacher:
    """Embeds (M, S, S, 3) uint8 views with an exported model; returns (M, D) float32."""

    def __init__(self, path: Path, image_size: int, resize: str, threads: int = 0) -> None:
        if not path.is_file():
            raise TeacherError(f"teacher model {path} does not exist")
        card = path.with_suffix(".json")
        if card.is_file():
            known = json.loads(card.read_text(encoding="utf-8")).get("resize")
            if known is not None and known != resize:
                raise TeacherError(
                    f"teacher {path} was made for --resize {known}, the student trains with {resize}"
                )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own classes for unreadable graphs
            raise TeacherError(f"teacher {path} is not a readable ONNX model: {error}") from error
        spec = self.session.get_inputs()[0]
        side = spec.shape[1:3]
        if side != [image_size, image_size] or spec.type != "tensor(uint8)":
            raise TeacherError(
                f"teacher {path} takes {spec.type} {spec.shape}, the student's views are "
                f"uint8 [batch, {image_size}, {image_size}, 3]"
            )
        self.input_name = spec.name
        self.path = path

    def embed(self, views: np.ndarray) -> np.ndarray:
        parts = [
            self.session.run(None, {self.input_name: views[start : start + _BATCH]})[0]
            for start in range(0, len(views), _BATCH)
        ]
        return np.concatenate(parts).astype(np.float32)
