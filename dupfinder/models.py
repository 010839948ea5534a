"""Where the app finds its model: an explicit path, $DUPFINDER_MODEL, or the bundled one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "dupfinder-default.onnx"

HOW_TO_GET_A_MODEL = (
    "dupfinder needs an embedding model (an .onnx file with its .json card beside it). "
    "The bundled one lives in resources/models/ of the source tree; pass another with --model "
    "PATH or set DUPFINDER_MODEL, or train one with `dupfinder-train fit` and "
    "`dupfinder-train export` (see the README)."
)


class ModelNotFound(Exception):
    """No model at the places looked at; the message lists them and how to get one."""


def bundled_model_dirs() -> list[Path]:
    """Folders that may hold the shipped model: the source tree, then an installed share dir."""
    package_dir = Path(__file__).resolve().parent
    return [package_dir.parent / "resources" / "models", Path(sys.prefix) / "share" / "dupfinder" / "models"]


def find_model(explicit: Path | str | None = None) -> Path:
    """The model to load, in order: `explicit`, $DUPFINDER_MODEL, the bundled model."""
    if explicit:
        candidates = [Path(explicit).expanduser()]
    elif os.environ.get("DUPFINDER_MODEL"):
        candidates = [Path(os.environ["DUPFINDER_MODEL"]).expanduser()]
    else:
        candidates = [folder / DEFAULT_MODEL_NAME for folder in bundled_model_dirs()]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ModelNotFound(f"no model found (looked at: {looked}). {HOW_TO_GET_A_MODEL}")
