"""`dupfinder-train export`: checkpoint → ONNX model, its JSON card, and its trainable weights.

The export fails unless onnxruntime and Keras agree on a batch of real pictures (decoded with the
engine's own function) to `atol`, at batch sizes 1 and N, so a model that reaches the app computes
what was trained. Beside `MODEL.onnx` go `MODEL.json` (the card the engine reads) and
`MODEL.weights.npz` (the branch's weights and configuration, what `refresh` fine-tunes from).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx

from dupfinder.imaging import DecodeError, load_for_model
from dupfinder.modelcard import ModelCard, card_path_for
from trainer import checkpoint, onnx_graph
from trainer.data import DataError, load_data
from trainer.model import MIN_SPREAD, BranchConfig, build_branch

PARITY_TOLERANCE = 1e-4
UNCALIBRATED_THRESHOLD = 0.9
_PREPROCESSING = {
    "fixed": "uint8 RGB → x/127.5 − 1, inside the graph",
    "standardise": f"uint8 RGB → (x − mean) / (2 · max(spread, {MIN_SPREAD:g})) per picture, "
    "inside the graph",
}


class ExportError(Exception):
    """The model could not be exported or failed its parity check; the message says why."""


@dataclass(frozen=True)
class ExportResult:
    model: Path
    card: Path
    weights: Path
    max_difference: float


def weights_path_for(model_path: Path) -> Path:
    """model.onnx → model.weights.npz, the file `refresh` fine-tunes from."""
    return Path(model_path).with_suffix(".weights.npz")


def parity_batch(sources: list[str], size: int, resize: str, count: int = 16) -> np.ndarray:
    """Up to `count` real pictures from the data folders, decoded as the engine decodes them."""
    try:
        data = load_data([Path(s) for s in sources])
    except DataError as error:
        raise ExportError(
            f"the parity check needs real pictures and found none usable ({error}); pass --parity-images DIR"
        ) from error
    pictures: list[np.ndarray] = []
    for path in data.paths:
        try:
            pictures.append(load_for_model(Path(path), size, resize).pixels)  # type: ignore[arg-type]
        except DecodeError:
            continue
        if len(pictures) == count:
            break
    if len(pictures) < 2:
        raise ExportError("the parity check needs at least 2 decodable pictures; pass --parity-images DIR")
    return np.stack(pictures)


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """Keras in true float32: on recent GPUs both backends use TF32 for float32 matrix work by
    default, about 1e-3 relative error, which is no reference for a parity check."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        with jax.default_matmul_precision("highest"):
            yield
    elif backend == "tensorflow":
        import tensorflow as tf

        enabled = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            yield
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(enabled)
    else:
        yield


