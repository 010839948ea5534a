"""Losses against hand-computed cases: margins, zero loss, and which negative each mining picks."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from trainer import losses

# Unit vectors in 2-D. Squared distances: a-p 0.8, a-n1 2.0, a-n2 0.4, p-n1 0.4, p-n2 2.0, n1-n2 3.2.
A, P, N1, N2 = (1.0, 0.0), (0.6, 0.8), (0.0, 1.0), (0.8, -0.6)
EMBEDDINGS = np.array([A, P, N1, N2], np.float32)
LABELS = np.array([0, 0, 1, 2], np.int32)
MINING = {name: index for index, name in enumerate(losses.MINING)}


def _triplet(embeddings: np.ndarray, labels: np.ndarray, margin: float, mining: str) -> dict[str, float]:
    scores = np.random.default_rng(0).random((len(labels), len(labels))).astype(np.float32)
    terms = losses.triplet_terms(embeddings, labels, margin, MINING[mining], scores)
    return {
        k: float(keras.ops.convert_to_numpy(getattr(terms, k)))
        for k in ("loss", "active", "pos_dist", "neg_dist")
    }


def test_pairwise_distances_by_hand() -> None:
    distances = keras.ops.convert_to_numpy(losses.pairwise_squared_distances(EMBEDDINGS))
    assert distances[0, 1] == pytest.approx(0.8, abs=1e-6)
    assert distances[0, 3] == pytest.approx(0.4, abs=1e-6)
    assert distances[2, 3] == pytest.approx(3.2, abs=1e-6)
    assert np.allclose(np.diag(distances), 0.0, atol=1e-6)


def test_hardest_mining_picks_the_closest_negative_and_adds_the_margin() -> None:
    result = _triplet(EMBEDDINGS, LABELS, 0.3, "hard")
    # a: d(a,p)=0.8, closest negative n2 at 0.4 → 0.8 − 0.4 + 0.3 = 0.7; p is symmetric (n1 at 0.4).
    assert result["loss"] == pytest.approx(0.7, abs=1e-5)
    assert result["active"] == 1.0
    assert result["pos_dist"] == pytest.approx(0.8, abs=1e-5)
    assert result["neg_dist"] == pytest.approx(0.4, abs=1e-5)


def test_semi_hard_mining_picks_the_closest_negative_farther_than_the_positive() -> None:
    small = _triplet(EMBEDDINGS, LABELS, 0.3, "semi-hard")
    assert small["neg_dist"] == pytest.approx(2.0, abs=1e-5)  # n1 for a, n2 for p
    assert small["loss"] == 0.0 and small["active"] == 0.0  # 0.8 − 2.0 + 0.3 < 0: zero loss
    large = _triplet(EMBEDDINGS, LABELS, 1.5, "semi-hard")
    assert large["loss"] == pytest.approx(0.3, abs=1e-5)  # 0.8 − 2.0 + 1.5


def test_semi_hard_falls_back_to_the_farthest_negative_when_all_are_harder() -> None:
    embeddings = np.array([A, (-1.0, 0.0), N1, N2], np.float32)  # d(a,p) = 4: every negative is closer
    result = _triplet(embeddings, LABELS, 0.2, "semi-hard")
    # For a: negatives at 2.0 (n1) and 0.4 (n2) → the farther, 2.0: 4 − 2 + 0.2 = 2.2.
    # For p=(-1,0): n1 at 2.0, n2 at 3.6 → 3.6: 4 − 3.6 + 0.2 = 0.6. Mean 1.4.
    assert result["loss"] == pytest.approx(1.4, abs=1e-5)


def test_random_mining_only_draws_true_negatives() -> None:
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(12, 8)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = np.repeat(np.arange(6), 2).astype(np.int32)
    distances = keras.ops.convert_to_numpy(losses.pairwise_squared_distances(embeddings))
    _, negatives = (keras.ops.convert_to_numpy(m) for m in losses.label_masks(labels))
    for seed in range(5):
        scores = np.random.default_rng(seed).random((12, 12)).astype(np.float32)
        picked = keras.ops.convert_to_numpy(losses.random_negatives(distances, negatives, scores))[:, 0]
        for row, value in enumerate(picked):
            assert any(math.isclose(value, d, abs_tol=1e-6) for d in distances[row][negatives[row]])


def test_contrastive_loss_by_hand() -> None:
    value = float(keras.ops.convert_to_numpy(losses.contrastive_loss(EMBEDDINGS, LABELS, margin=1.0)))
    # Positives: d² = 0.8. Negatives (10 ordered pairs): only the four at d = √0.4 are inside the
    # margin, each (1 − √0.4)²; mean over 10. Loss = (0.8 + that) / 2.
    pushed = 4 * (1 - math.sqrt(0.4)) ** 2 / 10
    assert value == pytest.approx(0.5 * (0.8 + pushed), abs=1e-5)


def test_infonce_matches_a_reference_and_rewards_separation() -> None:
    temperature = 0.5
    logits = EMBEDDINGS @ EMBEDDINGS.T / temperature
    np.fill_diagonal(logits, -np.inf)
    log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(log_prob[0, 1] + log_prob[1, 0]) / 2  # only a and p have a positive
    value = float(keras.ops.convert_to_numpy(losses.infonce_loss(EMBEDDINGS, LABELS, temperature)))
    assert value == pytest.approx(expected, abs=1e-5)
    together = np.array([A, A, N1, N2], np.float32)
    assert float(keras.ops.convert_to_numpy(losses.infonce_loss(together, LABELS, temperature))) < value


def test_sigmoid_loss_by_hand_and_its_boundary() -> None:
    """Boundary 0.6 (squared distance), temperature 0.5, so each pair's logit is (0.6 − d²) / 0.5.
    The copies a-p (d² 0.8, both ways) lie outside the boundary: softplus(0.4) each. Of the ten
    ordered pairs of others, four at 0.4 lie inside it (softplus(0.4)), four at 2.0 far outside
    (softplus(−2.8)) and two at 3.2 farther (softplus(−5.2)). Summed per row, averaged over the four
    rows. Pulling the copy inside the boundary lowers the loss."""

    def softplus(x: float) -> float:
        return math.log1p(math.exp(x))

    margin, temperature = 0.6, 0.5
    expected = (6 * softplus(0.4) + 4 * softplus(-2.8) + 2 * softplus(-5.2)) / 4
    value = float(keras.ops.convert_to_numpy(losses.sigmoid_loss(EMBEDDINGS, LABELS, margin, temperature)))
    assert value == pytest.approx(expected, abs=1e-5)
    together = np.array([A, A, N1, N2], np.float32)
    closer = float(keras.ops.convert_to_numpy(losses.sigmoid_loss(together, LABELS, margin, temperature)))
    assert closer < value
    picked = losses.batch_terms(EMBEDDINGS, LABELS, 3, MINING["hard"], margin, temperature, np.zeros((4, 4)))
    assert float(keras.ops.convert_to_numpy(picked.loss)) == pytest.approx(value, abs=1e-5)


def test_batch_terms_selects_the_loss_by_index() -> None:
    scores = np.zeros((4, 4), np.float32)
    triplet = losses.batch_terms(EMBEDDINGS, LABELS, 0, MINING["hard"], 0.3, 0.1, scores)
    infonce = losses.batch_terms(EMBEDDINGS, LABELS, 2, MINING["hard"], 0.3, 0.1, scores)
    assert float(keras.ops.convert_to_numpy(triplet.loss)) == pytest.approx(0.7, abs=1e-5)
    expected = float(keras.ops.convert_to_numpy(losses.infonce_loss(EMBEDDINGS, LABELS, 0.1)))
    assert float(keras.ops.convert_to_numpy(infonce.loss)) == pytest.approx(expected, abs=1e-5)


def test_schedules_parse_and_step_through_epochs() -> None:
    schedule = losses.parse_schedule("infonce:2,triplet", losses.LOSSES, "loss")
    assert schedule == [("infonce", 2), ("triplet", None)]
    assert [losses.mode_at(schedule, e) for e in range(4)] == ["infonce", "infonce", "triplet", "triplet"]
    assert losses.parse_schedule("semi-hard", losses.MINING, "mining") == [("semi-hard", None)]


@pytest.mark.parametrize("text", ["hardest", "semi-hard:2", "random,hard", "random:0,hard"])
def test_bad_schedules_are_refused_with_the_option_named(text: str) -> None:
    with pytest.raises(ValueError, match="Invalid value for `mining`"):
        losses.parse_schedule(text, losses.MINING, "mining")


def test_margin_and_temperature_are_validated() -> None:
    with pytest.raises(ValueError, match=r"Invalid value for `margin`: expected > 0, received: margin=-1"):
        losses.check_loss_options(-1, 0.1)
    with pytest.raises(ValueError, match="temperature"):
        losses.check_loss_options(0.2, 0)


def _kl_reference(student: np.ndarray, teacher: np.ndarray, temperature: float) -> float:
    def log_softmax(e: np.ndarray) -> np.ndarray:
        logits = e @ e.T / temperature
        np.fill_diagonal(logits, -1e9)  # itself: no weight
        top = logits.max(axis=1, keepdims=True)
        return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))

    t, s = log_softmax(teacher.astype(np.float64)), log_softmax(student.astype(np.float64))
    off = ~np.eye(len(student), dtype=bool)
    return float((np.exp(t) * (t - s))[off].sum() / len(student))


def test_distillation_is_zero_when_the_student_sees_pairs_as_the_teacher_does() -> None:
    # The teacher may embed in another dimension: only its cosines are learned.
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    teacher = np.pad(EMBEDDINGS, ((0, 0), (0, 1))) @ rotation
    value = losses.distillation_loss(EMBEDDINGS, teacher.astype(np.float32), 0.1)
    assert float(keras.ops.convert_to_numpy(value)) == pytest.approx(0.0, abs=1e-5)


def test_distillation_matches_a_reference_and_falls_as_the_student_nears_the_teacher() -> None:
    rng = np.random.default_rng(2)
    teacher = rng.normal(size=(6, 5))
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    far = rng.normal(size=(6, 4))
    far /= np.linalg.norm(far, axis=1, keepdims=True)
    near = np.pad(teacher, ((0, 0), (0, 1)))[:, :4] + 0.1 * far  # mostly the teacher's geometry
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    values = {}
    for name, student in (("far", far), ("near", near)):
        got = losses.distillation_loss(student.astype(np.float32), teacher.astype(np.float32), 0.2)
        values[name] = float(keras.ops.convert_to_numpy(got))
        assert values[name] == pytest.approx(_kl_reference(student, teacher, 0.2), rel=1e-4, abs=1e-6)
    assert 0 < values["near"] < values["far"]


def test_cosine_regression_is_zero_for_the_same_geometry_and_the_mean_squared_gap_otherwise() -> None:
    rotation = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]
    same = (np.pad(EMBEDDINGS, ((0, 0), (0, 1))) @ rotation).astype(np.float32)
    assert float(
        keras.ops.convert_to_numpy(losses.cosine_regression_loss(EMBEDDINGS, same))
    ) == pytest.approx(0.0, abs=1e-6)
    student = np.array([A, A, N1, N2], np.float32)  # a and p made one: their cosine 0.6 -> 1
    gap = (student @ student.T - EMBEDDINGS @ EMBEDDINGS.T)[~np.eye(4, dtype=bool)]
    value = float(keras.ops.convert_to_numpy(losses.cosine_regression_loss(student, EMBEDDINGS)))
    assert value == pytest.approx(float(np.mean(gap**2)), abs=1e-6) and value > 0


def test_anchor_pulls_each_view_onto_the_teachers_first_view_of_its_picture() -> None:
    labels = np.array([0, 0, 1, 1], np.int32)  # two pictures, a light view first and a full view
    teacher = EMBEDDINGS  # cosines of the full views to their light views: A·P = 0.6, N1·N2 = -0.6
    got = float(keras.ops.convert_to_numpy(losses.anchor_loss(EMBEDDINGS, teacher, labels)))
    assert got == pytest.approx((0 + (1 - 0.6) + 0 + (1 + 0.6)) / 4, abs=1e-6)
    landed = np.array([A, A, N1, N1], np.float32)  # every view on its light view's teacher vector
    assert float(keras.ops.convert_to_numpy(losses.anchor_loss(landed, teacher, labels))) == pytest.approx(
        0.0, abs=1e-6
    )
    # Labels need not be sorted: the target is the first view of the label wherever it lies.
    order = np.array([1, 2, 0, 3])
    moved_loss = losses.anchor_loss(landed[order], teacher[order], labels[order])
    moved = float(keras.ops.convert_to_numpy(moved_loss))
    # Picture 0's first view is now P: both its views (at A) are 1 - 0.6 from it; picture 1's land.
    assert moved == pytest.approx((0.4 + 0 + 0.4 + 0) / 4, abs=1e-6)
