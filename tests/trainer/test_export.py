"""fit → export → parity → the engine loads the model and groups a transformed copy with its original."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest

from dupfinder.cache import EmbeddingCache
from dupfinder.embedder import Embedder
from dupfinder.imaging import load_for_model
from dupfinder.modelcard import card_path_for, load_card
from dupfinder.scan import Scanner, ScanOptions
from tests.imagegen import save, synthetic_photo
from tests.trainer.conftest import TrainedModel
from trainer import augment, checkpoint
from trainer.export import ExportError, export


def test_exported_model_has_card_weights_and_a_dynamic_uint8_input(trained_tiny_model: TrainedModel) -> None:
    model = onnx.load(trained_tiny_model.model)
    graph_input = model.graph.input[0].type.tensor_type
    assert graph_input.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_param or d.dim_value for d in graph_input.shape.dim] == ["batch", 48, 48, 3]
    card = load_card(trained_tiny_model.model)
    assert (card.input_size, card.embedding_dim, card.input_layout) == (48, 32, "NHWC")
    assert card.provenance["parity_max_abs_difference"] < 1e-4
    assert "min_similarity" in card.evaluation["fit_calibration"]
    branch, state = checkpoint.load_branch(trained_tiny_model.model.with_suffix(".weights.npz"))
    assert state.branch_config.image_size == 48 and branch.count_params() > 0


def test_engine_embedder_agrees_with_keras(trained_tiny_model: TrainedModel) -> None:
    branch, _ = checkpoint.load_branch(checkpoint.resolve(trained_tiny_model.run))
    pictures = np.stack(
        [load_for_model(p, 48).pixels for p in sorted(trained_tiny_model.photos.iterdir())[:6]]
    )
    engine = Embedder(trained_tiny_model.model, device="cpu").embed(pictures)
    keras_out = np.asarray(branch.predict(pictures.astype(np.float32), verbose=0))
    assert np.max(np.abs(engine - keras_out)) < 1e-4


def test_engine_groups_a_transformed_copy_with_its_original(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    folder = tmp_path / "scan"
    for seed in range(100, 108):
        save(synthetic_photo(seed, (200, 150)), folder / f"{seed}.jpg", quality=95)
    original = synthetic_photo(100, (200, 150))
    save(augment.reencode(augment.rescale(original, 0.6), "JPEG", 60), folder / "copy-of-100.jpg", quality=90)
    with EmbeddingCache(None) as cache:
        result = Scanner(Embedder(trained_tiny_model.model, device="cpu"), cache).scan(ScanOptions([folder]))
    groups = [{Path(m.image.path).name for m in group.members} for group in result.report.groups]
    assert any({"100.jpg", "copy-of-100.jpg"} <= group for group in groups), groups
    assert not any(len(group) == 9 for group in groups)  # unrelated pictures are not all lumped together


def test_export_can_make_a_trained_model_mirror_invariant(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    result = export(trained_tiny_model.run, tmp_path / "mirror.onnx", mirror_invariant=True)
    card = load_card(result.model)
    assert card.provenance["branch"]["mirror_invariant"] is True
    assert card.provenance["parity_max_abs_difference"] < 1e-4
    _, state = checkpoint.load_branch(result.weights)
    assert state.branch_config.mirror_invariant
    pictures = np.stack(
        [load_for_model(p, 48).pixels for p in sorted(trained_tiny_model.photos.iterdir())[:4]]
    )
    embedder = Embedder(result.model, device="cpu")
    assert np.max(np.abs(embedder.embed(pictures) - embedder.embed(pictures[:, :, ::-1].copy()))) < 1e-5
    plain = Embedder(trained_tiny_model.model, device="cpu").embed(pictures)
    assert np.max(np.abs(plain - embedder.embed(pictures))) > 1e-4  # the same weights, another branch


def test_export_can_give_a_trained_model_a_centre_view(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    result = export(trained_tiny_model.run, tmp_path / "centre.onnx", centre_view=0.5, centre_size=32)
    card = load_card(result.model)
    assert card.provenance["branch"]["centre_view"] == 0.5 and card.provenance["branch"]["centre_size"] == 32
    assert "centred box of 50% of the area at 32×32" in card.preprocessing  # what the About box shows
    assert card.provenance["parity_max_abs_difference"] < 1e-4
    _, state = checkpoint.load_branch(result.weights)
    assert state.branch_config.centre_view == 0.5  # a refresh from these weights keeps the view
    pictures = np.stack(
        [load_for_model(p, 48).pixels for p in sorted(trained_tiny_model.photos.iterdir())[:4]]
    )
    plain = Embedder(trained_tiny_model.model, device="cpu").embed(pictures)
    assert np.max(np.abs(plain - Embedder(result.model, device="cpu").embed(pictures))) > 1e-4
    weights = [
        sum(t.ByteSize() for t in onnx.load(str(m)).graph.initializer)
        for m in (trained_tiny_model.model, result.model)
    ]
    assert weights[1] < 1.05 * weights[0]  # the two views' shared weights are written once
    off = export(result.weights, tmp_path / "off.onnx", centre_view=0.0)
    assert np.max(np.abs(plain - Embedder(off.model, device="cpu").embed(pictures))) < 1e-5


def test_export_fails_when_parity_fails_and_writes_nothing(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="parity check failed"):
        export(trained_tiny_model.run, out, atol=-1.0)
    assert not out.exists() and not list(tmp_path.glob(".bad.onnx*"))


def test_export_needs_real_pictures_for_parity(trained_tiny_model: TrainedModel, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="needs real pictures"):
        export(trained_tiny_model.run, tmp_path / "m.onnx", parity_images=[str(tmp_path / "empty")])
    with pytest.raises(ExportError, match=r"ending in \.onnx"):
        export(trained_tiny_model.run, tmp_path / "m.bin")


def test_evaluate_reports_per_tier_calibrates_and_writes_the_card(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    from trainer.evaluate import EvalOptions, evaluate

    model = tmp_path / "copy.onnx"
    model.write_bytes(trained_tiny_model.model.read_bytes())
    model.with_suffix(".json").write_bytes(trained_tiny_model.model.with_suffix(".json").read_bytes())
    report = evaluate(
        EvalOptions(
            model=str(model),
            data=[str(trained_tiny_model.photos)],
            out=str(tmp_path / "ev"),
            max_images=8,
            tiers=["jpeg-q25", "hflip", "crop-40"],
        )
    )
    assert set(report["per_tier"]) == {"jpeg-q25", "hflip", "crop-40"}
    assert report["pairs"]["duplicate"] == 24 and report["pairs"]["unrelated"] == 8 * 7 * 4
    assert 0 <= report["average_precision"] <= 1 and report["threshold"]["precision"] >= 0.99
    assert (tmp_path / "ev" / "precision_recall.png").is_file()
    assert (tmp_path / "ev" / "similarity_histogram.png").is_file()
    saved = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert saved["threshold"] == report["threshold"]
    card = load_card(model)
    assert card.default_threshold == pytest.approx(report["threshold"]["min_similarity"])
    assert card.evaluation["held_out"]["recall_per_tier"].keys() == {"jpeg-q25", "hflip", "crop-40"}


def test_evaluate_keeps_a_threshold_calibrated_on_lookalikes(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    from trainer.evaluate import EvalOptions, evaluate

    model = tmp_path / "copy.onnx"
    model.write_bytes(trained_tiny_model.model.read_bytes())
    card = load_card(trained_tiny_model.model)
    calibrated = {"split": "val", "min_similarity": 0.987, "target_precision": 0.99}
    evaluation = {**card.evaluation, "benchmark_calibration": calibrated}
    card_path_for(model).write_text(replace(card, default_threshold=0.987, evaluation=evaluation).to_json())
    options = EvalOptions(
        model=str(model), data=[str(trained_tiny_model.photos)], out=str(tmp_path / "ev"), max_images=6
    )
    report = evaluate(options)
    kept = load_card(model)
    assert not report["threshold_written"] and kept.default_threshold == 0.987
    assert kept.evaluation["held_out"]["threshold"] == report["threshold"]  # the figures are recorded
    # A threshold that no longer matches the benchmark's calibration is evaluate's to set.
    card_path_for(model).write_text(replace(kept, default_threshold=0.5).to_json())
    assert evaluate(options)["threshold_written"]
    assert load_card(model).default_threshold == pytest.approx(report["threshold"]["min_similarity"])