def check_parity(branch: keras.Model, model_path: Path, pictures: np.ndarray, atol: float) -> float:
    """Largest |onnxruntime − Keras| over the batch, run whole and one picture alone (dynamic batch)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    with full_precision():
        expected = keras.ops.convert_to_numpy(branch.predict(pictures.astype(np.float32), verbose=0))
    whole = session.run(None, {onnx_graph.INPUT_NAME: pictures})[0]
    single = session.run(None, {onnx_graph.INPUT_NAME: pictures[:1]})[0]
    if whole.shape != expected.shape:
        raise ExportError(f"parity check failed: ONNX output shape {whole.shape}, Keras {expected.shape}")
    difference = max(float(np.max(np.abs(whole - expected))), float(np.max(np.abs(single - expected[:1]))))
    if not difference <= atol:
        raise ExportError(
            f"parity check failed: onnxruntime and Keras differ by {difference:.2e} "
            f"(tolerance {atol:.0e}) on {len(pictures)} pictures; the model was not written"
        )
    return difference


def _averaging(state: checkpoint.TrainState) -> list[str]:
    """The `dupfinder-train average` step, when the weights are a mean of epochs (trainer.average)."""
    averaged = state.extra.get("averaged")
    if not averaged:
        return []
    epochs = averaged["epochs"]
    command = " ".join(map(str, averaged.get("command") or [])) or "dupfinder-train average"
    return [f"{command} (the mean of the weights after epochs {', '.join(map(str, epochs))})"]


def _views(config: BranchConfig) -> str:
    """What the card says of the views a picture is embedded as, beyond the whole picture."""
    if config.mirror_invariant:
        return "; each picture is embedded whole and mirrored, the two vectors averaged"
    if not config.centre_view:
        return ""
    size = config.centre_size or config.image_size
    return (
        f"; each picture is embedded whole and as its centred box of {config.centre_view:.0%} of the "
        f"area at {size}×{size}, the two vectors averaged"
    )


def _card(name: str, state: checkpoint.TrainState, difference: float, weights: Path) -> ModelCard:
    config = state.branch_config
    calibration = state.extra.get("calibration", {})
    threshold = calibration.get("min_similarity")
    provenance: dict[str, Any] = {
        "trainer": "dupfinder-train",
        "backend": state.extra.get("backend", keras.backend.backend()),
        "command": "; then ".join(
            [" ".join(map(str, state.extra.get("command", [])))]
            + [
                f"{' '.join(map(str, r['command']))} (at epoch {r['epoch']}, step {r['step']})"
                for r in state.extra.get("resumes", [])
            ]
            + _averaging(state)
        ),
        "corpus": state.extra.get("data", {}),
        "epochs": state.epoch,
        "training_seconds": round(float(state.extra.get("training_seconds", 0.0)), 1),
        "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "branch": config.to_dict(),
        "options": state.options,
        "parity_max_abs_difference": difference,
        "weights": weights.name,
    }
    evaluation = {"fit_calibration": calibration} if calibration else {}
    if threshold is None:
        evaluation["note"] = "threshold not calibrated; run `dupfinder-train evaluate`"
    return ModelCard(
        name=name,
        input_size=config.image_size,
        embedding_dim=config.embedding_dim,
        default_threshold=float(
            np.clip(threshold if threshold is not None else UNCALIBRATED_THRESHOLD, -1.0, 1.0)
        ),
        resize=config.resize,
        preprocessing=_PREPROCESSING[config.input_norm] + _views(config),
        provenance=provenance,
        evaluation=evaluation,
    )


def export(
    source: Path,
    out: Path,
    parity_images: list[str] | None = None,
    name: str | None = None,
    atol: float = PARITY_TOLERANCE,
    mirror_invariant: bool = False,
    centre_view: float | None = None,
    centre_size: int | None = None,
) -> ExportResult:
    """Export a checkpoint (file or run folder) to `out` (.onnx) with its card and weights.

    `mirror_invariant` exports the same weights in a branch that also embeds each picture's mirror
    image (see `BranchConfig.mirror_invariant`), `centre_view` and `centre_size` one that also
    embeds its centred box (`BranchConfig.centre_view`; 0 turns it off); the card and weights file
    then describe that branch.
    """
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ExportError(f"Invalid value for `out`: expected a path ending in .onnx, received: {out}")
    branch, state = checkpoint.load_branch(checkpoint.resolve(Path(source)))
    changes: dict[str, Any] = {"mirror_invariant": True} if mirror_invariant else {}
    if centre_view is not None:
        changes["centre_view"] = centre_view
    if centre_size is not None:
        changes["centre_size"] = centre_size
    if any(state.branch_config.to_dict()[key] != value for key, value in changes.items()):
        state = replace(state, branch={**state.branch_config.to_dict(), **changes})
        trained, branch = branch, build_branch(state.branch_config)
        for target, value in zip(branch.weights, trained.weights, strict=True):
            target.assign(value)
    config = state.branch_config
    pictures = parity_batch(
        parity_images or list(state.options.get("data", [])), config.image_size, config.resize
    )
    model = onnx_graph.branch_to_onnx(branch, {"dupfinder.branch": config.to_dict()})
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    onnx.save(model, temporary)
    try:
        difference = check_parity(branch, temporary, pictures, atol)
    except Exception:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, out)
    weights = checkpoint.save(weights_path_for(out), replace(state, history=[]), branch)
    card = _card(name or out.stem, state, difference, weights)
    card_path_for(out).write_text(card.to_json(), encoding="utf-8")
    return ExportResult(out, card_path_for(out), weights, difference)
