"""`dupfinder-train average`: the mean of a run's epoch weights, exportable with its provenance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.conftest import TrainedModel
from trainer import checkpoint
from trainer.average import average_run, parse_epochs
from trainer.checkpoint import CheckpointError
from trainer.cli import main


def _branch(path: Path) -> dict[str, np.ndarray]:
    return {k: v for k, v in checkpoint.read(path)[1].items() if k.startswith("branch/")}


def test_parse_epochs_reads_ranges_and_lists() -> None:
    assert parse_epochs("9-12") == [9, 10, 11, 12]
    assert parse_epochs("1-2, 5,2") == [1, 2, 5]
    for bad in ("", "0-3", "4-2", "a", "3-"):
        with pytest.raises(ValueError, match="epochs"):
            parse_epochs(bad)


def test_average_is_the_mean_of_the_epochs_and_keeps_the_runs_description(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    run = trained_tiny_model.run
    out = average_run(run, [2, 3], tmp_path / "avg.npz", ["dupfinder-train", "average", "RUN"])
    second = _branch(checkpoint.checkpoint_dir(run) / "epoch-002.npz")
    third = _branch(checkpoint.checkpoint_dir(run) / "epoch-003.npz")
    averaged = _branch(out)
    assert averaged.keys() == second.keys() and not any(k.startswith("optimizer/") for k in averaged)
    moved = [k for k in second if not np.array_equal(second[k], third[k])]
    assert moved, "training changed no weight between epochs 2 and 3"
    for key in second:
        assert averaged[key].dtype == second[key].dtype
        np.testing.assert_allclose(averaged[key], (second[key] + third[key]) / 2, rtol=1e-6, atol=1e-7)
    state, _ = checkpoint.read(out)
    last, _ = checkpoint.read(checkpoint.resolve(run))
    assert state.branch == last.branch and state.epoch == 3
    assert state.extra["training_seconds"] == last.extra["training_seconds"] > 0
    assert state.extra["averaged"] == {"epochs": [2, 3], "command": ["dupfinder-train", "average", "RUN"]}


def test_average_refuses_missing_epochs_and_other_runs(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    run = trained_tiny_model.run
    with pytest.raises(CheckpointError, match=r"epoch-009\.npz"):
        average_run(run, [2, 9], tmp_path / "avg.npz")
    with pytest.raises(ValueError, match=r"\.npz"):
        average_run(run, [2, 3], tmp_path / "avg.onnx")
    mixed = tmp_path / "mixed"
    shutil.copytree(run, mixed)
    stranger = checkpoint.checkpoint_dir(mixed) / "epoch-002.npz"
    state, arrays = checkpoint.read(stranger)
    state.extra["command"] = ["dupfinder-train", "fit", "OTHER"]
    checkpoint.save_arrays(stranger, state, arrays)
    with pytest.raises(CheckpointError, match="another run"):
        average_run(mixed, [2, 3], tmp_path / "avg.npz")
    assert not (tmp_path / "avg.npz").exists()


def test_averaged_weights_export_with_the_averaging_in_the_card(
    trained_tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    averaged, model = tmp_path / "avg.npz", tmp_path / "avg.onnx"
    assert main(["average", str(trained_tiny_model.run), "--epochs", "2-3", "--out", str(averaged)]) == 0
    assert "averaged 2 epochs" in capsys.readouterr().out
    assert main(["export", str(averaged), "--out", str(model)]) == 0
    command = json.loads(model.with_suffix(".json").read_text())["provenance"]["command"]
    fit_command, averaging = command.split("; then ")
    assert fit_command  # the run's own fit command comes first, as for any export
    assert averaging == (
        f"dupfinder-train average {trained_tiny_model.run} --epochs 2-3 --out {averaged} "
        "(the mean of the weights after epochs 2, 3)"
    )
    assert main(["average", str(trained_tiny_model.run), "--epochs", "2-7", "--out", str(averaged)]) == 1
    assert "lacks epoch-004.npz" in capsys.readouterr().err
