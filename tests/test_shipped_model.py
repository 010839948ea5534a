"""The bundled model: found by default, consistent with its card, and it groups a copy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from dupfinder.embedder import Embedder
from dupfinder.imaging import load_for_model
from dupfinder.modelcard import card_path_for
from dupfinder.models import find_model
from tests.imagegen import save, synthetic_photo


def test_bundled_model_is_found_and_small(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DUPFINDER_MODEL", raising=False)
    model = find_model()
    assert model.name == "dupfinder-default.onnx"
    assert model.stat().st_size < 20 * 1024 * 1024
    card = json.loads(card_path_for(model).read_text())
    assert card["evaluation"]["held_out"]["threshold"]["target_precision"] == 0.99
    # No path of the machine that trained it: absolute paths outside the repo never reach the card.
    assert not any(f"/{top}/" in json.dumps(card) for top in ("work", "root", "home", "tmp"))
    assert card["evaluation"]["benchmark_calibration"]["min_similarity"] == card["default_threshold"]
    aligned = card["evaluation"]["benchmark_calibration"]["alignment"]
    assert card["alignment"] == {key: aligned[key] for key in ("floor", "min_similarity")}


def test_bundled_model_groups_copies_and_separates_others(tmp_path: Path) -> None:
    embedder = Embedder(find_model(), device="cpu")
    card = embedder.card
    original = synthetic_photo(3, (640, 480))
    letterboxed = Image.new("RGB", (640, 640))
    letterboxed.paste(original, (0, 80))
    paths = [
        save(original, tmp_path / "a.png"),
        save(original.resize((320, 240), Image.Resampling.LANCZOS), tmp_path / "a-half.jpg", quality=40),
        save(synthetic_photo(4, (640, 480)), tmp_path / "b.png"),
        save(letterboxed, tmp_path / "a-square.jpg", quality=85),
    ]
    vectors = embedder.embed(
        np.stack(
            [
                load_for_model(p, card.input_size, card.resize).pixels  # type: ignore[arg-type]
                for p in paths
            ]
        )
    )
    assert float(vectors[0] @ vectors[1]) >= card.default_threshold
    assert float(vectors[0] @ vectors[2]) < card.default_threshold
    assert card.resize == "trim-stretch" and float(vectors[0] @ vectors[3]) >= card.default_threshold
