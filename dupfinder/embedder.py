"""The one owner of the ONNX inference session.

Picks execution providers in order of preference (CUDA, then CPU) from those this onnxruntime
build offers, takes overrides for tests, and logs every choice. Model facts come from the card.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Literal

import numpy as np

from dupfinder.modelcard import ModelCard, load_card

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
_PREFERENCE = ("CUDAExecutionProvider", "CPUExecutionProvider")
# Pictures per inference call: a scan's batch with second looks (up to seven inputs per picture)
# runs about 15% slower on a CPU as one call of 224 than as calls of 64 (cache-sized work).
MAX_RUN = 64


class ModelError(Exception):
    """The model cannot be loaded or run; the message says why and what to do."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def choose_providers(available: list[str], device: Device) -> list[str]:
    """Providers to ask for, best first. `cuda` insists on CUDA; `cpu` never uses it."""
    if device not in DEVICES:
        raise ValueError(f"Invalid value for `device`: expected one of {DEVICES}, received: {device!r}")
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelError(
                "CUDA was asked for but this onnxruntime has no CUDA provider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use --device cpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [name for name in _PREFERENCE if name in available] or ["CPUExecutionProvider"]


class Embedder:
    """Turns batches of uint8 NHWC pictures into L2-normalised float32 embeddings."""

    def __init__(
        self, model_path: Path, device: Device = "auto", threads: int = 0, providers: list[str] | None = None
    ) -> None:
        import onnxruntime as ort  # imported here so `--help` and the GUI start fast

        self.model_path = Path(model_path)
        self.card: ModelCard = load_card(self.model_path)
        self.sha256 = file_sha256(self.model_path)
        available = ort.get_available_providers()
        wanted = providers or choose_providers(available, device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # With `auto`, a GPU build on a machine without CUDA libraries falls back to the CPU; its
        # loader error is expected there, so it is silenced and the choice logged below instead.
        ort.set_default_logger_severity(4 if device == "auto" else 3)
        try:
            self._session = ort.InferenceSession(str(self.model_path), options, providers=wanted)
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load model {self.model_path}: {error}") from error
        finally:
            ort.set_default_logger_severity(3)
        self.providers: list[str] = self._session.get_providers()
        self.device = "cuda" if self.providers[0] == "CUDAExecutionProvider" else "cpu"
        if device == "cuda" and self.device != "cuda":
            raise ModelError(
                "CUDA was asked for but could not be started (missing CUDA or cuDNN "
                "libraries?); use --device cpu or install onnxruntime-gpu[cuda,cudnn]"
            )
        self._input = self._session.get_inputs()[0].name
        self._check_signature()
        log.info(
            "model %s on %s (providers asked %s, got %s)", self.card.name, self.device, wanted, self.providers
        )

    @property
    def cache_key(self) -> str:
        """What an embedding depends on: the weights and how pictures are resized for them."""
        return f"{self.sha256}:{self.card.resize}"

    def _check_signature(self) -> None:
        shape = self._session.get_inputs()[0].shape
        size = self.card.input_size
        if len(shape) != 4 or shape[1:] != [size, size, 3]:
            raise ModelError(f"model input shape {shape} does not match its card (NHWC {size}×{size}×3)")
        out = self._session.get_outputs()[0].shape
        if len(out) != 2 or out[1] != self.card.embedding_dim:
            raise ModelError(
                f"model output shape {out} does not match its card (embedding_dim={self.card.embedding_dim})"
            )

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """(N, size, size, 3) uint8 → (N, D) float32, rows of unit length."""
        if batch.dtype != np.uint8 or batch.ndim != 4:
            raise ValueError(f"expected a uint8 NHWC batch, received {batch.dtype} {batch.shape}")
        runs = [
            self._session.run(None, {self._input: batch[start : start + MAX_RUN]})[0]
            for start in range(0, len(batch), MAX_RUN)
        ]
        output = (np.concatenate(runs) if runs else np.zeros((0, self.card.embedding_dim))).astype(
            np.float32, copy=False
        )
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return output / np.maximum(norms, 1e-12)  # the graph normalises; this guards old models
