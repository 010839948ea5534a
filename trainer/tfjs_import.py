"""Pretrained backbone weights from a TensorFlow.js layers model, for `--backbone-weights`.

No ImageNet weights can be downloaded on the project's machines, but package registries can be
reached, and some npm packages ship a Keras network converted to TensorFlow.js: a `model.json`
(topology and a weights manifest) and binary shards, sometimes wrapped as JavaScript modules that
export the JSON as an object literal and the shard as a base64 string. This module reads either
form, dequantises the weights (TensorFlow.js stores uint8/uint16 as `min + scale * q`) and writes
them into the matching `keras.applications` network without its top, by layer and variable name.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_QUANTISED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
_PLAIN = {"float32": np.float32, "int32": np.int32}
# Variable names TensorFlow.js keeps from Keras 2 that Keras 3 spells otherwise.
_VARIABLE_ALIASES = {"depthwise_kernel": "kernel"}


class TfjsFormatError(ValueError):
    """The files are not a TensorFlow.js layers model this importer understands."""


@dataclass(frozen=True)
class WeightSpec:
    """One entry of the weights manifest, in the order its bytes lie in the shards."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    quantised_as: str | None = None
    minimum: float = 0.0
    scale: float = 1.0

    @property
    def count(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def stored_bytes(self) -> int:
        stored = _QUANTISED[self.quantised_as] if self.quantised_as else _PLAIN[self.dtype]
        return self.count * np.dtype(stored).itemsize


def _js_literal_to_json(text: str) -> str:
    """A minified object literal (bare keys, `!0`, `.5`) as JSON; strings hold no such patterns here."""
    text = re.sub(r"([{,])\s*([A-Za-z_$][\w$]*)\s*:", r'\1"\2":', text)
    text = text.replace("!0", "true").replace("!1", "false")
    return re.sub(r"(?<=[:\[,\-])\.(\d)", r"0.\1", text)


def _balanced(text: str, start: int) -> str:
    """The bracketed value that opens at `start` (`[` or `{`), skipping brackets inside strings."""
    opening = text[start]
    closing = {"[": "]", "{": "}"}[opening]
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            else:
                in_string = char != '"'
        elif char == '"':
            in_string = True
        elif char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    raise TfjsFormatError("the weights manifest is not closed")


def parse_manifest(text: str) -> list[dict[str, Any]]:
    """The weights manifest's groups (`paths`, `weights`) of a `model.json`, or of a JavaScript
    module wrapping one."""
    try:
        manifest = json.loads(text)["weightsManifest"]
    except (json.JSONDecodeError, KeyError, TypeError):
        match = re.search(r"[\"']?weightsManifest[\"']?\s*:\s*\[", text)
        if match is None:
            raise TfjsFormatError("no weightsManifest found") from None
        literal = _balanced(text, match.end() - 1)
        try:
            manifest = json.loads(_js_literal_to_json(literal))
        except json.JSONDecodeError as error:
            raise TfjsFormatError(f"the weights manifest cannot be read: {error}") from None
    return list(manifest)


def read_manifest(manifest: list[dict[str, Any]]) -> list[WeightSpec]:
    """The weight entries of every group, in the order their bytes lie in the shards."""
    specs: list[WeightSpec] = []
    for group in manifest:
        for entry in group["weights"]:
            quantisation = entry.get("quantization") or {}
            if quantisation and quantisation.get("dtype") not in _QUANTISED:
                raise TfjsFormatError(f"{entry['name']}: quantisation {quantisation.get('dtype')!r}")
            if not quantisation and entry["dtype"] not in _PLAIN:
                raise TfjsFormatError(f"{entry['name']}: dtype {entry['dtype']!r} is not supported")
            specs.append(
                WeightSpec(
                    name=entry["name"],
                    shape=tuple(int(side) for side in entry["shape"]),
                    dtype=entry["dtype"],
                    quantised_as=quantisation.get("dtype"),
                    minimum=float(quantisation.get("min", 0.0)),
                    scale=float(quantisation.get("scale", 1.0)),
                )
            )
    return specs


def shard_paths(manifest: list[dict[str, Any]]) -> list[str]:
    """The shard file names of every group, in order."""
    names = [str(name) for group in manifest for name in group.get("paths", [])]
    if not names:
        raise TfjsFormatError("the manifest names no shards")
    return names


def read_shard(path: Path) -> bytes:
    """A shard's bytes: the file itself, or the base64 string a JavaScript wrapper exports."""
    data = path.read_bytes()
    if not path.name.endswith(".js"):
        return data
    match = re.search(rb"exports\s*=\s*\"([A-Za-z0-9+/=]+)\"", data)
    if match is None:
        raise TfjsFormatError(f"{path.name}: no base64 shard inside")
    return base64.b64decode(match.group(1))


def decode_weights(specs: list[WeightSpec], data: bytes) -> dict[str, np.ndarray]:
    """Every weight as float32 (quantised ones dequantised), by its manifest name."""
    needed = sum(spec.stored_bytes for spec in specs)
    if needed != len(data):
        raise TfjsFormatError(f"the manifest needs {needed} bytes, the shards hold {len(data)}")
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for spec in specs:
        chunk = data[offset : offset + spec.stored_bytes]
        offset += spec.stored_bytes
        if spec.quantised_as:
            stored = np.frombuffer(chunk, dtype=_QUANTISED[spec.quantised_as]).astype(np.float32)
            values = stored if spec.quantised_as == "float16" else spec.minimum + spec.scale * stored
        else:
            values = np.frombuffer(chunk, dtype=_PLAIN[spec.dtype]).astype(np.float32)
        weights[spec.name] = values.reshape(spec.shape)
    return weights


def load_layers_model(model_file: Path) -> dict[str, np.ndarray]:
    """Read `model.json` (or its `.js` wrapper) and the shards beside it."""
    manifest = parse_manifest(model_file.read_text(encoding="utf-8"))
    specs = read_manifest(manifest)
    shards = []
    for name in shard_paths(manifest):
        candidates = [
            model_file.parent / name,
            model_file.parent / f"{name}.min.js",
            model_file.parent / f"{name}.js",
        ]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise TfjsFormatError(f"shard {name} not found beside {model_file.name}")
        shards.append(read_shard(found))
    return decode_weights(specs, b"".join(shards))


def assign_by_name(model: Any, weights: dict[str, np.ndarray]) -> list[str]:
    """Set every variable of `model` from `weights` (`layer/variable`); returns the names left unused.

    Raises when a variable of the model has no weight or a weight of another shape, so a backbone is
    never half-loaded.
    """
    by_path: dict[str, np.ndarray] = {}
    for name, value in weights.items():
        layer, _, variable = name.rpartition("/")
        by_path[f"{layer}/{_VARIABLE_ALIASES.get(variable, variable)}"] = value
    pairs: list[tuple[Any, np.ndarray]] = []
    for variable in model.weights:
        found = by_path.get(variable.path)
        if found is None:
            raise TfjsFormatError(f"no weight for {variable.path}")
        if tuple(found.shape) != tuple(variable.shape):
            raise TfjsFormatError(f"{variable.path}: shape {found.shape} against {tuple(variable.shape)}")
        pairs.append((variable, found))
    for variable, found in pairs:
        variable.assign(found)
    used = {variable.path for variable, _ in pairs}
    return sorted(set(by_path) - used)


def write_backbone_weights(model_file: Path, out: Path, alpha: float = 1.0) -> list[str]:
    """Write a no-top MobileNetV2 `.weights.h5` from a TensorFlow.js MobileNetV2; returns unused names."""
    import keras

    if not out.name.endswith(".weights.h5"):
        raise TfjsFormatError("the output must end in .weights.h5 (what keras.applications loads)")
    weights = load_layers_model(model_file)
    backbone = keras.applications.MobileNetV2(
        input_shape=(None, None, 3), include_top=False, weights=None, alpha=alpha
    )
    unused = assign_by_name(backbone, weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    backbone.save_weights(str(out))
    return unused
