"""Checkpoints as one `.npz` file: branch weights, optimizer state and a JSON description.

Plain numpy rather than `.keras` or `.h5`: the same file is written and read by the TensorFlow and
the JAX backends, needs no h5py, and holds what a resume needs (optimizer moments, the epoch and
the step inside it). Files are written to a temporary name and renamed, so an interrupted save
never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from trainer.model import BranchConfig, build_branch

CHECKPOINT_DIR = "checkpoints"
LAST = "last.npz"
FORMAT = "dupfinder-checkpoint"


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable or does not fit the model; the message says which."""


@dataclass
class TrainState:
    """Where training stands: what to rebuild and where to continue."""

    branch: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)  # the fit options, for resume and the card
    epoch: int = 0  # epochs fully done
    step: int = 0  # steps done inside `epoch` (a mid-epoch checkpoint)
    history: list[dict[str, float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # data description, calibration, timing

    @property
    def branch_config(self) -> BranchConfig:
        return BranchConfig.from_dict(self.branch)


def checkpoint_dir(out: Path) -> Path:
    return Path(out) / CHECKPOINT_DIR


def resolve(path: Path) -> Path:
    """A checkpoint file from a file, a run's output folder, or its checkpoints folder."""
    path = Path(path)
    for candidate in (path, path / LAST, checkpoint_dir(path) / LAST):
        if candidate.is_file():
            return candidate
    raise CheckpointError(
        f"no checkpoint at {path} (looked for {path}, {path / LAST} and {checkpoint_dir(path) / LAST})"
    )


def _arrays(prefix: str, variables: Sequence[Any]) -> dict[str, np.ndarray]:
    return {f"{prefix}/{index:05d}": np.asarray(v.numpy()) for index, v in enumerate(variables)}


def save(path: Path, state: TrainState, branch: keras.Model, optimizer: Any | None = None) -> Path:
    """Write atomically; `optimizer` (built) is included for resuming, left out for fine-tuning files."""
    arrays = _arrays("branch", branch.weights)
    if optimizer is not None and optimizer.built:
        arrays |= _arrays("optimizer", optimizer.variables)
    return save_arrays(path, state, arrays)


def save_arrays(path: Path, state: TrainState, arrays: dict[str, np.ndarray]) -> Path:
    """Write `arrays` (keys `branch/NNNNN`, optionally `optimizer/NNNNN`) and `state`, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": 1, "state": state.__dict__, "backend": keras.backend.backend()}
    stored: dict[str, Any] = {"__meta__": np.array(json.dumps(meta, default=str)), **arrays}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        np.savez(handle, **stored)
    os.replace(temporary, path)
    return path


def read(path: Path) -> tuple[TrainState, dict[str, np.ndarray]]:
    """The state and the arrays of a checkpoint file."""
    return _load(path, arrays=True)


def read_state(path: Path) -> TrainState:
    """The state alone: a resume, a refresh or an average needs the description, not the weights
    and optimizer moments (tens of MB) beside it; the archive's other members are not read."""
    return _load(path, arrays=False)[0]


def _load(path: Path, arrays: bool) -> tuple[TrainState, dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = data.files if arrays else [key for key in data.files if key == "__meta__"]
            loaded = {key: data[key] for key in keys}
    except (OSError, ValueError, EOFError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error
    try:
        meta = json.loads(str(loaded.pop("__meta__")))
    except (KeyError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not a dupfinder checkpoint (no description inside)") from error
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dupfinder checkpoint (format {meta.get('format')!r})")
    return TrainState(**meta["state"]), loaded


def _assign(prefix: str, variables: Sequence[Any], arrays: dict[str, np.ndarray], source: Path) -> None:
    stored = sorted(key for key in arrays if key.startswith(prefix + "/"))
    if len(stored) != len(variables):
        raise CheckpointError(
            f"{source}: {len(stored)} stored {prefix} variables but the model has "
            f"{len(variables)}; was it made with other options?"
        )
    for key, variable in zip(stored, variables):
        if tuple(arrays[key].shape) != tuple(variable.shape):
            raise CheckpointError(
                f"{source}: {prefix} variable {variable.path} has shape {variable.shape} "
                f"but the checkpoint holds {arrays[key].shape}"
            )
        variable.assign(arrays[key])


def load_branch(path: Path) -> tuple[keras.Model, TrainState]:
    """Rebuild the branch described in a checkpoint (or exported weights file) and load its weights."""
    state, arrays = read(path)
    # The stored weights replace any pretrained ones, so the original weights file is not needed.
    branch = build_branch(replace(state.branch_config, backbone_weights=None))
    _assign("branch", branch.weights, arrays, path)
    return branch, state


def restore_optimizer(path: Path, optimizer: Any, trainable: Sequence[Any]) -> bool:
    """Load the optimizer's moments and step count; False when the file holds none."""
    _, arrays = read(path)
    if not any(key.startswith("optimizer/") for key in arrays):
        return False
    if not optimizer.built:
        optimizer.build(trainable)
    _assign("optimizer", optimizer.variables, arrays, path)
    return True
