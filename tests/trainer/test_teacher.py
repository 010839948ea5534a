"""`fit --teacher`: an exported model embeds the student's views, and a run learns its similarities."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort
import pytest

from dupfinder.imaging import load_for_model
from dupfinder.modelcard import card_path_for
from tests.trainer.conftest import TINY, TrainedModel, make_photos
from trainer import checkpoint, losses
from trainer.model import SiameseModel, build_branch
from trainer.teacher import Teacher, TeacherError
from trainer.train import FitOptions, fit

SIDE = TINY["image_size"]


def _views(count: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, SIDE, SIDE, 3), dtype=np.uint8)


def test_teacher_embeds_views_as_the_exported_model_does(trained_tiny_model: TrainedModel) -> None:
    teacher = Teacher(trained_tiny_model.model, SIDE, "stretch")
    views = _views(70)  # more than one of its batches
    got = teacher.embed(views)
    session = ort.InferenceSession(str(trained_tiny_model.model), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: views})[0]
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_an_anchor_teacher_embeds_only_each_pictures_first_view(trained_tiny_model: TrainedModel) -> None:
    views, labels = _views(6), np.array([4, 4, 1, 1, 9, 9], np.int32)
    every = Teacher(trained_tiny_model.model, SIDE, "stretch").targets(views, labels)
    np.testing.assert_allclose(every, Teacher(trained_tiny_model.model, SIDE, "stretch").embed(views))
    anchor = Teacher(trained_tiny_model.model, SIDE, "stretch", anchor_width=32).targets(views, labels)
    np.testing.assert_allclose(anchor[[0, 2, 4]], every[[0, 2, 4]], atol=1e-6)
    assert not anchor[[1, 3, 5]].any()  # never read by the anchor loss, so never embedded
    got = losses.anchor_loss(every, anchor, labels)  # the loss sees the same targets either way
    want = losses.anchor_loss(every, every, labels)
    assert float(keras.ops.convert_to_numpy(got)) == pytest.approx(float(keras.ops.convert_to_numpy(want)))


def test_a_teacher_that_cannot_see_the_students_views_is_refused(
    trained_tiny_model: TrainedModel, tmp_path: Path
) -> None:
    with pytest.raises(TeacherError, match=r"uint8 \[batch, 64, 64, 3\]"):
        Teacher(trained_tiny_model.model, 64, "stretch")
    with pytest.raises(TeacherError, match="made for --resize stretch, the student trains with pad"):
        Teacher(trained_tiny_model.model, SIDE, "pad")
    with pytest.raises(TeacherError, match="does not exist"):
        Teacher(tmp_path / "missing.onnx", SIDE, "stretch")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(TeacherError, match="not a readable ONNX model"):
        Teacher(broken, SIDE, "stretch")  # no card either
    shutil.copy(card_path_for(trained_tiny_model.model), card_path_for(broken))
    with pytest.raises(TeacherError, match="not a readable ONNX model"):
        Teacher(broken, SIDE, "stretch")


def _student(photos: Path, out: Path, teacher: Path | None, target: str = "cosine") -> Path:
    options = FitOptions(
        data=[str(photos)],
        out=str(out),
        epochs=4,
        batch_size=8,
        workers=0,
        val_split=0.0,
        lr=3e-3,
        teacher=str(teacher) if teacher else None,
        distil_target=target,
        distil_weight=5.0 if target == "softmax" else 50.0,
        distil_temperature=0.1,
        **TINY,  # type: ignore[arg-type]
    )
    return fit(options)


@pytest.mark.parametrize("target", ["cosine", "softmax", "anchor"])
def test_a_student_trained_with_a_teacher_sees_pairs_more_as_the_teacher_does(
    trained_tiny_model: TrainedModel, tmp_path: Path, target: str
) -> None:
    teacher_path = tmp_path / "teacher.onnx"
    shutil.copy(trained_tiny_model.model, teacher_path)
    shutil.copy(card_path_for(trained_tiny_model.model), card_path_for(teacher_path))
    photos = make_photos(tmp_path / "photos", 16, start=40)
    taught = _student(photos, tmp_path / "taught", teacher_path, target)
    alone = _student(photos, tmp_path / "alone", None)
    state, _ = checkpoint.read(taught)
    assert state.options["teacher"] == str(teacher_path)  # the card's provenance names it
    assert all(epoch["distil"] > 0 for epoch in state.history)
    assert "distil" not in checkpoint.read(alone)[0].history[0]

    views = np.stack([load_for_model(path, SIDE, "stretch").pixels for path in sorted(photos.glob("*.jpg"))])
    teacher = Teacher(teacher_path, SIDE, "stretch").embed(views)

    def disagreement(run: Path) -> float:
        branch, _ = checkpoint.load_branch(run)
        student = keras.ops.convert_to_numpy(branch.predict(views.astype(np.float32), verbose=0))
        if target == "cosine":
            gap = losses.cosine_regression_loss(student, teacher)
        elif target == "anchor":  # each picture's own vector, not its pairs: 1 - cosine to the teacher's
            return float(np.mean(1.0 - np.sum(student * teacher, axis=1)))
        else:
            gap = losses.distillation_loss(student, teacher, 0.1)
        return float(keras.ops.convert_to_numpy(gap))

    assert disagreement(taught) < 0.5 * disagreement(alone)


def test_distillation_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Invalid value for `distil_weight`"):
        FitOptions(data=[], out=str(tmp_path), distil_weight=-1.0)
    with pytest.raises(ValueError, match="Invalid value for `distil_temperature`"):
        FitOptions(data=[], out=str(tmp_path), distil_temperature=0.0)
    with pytest.raises(ValueError, match="Invalid value for `distil_target`"):
        FitOptions(data=[], out=str(tmp_path), distil_target="mse")
    branch = build_branch(FitOptions(data=[], out=str(tmp_path), **TINY).branch_config())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid value for `distil_temperature`"):
        SiameseModel(branch, distil_weight=1.0, distil_temperature=0.0)
    with pytest.raises(ValueError, match="Invalid value for `distil_target`"):
        SiameseModel(branch, distil_weight=1.0, distil_target="mse")


def test_fit_refuses_a_teacher_of_another_size_before_training(
    trained_tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.cli import main

    photos = make_photos(tmp_path / "photos", 4)
    args = ["fit", str(photos), "--out", str(tmp_path / "run"), "--image-size", "64"]
    assert main([*args, "--teacher", str(trained_tiny_model.model)]) == 1
    assert "the student's views are uint8 [batch, 64, 64, 3]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_fit_refuses_an_anchor_teacher_of_another_width_before_training(
    trained_tiny_model: TrainedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.cli import main

    photos = make_photos(tmp_path / "photos", 4)
    args = ["fit", str(photos), "--out", str(tmp_path / "run"), "--image-size", str(SIDE)]
    args += ["--embedding-dim", "16", "--teacher", str(trained_tiny_model.model), "--distil-target", "anchor"]
    assert main(args) == 1
    assert "the teacher gives 32-d vectors, the student 16-d" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
