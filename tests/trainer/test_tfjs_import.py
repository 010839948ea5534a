"""Pretrained backbone weights read from a TensorFlow.js layers model, in both of its shapes."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from trainer.cli import main
from trainer.model import BranchConfig, build_branch
from trainer.tfjs_import import (
    TfjsFormatError,
    assign_by_name,
    decode_weights,
    load_layers_model,
    read_manifest,
    write_backbone_weights,
)

ALPHA = 0.35


def _source_network() -> keras.Model:
    """A no-top MobileNetV2 whose every weight differs from a fresh one's (BatchNorm included)."""
    network = keras.applications.MobileNetV2(
        input_shape=(None, None, 3), include_top=False, weights=None, alpha=ALPHA
    )
    rng = np.random.default_rng(0)
    for variable in network.weights:
        shape = tuple(variable.shape)
        if "moving_variance" in variable.path or "gamma" in variable.path:
            variable.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))
        else:
            variable.assign(rng.normal(0, 0.2, shape).astype("float32"))
    return network


def _tfjs_name(path: str) -> str:
    layer, _, variable = path.rpartition("/")
    # Keras 2 (which TensorFlow.js models come from) named a depthwise kernel `depthwise_kernel`.
    return f"{layer}/depthwise_kernel" if "depthwise" in layer and variable == "kernel" else path


def _export_tfjs(network: keras.Model) -> tuple[list[dict[str, object]], bytes]:
    """The weights manifest and shard bytes TensorFlow.js would write: kernels quantised to uint8,
    the rest as float32, plus a classifier weight the importer must leave out."""
    entries: list[dict[str, object]] = []
    chunks: list[bytes] = []
    values = [(_tfjs_name(v.path), keras.ops.convert_to_numpy(v).astype(np.float32)) for v in network.weights]
    values.append(("dense_1/kernel", np.ones((4, 2), dtype=np.float32)))
    for name, value in values:
        entry: dict[str, object] = {"name": name, "shape": list(value.shape), "dtype": "float32"}
        if name.endswith("kernel"):
            low, high = float(value.min()), float(value.max())
            scale = (high - low) / 255 or 1.0
            entry["quantization"] = {"min": low, "scale": scale, "dtype": "uint8"}
            chunks.append(np.round((value - low) / scale).astype(np.uint8).tobytes())
        else:
            chunks.append(value.tobytes())
        entries.append(entry)
    return entries, b"".join(chunks)


def _minified(value: object) -> str:
    """JSON as a minifier writes a JavaScript literal: bare keys, `!0`, no leading zero."""
    text = json.dumps(value, separators=(",", ":"))
    text = re.sub(r'"([A-Za-z_]\w*)":', r"\1:", text).replace("true", "!0").replace("false", "!1")
    return re.sub(r"(?<=[:\[,\-])0\.(\d)", r".\1", text)


def _write_json_model(folder: Path, entries: list[dict[str, object]], data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "group1-shard1of1.bin").write_bytes(data)
    model = {
        "modelTopology": {"keras_version": "2.2.4"},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": entries}],
    }
    (folder / "model.json").write_text(json.dumps(model))
    return folder / "model.json"


def _write_js_model(folder: Path, entries: list[dict[str, object]], data: bytes) -> Path:
    """The wrapped form an npm package ships: modules exporting a literal and a base64 shard."""
    folder.mkdir(parents=True, exist_ok=True)
    literal = _minified(
        {
            "modelTopology": {"model_config": {"config": {"layers": [{"trainable": False}]}}},
            "weightsManifest": [{"paths": ["group1-shard1of1"], "weights": entries}],
        }
    )
    (folder / "model.min.js").write_text(
        f"!function(e){{}}({{1:[function(e,a,n){{a.exports={literal}}},{{}}]}})"
    )
    shard = base64.b64encode(data).decode()
    (folder / "group1-shard1of1.min.js").write_text(
        f'!function(e){{}}({{1:[function(e,h,n){{h.exports="{shard}"}}]}})'
    )
    return folder / "model.min.js"


@pytest.fixture(scope="module")
def source() -> tuple[keras.Model, list[dict[str, object]], bytes]:
    network = _source_network()
    return (network, *_export_tfjs(network))


def _numpy(variable: object) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable))


def _largest_error(expected: keras.Model, actual: keras.Model) -> float:
    return max(
        float(np.max(np.abs(_numpy(a) - _numpy(b))))
        for a, b in zip(expected.weights, actual.weights, strict=True)
    )


