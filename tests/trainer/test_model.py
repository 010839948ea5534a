"""The branch, the siamese model's training step, and the ONNX converter's parity with Keras."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from trainer.model import (
    GROWN_BLOCK_SCALE,
    BranchConfig,
    GeMPooling2D,
    SiameseModel,
    build_branch,
    grow_into,
)
from trainer.onnx_graph import UnsupportedLayer, branch_to_onnx

SMALL = BranchConfig(image_size=48, width=0.5, blocks=3, embedding_dim=16)


def _randomise_norms(model: keras.Model, seed: int = 0) -> None:
    """Freshly built norms are identities; random ones make the parity check mean something."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.path.endswith(("gamma", "beta", "moving_mean")):
            variable.assign(rng.uniform(-0.5, 0.5, variable.shape) + ("gamma" in variable.path))
        elif variable.path.endswith("moving_variance"):
            variable.assign(rng.uniform(0.5, 1.5, variable.shape))


def _onnx_vs_keras(branch: keras.Model, tmp_path: Path, batch: int) -> float:
    path = tmp_path / "m.onnx"
    onnx.save(branch_to_onnx(branch), path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    size = branch.inputs[0].shape[1]
    pixels = np.random.default_rng(batch).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    expected = keras.ops.convert_to_numpy(branch(pixels.astype(np.float32)))
    return float(np.max(np.abs(session.run(None, {"pixels": pixels})[0] - expected)))


def test_branch_embeds_to_unit_vectors() -> None:
    branch = build_branch(SMALL)
    out = keras.ops.convert_to_numpy(branch(np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 3))))
    assert out.shape == (3, 16)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in branch.layers)


def test_gem_pooling_is_between_average_and_max() -> None:
    x = np.random.default_rng(1).uniform(0.1, 2.0, (2, 4, 4, 3)).astype(np.float32)
    pooled = keras.ops.convert_to_numpy(GeMPooling2D(p=3.0)(x))
    assert np.all(pooled >= x.mean(axis=(1, 2)) - 1e-6) and np.all(pooled <= x.max(axis=(1, 2)) + 1e-6)


def test_branch_options_are_validated() -> None:
    with pytest.raises(ValueError, match="Invalid value for `image_size`: expected >= 32"):
        BranchConfig(image_size=16)
    with pytest.raises(ValueError, match="`activation`"):
        BranchConfig(activation="gelu")
    with pytest.raises(ValueError, match="`input_norm`: expected one of"):
        BranchConfig(input_norm="imagenet")
    with pytest.raises(ValueError, match=r"`extra_blocks`: expected 0\.\.16"):
        BranchConfig(extra_blocks=17)
    with pytest.raises(ValueError, match="`extra_blocks`: only the compact backbone"):
        BranchConfig(extra_blocks=1, backbone="mobilenet_v2")
    with pytest.raises(ValueError, match=r"`centre_view`: expected in \[0, 1\)"):
        BranchConfig(centre_view=1.0)
    with pytest.raises(ValueError, match="`centre_size`: expected 0 or >= 32"):
        BranchConfig(centre_view=0.5, centre_size=16)
    with pytest.raises(ValueError, match="`centre_view`: not together with mirror_invariant"):
        BranchConfig(centre_view=0.5, mirror_invariant=True)


