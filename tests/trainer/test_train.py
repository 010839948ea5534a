"""`fit`: checkpoints, resume (also from inside an epoch, after Ctrl-C), and every data mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.imagegen import save, synthetic_photo
from tests.trainer.conftest import TINY, make_photos
from trainer import checkpoint
from trainer.model import BranchConfig
from trainer.train import CheckpointCallback, FitOptions, fit


def _options(data: list[Path], out: Path, **overrides: object) -> FitOptions:
    settings = {"epochs": 1, "batch_size": 4, "workers": 0, "val_split": 0.0, **TINY, **overrides}
    return FitOptions(data=[str(d) for d in data], out=str(out), **settings)  # type: ignore[arg-type]


def test_fit_checkpoints_each_epoch_and_resumes_with_the_optimizer(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    fit(_options([photos], out, epochs=1))
    state, arrays = checkpoint.read(checkpoint.resolve(out))
    assert state.epoch == 1 and state.step == 0 and len(state.history) == 1
    assert any(key.startswith("optimizer/") for key in arrays)
    assert (out / "checkpoints" / "epoch-001.npz").is_file() and (out / "history.csv").is_file()
    fit(_options([photos], out, epochs=2), resume=True)
    resumed, arrays = checkpoint.read(checkpoint.resolve(out))
    assert resumed.epoch == 2 and len(resumed.history) == 2
    assert [r["epoch"] for r in resumed.extra["resumes"]] == [1]  # the card can say how it resumed
    steps_per_epoch = 12 // 4
    iterations = next(v for k, v in sorted(arrays.items()) if k.startswith("optimizer/"))
    assert int(iterations) == 2 * steps_per_epoch  # the optimizer's step count carried over


@pytest.mark.parametrize("steps", [5, 2])
def test_steps_per_epoch_are_run_whether_more_or_fewer_than_the_pictures_fill(
    photos: Path, tmp_path: Path, steps: int
) -> None:
    # 12 pictures fill 3 batches of 4. More steps go round the pictures again with new views (Keras
    # would otherwise end each epoch when the 3 batches run out); fewer end the epoch early.
    out = tmp_path / "run"
    fit(_options([photos], out, epochs=2, steps_per_epoch=steps))
    _, arrays = checkpoint.read(checkpoint.resolve(out))
    iterations = next(v for k, v in sorted(arrays.items()) if k.startswith("optimizer/"))
    assert int(iterations) == 2 * steps


def test_ctrl_c_leaves_a_checkpoint_inside_the_epoch_and_resume_finishes_it(
    photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    original = CheckpointCallback.on_train_batch_end

    def interrupt_after_second(self: CheckpointCallback, batch: int, logs: object = None) -> None:
        original(self, batch, logs)  # type: ignore[arg-type]
        if self.step == 2:
            raise KeyboardInterrupt  # as Ctrl-C does, in the training loop's thread

    monkeypatch.setattr(CheckpointCallback, "on_train_batch_end", interrupt_after_second)
    with pytest.raises(KeyboardInterrupt):
        fit(_options([photos], out, epochs=2))
    state, _ = checkpoint.read(checkpoint.resolve(out))
    assert (state.epoch, state.step) == (0, 2)
    monkeypatch.setattr(CheckpointCallback, "on_train_batch_end", original)
    fit(_options([photos], out, epochs=2), resume=True)
    final, arrays = checkpoint.read(checkpoint.resolve(out))
    assert (final.epoch, final.step) == (2, 0)
    iterations = next(v for k, v in sorted(arrays.items()) if k.startswith("optimizer/"))
    assert int(iterations) == 6  # 2 before the interruption + 1 to finish epoch 1 + 3 in epoch 2


def test_resume_without_a_checkpoint_says_where_it_looked(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint at"):
        fit(_options([photos], tmp_path / "empty"), resume=True)


def test_classes_and_csv_modes_train(tmp_path: Path) -> None:
    for cls in range(4):
        for seed in range(2):
            save(synthetic_photo(cls * 10 + seed, (96, 72)), tmp_path / "classes" / f"c{cls}" / f"{seed}.png")
    fit(_options([tmp_path / "classes"], tmp_path / "run-classes", mode="classes", loss="contrastive"))
    make_photos(tmp_path / "pics", 6)
    rows = "\n".join(
        f"photo{i:03d}.jpg,photo{i + 1:03d}.jpg,photo{(i + 3) % 6:03d}.jpg" for i in range(0, 6, 2)
    )
    (tmp_path / "pics" / "triplets.csv").write_text(rows + "\n", encoding="utf-8")
    fit(_options([tmp_path / "pics" / "triplets.csv"], tmp_path / "run-csv", batch_size=3, mining="random"))
    for run in ("run-classes", "run-csv"):
        state, _ = checkpoint.read(checkpoint.resolve(tmp_path / run))
        assert state.epoch == 1 and np.isfinite(state.history[0]["loss"])


def test_fit_options_are_validated(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Invalid value for `batch_size`: expected >= 2"):
        _options([photos], tmp_path, batch_size=1)
    with pytest.raises(ValueError, match="Invalid value for `mining`"):
        _options([photos], tmp_path, mining="hardest")


def test_fit_options_rebuild_a_trained_branch_or_say_what_they_cannot() -> None:
    trained = BranchConfig(
        image_size=64, width=0.5, blocks=3, input_norm="standardise", mirror_invariant=True
    )
    assert FitOptions(data=["x"], out="run", **FitOptions.branch_options(trained)).branch_config() == trained
    centred = BranchConfig(centre_view=0.5, centre_size=96)
    assert FitOptions(data=["x"], out="run", **FitOptions.branch_options(centred)).branch_config() == centred
    with pytest.raises(ValueError, match=r"cannot rebuild a branch with \['groups'\]"):
        FitOptions.branch_options(BranchConfig(groups=4))
