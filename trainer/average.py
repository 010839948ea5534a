"""Average a run's epoch checkpoints into one set of weights (stochastic weight averaging).

Late in a fine-tune, each epoch's weights sit at a different spot of the same low basin; their mean
lies nearer its middle than any one of them and generalises better (Izmailov et al., 2018). For
the shipped network, the mean of the last eight epochs of a hardest-negative fine-tune found more
copies on the validation split than its last epoch did, at the same precision (README, *The model,
and how it compares*). Only networks of one run are averaged: they share a start, so their weights
are aligned; weights of unrelated runs would average to noise.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from trainer import checkpoint
from trainer.checkpoint import CheckpointError, TrainState


def parse_epochs(text: str) -> list[int]:
    """'9-16' or '9,11,13' (or both, '1-3,8') → sorted epoch numbers, each ≥ 1."""
    epochs: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise ValueError(f"Invalid value for `epochs`: expected e.g. 9-16 or 9,12,16, received: {text!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise ValueError(
                f"Invalid value for `epochs`: expected ranges from 1 upwards, received: {text!r}"
            )
        epochs.update(range(first, last + 1))
    return sorted(epochs)


def epoch_files(run: Path, epochs: list[int]) -> list[Path]:
    """The run's `epoch-NNN.npz` files for `epochs`; a missing one is an error, not skipped."""
    folder = checkpoint.checkpoint_dir(run)
    files = [folder / f"epoch-{epoch:03d}.npz" for epoch in epochs]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise CheckpointError(f"{folder} lacks {', '.join(missing)}; has the run reached those epochs?")
    return files


def _same_run(reference: TrainState, other: TrainState, path: Path) -> None:
    if other.branch != reference.branch:
        raise CheckpointError(f"{path} holds another network than the run's last checkpoint")
    if other.extra.get("command") != reference.extra.get("command"):
        raise CheckpointError(f"{path} comes from another run (its fit command differs)")


def average_run(run: Path, epochs: list[int], out: Path, argv: list[str] | None = None) -> Path:
    """Write the mean of `run`'s weights after each of `epochs` to `out` (no optimizer state).

    The description is the run's last checkpoint's (its commands, corpus and training time), with
    the averaging recorded so that the exported card says how the weights came about.
    """
    out = Path(out)
    if not epochs:
        raise ValueError("Invalid value for `epochs`: expected at least one epoch, received: []")
    if out.suffix.lower() != ".npz":
        raise ValueError(f"Invalid value for `out`: expected a path ending in .npz, received: {out}")
    reference = checkpoint.read_state(checkpoint.resolve(run))
    # One network (checked per file) has one set of variables, so the files' keys and shapes agree.
    total: dict[str, np.ndarray] = {}
    for path in epoch_files(run, epochs):
        state, arrays = checkpoint.read(path)
        _same_run(reference, state, path)
        for key, value in arrays.items():
            if key.startswith("branch/"):
                total[key] = total.get(key, 0.0) + value.astype(np.float64)
    dtype = {key: value.dtype for key, value in arrays.items()}
    mean = {key: (value / len(epochs)).astype(dtype[key]) for key, value in total.items()}
    extra = {
        **reference.extra,
        "averaged": {"epochs": epochs, "command": list(argv or [])},
    }
    state = replace(reference, epoch=max(epochs), step=0, history=[], extra=extra)
    return checkpoint.save_arrays(out, state, mean)
