"""Shared fixtures: a real tiny ONNX embedding model built with onnx.helper, and picture folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.tinymodel import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ONNX model (pooled pixels → fixed projection → L2 norm) with its card."""
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
