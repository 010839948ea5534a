"""`dupfinder-train` end to end: preview, refresh, and clear errors with the right exit status."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dupfinder.modelcard import card_path_for, load_card
from tests.imagegen import corrupt_file
from tests.trainer.conftest import TrainedModel, make_photos
from trainer.cli import build_parser, main
from trainer.export import export
from trainer.refresh import RefreshOptions, explain, recall_matched_threshold, refresh


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("fit", "export", "evaluate", "preview", "refresh"))


def test_preview_writes_a_grid_of_triplets(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    assert (
        main(
            [
                "preview",
                str(photos),
                "--out",
                str(out),
                "--image-size",
                "48",
                "--rows",
                "3",
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    with Image.open(out) as grid:
        assert grid.width > 3 * 128 and grid.height > 3 * 128


@pytest.mark.parametrize("kind", ["empty", "unreadable"])
def test_bad_data_folders_fail_with_a_one_line_reason(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    if kind == "unreadable":
        for index in range(3):
            corrupt_file(folder / f"{index}.jpg")
    code = main(["fit", str(folder), "--out", str(tmp_path / "run"), "--epochs", "1", "--workers", "0"])
    error = capsys.readouterr().err
    assert code == 1
    assert ("no pictures found" if kind == "empty" else "could be read") in error
    assert error.count("\n") == 1


def test_single_class_fails_with_a_clear_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_photos(tmp_path / "data" / "only-class", 1)
    code = main(["fit", str(tmp_path / "data"), "--mode", "classes", "--out", str(tmp_path / "run")])
    assert code == 1 and "need at least 2 classes" in capsys.readouterr().err


def test_export_and_evaluate_commands(
    trained_tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "cli.onnx"
    assert main(["export", str(trained_tiny_model.run), "--out", str(model)]) == 0
    assert model.is_file() and model.with_suffix(".json").is_file()
    assert (
        main(
            [
                "evaluate",
                str(model),
                str(trained_tiny_model.photos),
                "--max-images",
                "6",
                "--tiers",
                "png",
                "greyscale",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "average precision" in out and "greyscale" in out


def test_refresh_fine_tunes_beside_the_base_and_never_overwrites_it(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    base = tmp_path / "shipped" / "dupfinder-default.onnx"
    # A base with a non-default branch setting: the refreshed model must keep every one of them.
    export(trained_tiny_model.run, base, mirror_invariant=True)
    rule = {"margin": 0.1, "max_distance": 3}  # as the shipped card's calibration writes one
    # A threshold calibrated on look-alikes lies above the held-out one, as the shipped card's does.
    aligned = {"floor": 0.8, "min_similarity": 0.995}
    card_path_for(base).write_text(
        replace(load_card(base), hash_confirm=rule, alignment=aligned, default_threshold=0.99).to_json()
    )
    before = base.read_bytes()
    photos = make_photos(tmp_path / "mine", 10, start=200)
    summary = refresh(
        RefreshOptions(
            photos=[str(photos)],
            base=str(base),
            epochs=1,
            batch_size=4,
            workers=0,
            max_eval_images=4,
            jit_compile=False,
        )
    )
    new = Path(summary["model"])
    assert new.parent == base.parent and new != base and new.is_file()
    assert new.with_suffix(".json").is_file() and new.with_suffix(".weights.npz").is_file()
    assert base.read_bytes() == before
    assert load_card(new).provenance["branch"] == load_card(base).provenance["branch"]
    assert (
        load_card(new).hash_confirm == rule
        and "not calibrated again" in load_card(new).provenance["hash_confirm"]
    )
    assert load_card(new).alignment == aligned and "carried over" in load_card(new).provenance["alignment"]
    assert load_card(new).default_threshold >= summary["after"]["threshold"]
    assert summary["default_threshold"] == load_card(new).default_threshold
    assert "set by dupfinder-train refresh" in load_card(new).provenance["default_threshold"]
    text = explain(summary)
    assert "before" in text and "after" in text and f"--model {new}" in text and "pHash rule" in text
    assert "Its threshold" in text


def test_the_new_threshold_finds_the_share_of_copies_the_base_finds_at_its_own() -> None:
    base = np.array([0.90, 0.95, 0.97, 0.99])  # the base finds half of them at 0.96
    new = np.array([0.5, 0.6, 0.7, 0.8])  # a model whose scale fine-tuning moved
    assert recall_matched_threshold(base, 0.96, new) == 0.7
    assert np.mean(new >= recall_matched_threshold(base, 0.96, new)) == 0.5
    assert recall_matched_threshold(base, 0.999, new) > 0.8  # the base finds none: nor does the new one
    assert recall_matched_threshold(base, 0.5, new) == 0.5


def test_refresh_needs_the_base_models_weights(
    trained_tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "m.onnx"
    shutil.copy(trained_tiny_model.model, base)
    shutil.copy(trained_tiny_model.model.with_suffix(".json"), base.with_suffix(".json"))
    assert main(["refresh", str(trained_tiny_model.photos), "--base", str(base)]) == 1
    assert "has no trainable weights" in capsys.readouterr().err