@pytest.mark.parametrize("writer", [_write_json_model, _write_js_model], ids=["model.json", "wrapped"])
def test_weights_round_trip_within_the_quantisation_step(
    tmp_path: Path, source: tuple[keras.Model, list[dict[str, object]], bytes], writer: object
) -> None:
    network, entries, data = source
    model_file = writer(tmp_path / "tfjs", entries, data)  # type: ignore[operator]
    out = tmp_path / "backbone.weights.h5"
    unused = write_backbone_weights(model_file, out, alpha=ALPHA)
    assert unused == ["dense_1/kernel"]
    loaded = keras.applications.MobileNetV2(
        input_shape=(None, None, 3), include_top=False, weights=str(out), alpha=ALPHA
    )
    largest_step = max(
        float(e["quantization"]["scale"])  # type: ignore[index]
        for e in entries
        if "quantization" in e
    )
    assert _largest_error(network, loaded) <= largest_step / 2 + 1e-6
    # Not quantised: BatchNorm statistics come back exactly.
    name = "bn_Conv1/moving_variance"
    assert np.array_equal(
        _numpy(loaded.get_layer("bn_Conv1").moving_variance),
        _numpy(network.get_layer("bn_Conv1").moving_variance),
    ), name


def test_the_cli_writes_weights_a_branch_trains_from(
    tmp_path: Path, source: tuple[keras.Model, list[dict[str, object]], bytes]
) -> None:
    network, entries, data = source
    model_file = _write_js_model(tmp_path / "tfjs", entries, data)
    out = tmp_path / "backbone.weights.h5"
    assert main(["import-backbone", str(model_file), "--out", str(out), "--alpha", str(ALPHA)]) == 0
    branch = build_branch(
        BranchConfig(
            image_size=32, width=ALPHA, embedding_dim=8, backbone="mobilenet_v2", backbone_weights=str(out)
        )
    )
    backbone = next(layer for layer in branch.layers if isinstance(layer, keras.Model))
    assert _largest_error(network, backbone) < 0.05


def test_a_network_is_never_half_loaded(source: tuple[keras.Model, list[dict[str, object]], bytes]) -> None:
    _, entries, data = source
    weights = decode_weights(read_manifest([{"paths": ["shard.bin"], "weights": entries}]), data)
    del weights["Conv1/kernel"]
    fresh = keras.applications.MobileNetV2(
        input_shape=(None, None, 3), include_top=False, weights=None, alpha=ALPHA
    )
    before = _numpy(fresh.get_layer("bn_Conv1").gamma).copy()
    with pytest.raises(TfjsFormatError, match="Conv1/kernel"):
        assign_by_name(fresh, weights)
    # Checked before anything is assigned.
    assert np.array_equal(_numpy(fresh.get_layer("bn_Conv1").gamma), before)


def test_shards_that_do_not_match_the_manifest_are_refused(
    tmp_path: Path, source: tuple[keras.Model, list[dict[str, object]], bytes]
) -> None:
    _, entries, data = source
    model_file = _write_json_model(tmp_path / "tfjs", entries, data[:-3])
    with pytest.raises(TfjsFormatError, match="bytes"):
        load_layers_model(model_file)
    assert main(["import-backbone", str(model_file), "--out", str(tmp_path / "x.weights.h5")]) == 1


def test_files_without_a_manifest_are_refused(tmp_path: Path) -> None:
    model_file = tmp_path / "model.json"
    model_file.write_text('{"modelTopology": {}}')
    with pytest.raises(TfjsFormatError, match="weightsManifest"):
        load_layers_model(model_file)


def test_every_group_of_the_manifest_is_read_with_its_shards(
    tmp_path: Path, source: tuple[keras.Model, list[dict[str, object]], bytes]
) -> None:
    _, entries, data = source
    half = len(entries) // 2
    specs = read_manifest([{"paths": ["a.bin"], "weights": entries}])
    cut = sum(spec.stored_bytes for spec in specs[:half])
    folder = tmp_path / "tfjs"
    folder.mkdir()
    (folder / "a.bin").write_bytes(data[:cut])
    (folder / "b.bin").write_bytes(data[cut:])
    manifest = [
        {"paths": ["a.bin"], "weights": entries[:half]},
        {"paths": ["b.bin"], "weights": entries[half:]},
    ]
    (folder / "model.json").write_text(json.dumps({"weightsManifest": manifest}))
    weights = load_layers_model(folder / "model.json")
    assert len(weights) == len(entries)
    whole = decode_weights(specs, data)
    assert all(np.array_equal(weights[name], whole[name]) for name in whole)
