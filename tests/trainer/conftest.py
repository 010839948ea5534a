"""Fixtures for the trainer's tests: picture folders made here, and one tiny model trained once.

`trained_tiny_model` fits and exports a small real model (a few seconds on a CPU) once per session;
other test suites (the engine's) may use it as a real exported model with its card and weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.imagegen import save, synthetic_photo

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Options small enough for a test: 48-pixel inputs, two blocks, no XLA compilation.
TINY = {"image_size": 48, "width": 0.5, "blocks": 2, "embedding_dim": 32, "jit_compile": False, "verbose": 0}


@dataclass(frozen=True)
class TrainedModel:
    run: Path  # the fit's output folder (checkpoints, heldout.txt)
    model: Path  # the exported .onnx with its .json card and .weights.npz
    photos: Path  # the pictures it was trained on


def make_photos(folder: Path, count: int, start: int = 0, size: tuple[int, int] = (160, 120)) -> Path:
    for seed in range(start, start + count):
        save(synthetic_photo(seed, size), folder / f"photo{seed:03d}.jpg", quality=92)
    return folder


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    return make_photos(tmp_path / "photos", 12)


@pytest.fixture(scope="session")
def trained_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A real model: fit 3 epochs on 24 generated photos, exported with parity checked."""
    from trainer.export import export
    from trainer.train import FitOptions, fit

    root = tmp_path_factory.mktemp("trained")
    pictures = make_photos(root / "photos", 24)
    fit(
        FitOptions(
            data=[str(pictures)],
            out=str(root / "run"),
            epochs=3,
            batch_size=8,
            workers=0,
            val_split=0.25,
            lr=3e-3,
            **TINY,
        )
    )  # type: ignore[arg-type]
    result = export(root / "run", root / "tiny.onnx")
    return TrainedModel(root / "run", result.model, pictures)