def test_a_training_step_reports_the_epoch_metrics() -> None:
    model = SiameseModel(build_branch(SMALL), margin=0.3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    views = np.random.default_rng(2).integers(0, 256, (8, 48, 48, 3), dtype=np.uint8)
    logs = model.train_on_batch(views, np.repeat(np.arange(4), 2).astype(np.int32), return_dict=True)
    assert {"loss", "active", "pos_dist", "neg_dist"} <= set(logs)
    model.set_modes("infonce", "hard")
    assert int(keras.ops.convert_to_numpy(model.loss_mode)) == 2


@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_matches_keras_at_any_batch_size(tmp_path: Path, batch: int) -> None:
    branch = build_branch(SMALL)
    _randomise_norms(branch)
    assert _onnx_vs_keras(branch, tmp_path, batch) < 1e-4


@pytest.mark.parametrize("activation", ["relu", "relu6", "swish"])
def test_onnx_converts_every_activation(tmp_path: Path, activation: str) -> None:
    branch = build_branch(
        BranchConfig(image_size=32, width=0.5, blocks=2, embedding_dim=8, activation=activation)
    )
    _randomise_norms(branch)
    assert _onnx_vs_keras(branch, tmp_path, 2) < 1e-4


def test_onnx_converts_a_keras_applications_backbone(tmp_path: Path) -> None:
    branch = build_branch(BranchConfig(image_size=32, width=0.35, embedding_dim=8, backbone="mobilenet_v2"))
    _randomise_norms(branch)
    assert _onnx_vs_keras(branch, tmp_path, 2) < 1e-4


def _embed(branch: keras.Model, pixels: np.ndarray) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(branch(pixels.astype(np.float32))))


def test_standardised_input_ignores_brightness_and_contrast_but_not_colour() -> None:
    branch = build_branch(replace(SMALL, input_norm="standardise"))
    _randomise_norms(branch)
    pixels = np.random.default_rng(3).uniform(40, 200, (2, 48, 48, 3))
    brighter = pixels * 1.2  # still under 255: no clipping
    flatter = pixels.mean(axis=(1, 2, 3), keepdims=True) + 0.7 * (
        pixels - pixels.mean(axis=(1, 2, 3), keepdims=True)
    )
    recoloured = pixels[..., ::-1]
    original = _embed(branch, pixels)
    assert np.max(np.abs(_embed(branch, brighter) - original)) < 1e-4
    assert np.max(np.abs(_embed(branch, flatter) - original)) < 1e-4
    assert np.max(np.abs(_embed(branch, recoloured) - original)) > 1e-2
    flat = _embed(branch, np.full((1, 48, 48, 3), 128.0))
    assert np.all(np.isfinite(flat))


def test_the_fixed_input_sees_brightness() -> None:
    branch = build_branch(SMALL)
    _randomise_norms(branch)
    pixels = np.random.default_rng(3).uniform(40, 200, (2, 48, 48, 3))
    assert np.max(np.abs(_embed(branch, pixels * 1.2) - _embed(branch, pixels))) > 1e-3


def test_a_mirror_invariant_branch_gives_a_mirrored_picture_the_same_vector() -> None:
    branch = build_branch(replace(SMALL, mirror_invariant=True))
    _randomise_norms(branch)
    pixels = np.random.default_rng(4).uniform(0, 255, (3, 48, 48, 3))
    original, mirrored = _embed(branch, pixels), _embed(branch, pixels[:, :, ::-1])
    assert original.shape == (3, 16)
    assert np.max(np.abs(original - mirrored)) < 1e-5
    assert np.max(np.abs(original[0] - original[1])) > 1e-2  # the pictures stay apart
    plain = build_branch(SMALL)
    for target, value in zip(plain.weights, branch.weights, strict=True):
        target.assign(value)
    assert np.max(np.abs(_embed(plain, pixels) - _embed(plain, pixels[:, :, ::-1]))) > 1e-3


def test_a_centre_view_branch_adds_the_centred_box_to_the_whole_picture_with_the_same_weights() -> None:
    # 48 px pictures, a box of 4/9 of the area: 32 px at offset 8, embedded at its own size, so the
    # reference needs no resizing: the single view built for 32 px, with the same weights.
    centred = build_branch(replace(SMALL, centre_view=4 / 9, centre_size=32))
    _randomise_norms(centred)
    whole, box = build_branch(SMALL), build_branch(replace(SMALL, image_size=32))
    assert len(centred.weights) == len(whole.weights)
    for plain in (whole, box):
        for target, value in zip(plain.weights, centred.weights, strict=True):
            target.assign(value)
    pixels = np.random.default_rng(5).uniform(0, 255, (3, 48, 48, 3)).astype(np.float32)
    summed = _embed(whole, pixels) + _embed(box, pixels[:, 8:40, 8:40])
    expected = summed / np.linalg.norm(summed, axis=1, keepdims=True)
    assert np.max(np.abs(_embed(centred, pixels) - expected)) < 1e-5
    assert np.max(np.abs(_embed(centred, pixels) - _embed(whole, pixels))) > 1e-3


