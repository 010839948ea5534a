"""Checkpoint files: the description read alone, and files that are not checkpoints refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainer import checkpoint
from trainer.checkpoint import CheckpointError, TrainState


def test_read_state_gives_the_description_without_the_arrays(tmp_path: Path) -> None:
    state = TrainState({"image_size": 32}, {"epochs": 3}, epoch=2, step=5, extra={"command": ["fit"]})
    path = checkpoint.save_arrays(tmp_path / "last.npz", state, {"branch/00000": np.ones((4, 4), np.float32)})
    alone = checkpoint.read_state(path)
    whole, arrays = checkpoint.read(path)
    assert alone == whole and alone.epoch == 2 and alone.extra == {"command": ["fit"]}
    assert list(arrays) == ["branch/00000"]


def test_read_state_refuses_other_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.npz"
    np.savez(plain, weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="no description"):
        checkpoint.read_state(plain)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(CheckpointError, match="cannot read"):
        checkpoint.read_state(broken)
