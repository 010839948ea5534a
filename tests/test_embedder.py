"""The ONNX session owner: provider choice, signature checks against the card, batching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dupfinder.embedder import Embedder, ModelError, choose_providers
from dupfinder.modelcard import card_path_for
from tests.tinymodel import build_tiny_model


def test_provider_preference() -> None:
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(both, "auto") == both
    assert choose_providers(["CPUExecutionProvider"], "auto") == ["CPUExecutionProvider"]
    assert choose_providers(both, "cpu") == ["CPUExecutionProvider"]
    with pytest.raises(ModelError, match="CUDA was asked for"):
        choose_providers(["CPUExecutionProvider"], "cuda")
    with pytest.raises(ValueError, match="Invalid value for `device`"):
        choose_providers(both, "tpu")  # type: ignore[arg-type]


def test_embeddings_are_unit_length_and_batch_independent(tiny_model: Path) -> None:
    embedder = Embedder(tiny_model, device="cpu")
    batch = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    together = embedder.embed(batch)
    alone = np.vstack([embedder.embed(batch[i : i + 1]) for i in range(5)])
    assert together.shape == (5, 48) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5)
    assert embedder.device == "cpu" and len(embedder.sha256) == 64


def test_wrong_input_is_refused(tiny_model: Path) -> None:
    with pytest.raises(ValueError, match="uint8 NHWC"):
        Embedder(tiny_model).embed(np.zeros((1, 64, 64, 3), np.float32))


def test_card_that_disagrees_with_the_model_is_refused(tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "m.onnx")
    card = json.loads(card_path_for(model).read_text()) | {"input_size": 32}
    card_path_for(model).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="does not match its card"):
        Embedder(model)


def test_not_an_onnx_file_is_a_model_error(tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "m.onnx")
    model.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot load model"):
        Embedder(model)


def test_a_batch_larger_than_one_run_is_split_and_kept_in_order(tiny_model: Path) -> None:
    from dupfinder.embedder import MAX_RUN

    embedder = Embedder(tiny_model, device="cpu")
    batch = np.random.default_rng(1).integers(0, 256, (MAX_RUN + 3, 64, 64, 3), dtype=np.uint8)
    whole = embedder.embed(batch)
    assert whole.shape == (MAX_RUN + 3, 48)
    assert np.allclose(whole[-3:], embedder.embed(batch[-3:]), atol=1e-5)
    assert embedder.embed(batch[:0]).shape == (0, 48)