def test_the_onnx_graph_keeps_one_copy_of_weights_that_two_views_share() -> None:
    def weight_bytes(config: BranchConfig) -> int:
        return sum(t.ByteSize() for t in branch_to_onnx(build_branch(config)).graph.initializer)

    plain = weight_bytes(SMALL)
    assert plain <= weight_bytes(replace(SMALL, centre_view=0.5, centre_size=64)) < 1.05 * plain


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize(
    "changes",
    [
        {"input_norm": "standardise"},
        {"mirror_invariant": True},
        {"centre_view": 0.5, "centre_size": 64},  # the box (34 px) is resized up
        {"centre_view": 0.3, "centre_size": 0},  # to the input size, 48 px
    ],
)
def test_onnx_converts_the_input_norm_and_view_layers(
    tmp_path: Path, batch: int, changes: dict[str, object]
) -> None:
    branch = build_branch(replace(SMALL, **changes))  # type: ignore[arg-type]
    _randomise_norms(branch)
    assert _onnx_vs_keras(branch, tmp_path, batch) < 1e-4


def test_unknown_layers_stop_the_export_by_name() -> None:
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Flatten(name="odd_one")(keras.layers.Conv2DTranspose(2, 3, name="up")(inputs))
    with pytest.raises(UnsupportedLayer, match="'up' of type Conv2DTranspose"):
        branch_to_onnx(keras.Model(inputs, outputs))


@pytest.mark.parametrize("extra_blocks", [0, 4])
def test_default_branch_meets_the_size_budget(extra_blocks: int) -> None:
    branch = build_branch(BranchConfig(extra_blocks=extra_blocks))
    assert branch.count_params() * 4 < 20e6  # float32 weights: the ONNX file is about this size


def test_extra_blocks_grow_a_trained_branch_without_changing_what_it_computes(tmp_path: Path) -> None:
    small = build_branch(SMALL)
    _randomise_norms(small)
    grown = build_branch(replace(SMALL, extra_blocks=2))
    assert len(grown.weights) > len(small.weights)
    assert grow_into(grown, small, scale=0.0) == ["block3", "block4"]  # after SMALL's blocks 0-2
    pixels = np.random.default_rng(4).integers(0, 256, (3, 48, 48, 3)).astype(np.uint8)
    np.testing.assert_allclose(_embed(grown, pixels), _embed(small, pixels), atol=1e-6)  # the identity
    grow_into(grown, small)  # the default: near the identity, but every new block already acts
    assert np.allclose(
        keras.ops.convert_to_numpy(grown.get_layer("block4_project_gn").gamma), GROWN_BLOCK_SCALE
    )
    nearly = np.sum(_embed(grown, pixels) * _embed(small, pixels), axis=1)
    assert np.all(nearly > 0.95) and np.all(nearly < 1 - 1e-6)
    _randomise_norms(grown, seed=5)  # the new blocks are live layers, and they export
    assert np.abs(_embed(grown, pixels) - _embed(small, pixels)).max() > 1e-3
    assert _onnx_vs_keras(grown, tmp_path, 2) < 1e-4


def test_growing_refuses_a_branch_that_differs_in_more_than_blocks() -> None:
    small = build_branch(SMALL)
    with pytest.raises(ValueError, match="layer stem has weights of shape"):
        grow_into(build_branch(replace(SMALL, width=1.0, extra_blocks=1)), small)
    with pytest.raises(ValueError, match="the branch has no layers"):
        grow_into(build_branch(replace(SMALL, blocks=2)), small)
