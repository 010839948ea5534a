"""An ensemble of two models gives the mean of their cosines, as a unit vector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from benchmarks.ensemble import combine
from dupfinder.modelcard import card_path_for
from tests.tinymodel import EMBEDDING_DIM, INPUT_SIZE, build_tiny_model


def _embed(model: Path, pixels: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"pixels": pixels})[0])


def test_the_ensemble_cosine_is_the_mean_of_both(tmp_path: Path) -> None:
    first = build_tiny_model(tmp_path / "first.onnx", seed=1)
    second = build_tiny_model(tmp_path / "second.onnx", seed=2)
    out = combine(first, second, tmp_path / "both.onnx")
    pixels = np.random.default_rng(0).integers(0, 256, (3, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    both, a, b = (_embed(path, pixels) for path in (out, first, second))
    assert both.shape == (3, 2 * EMBEDDING_DIM)
    assert np.allclose(np.linalg.norm(both, axis=1), 1, atol=1e-5)
    expected = (a @ a.T + b @ b.T) / 2
    assert np.allclose(both @ both.T, expected, atol=1e-5)
    assert not np.allclose(a @ a.T, b @ b.T, atol=1e-3)  # the two differ, so the mean is a real mix
    card = json.loads(card_path_for(out).read_text())
    assert card["embedding_dim"] == 2 * EMBEDDING_DIM


def test_models_with_different_inputs_are_refused(tmp_path: Path) -> None:
    import onnx

    first = build_tiny_model(tmp_path / "first.onnx")
    second = build_tiny_model(tmp_path / "second.onnx")
    model = onnx.load(str(second))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = INPUT_SIZE * 2
    onnx.save(model, str(second))
    with pytest.raises(ValueError, match="different inputs"):
        combine(first, second, tmp_path / "both.onnx")
