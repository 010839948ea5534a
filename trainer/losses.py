"""Metric-learning losses on a batch of embeddings and identity labels, written only with `keras.ops`.

A batch holds M embeddings and M integer labels: two views with the same label show the same
picture (or class), any other pair is a negative. That one form serves every data mode, and the
losses find their triplets or pairs inside the batch:

- triplet: L(A, P, N) = max(‖f(A)−f(P)‖² − ‖f(A)−f(N)‖² + margin, 0) for every (anchor, positive)
  pair, the negative picked at random, semi-hard (the closest one farther than the positive, as in
  FaceNet) or hardest (the closest one). Hardest from the first step can collapse the embedding
  (every distance 0, loss stuck at the margin); semi-hard is the default for that reason.
- contrastive: y·d² + (1−y)·max(margin − d, 0)² over all pairs, positives and negatives averaged
  separately so the many negatives do not drown the few positives.
- infonce: supervised InfoNCE on cosine similarities / temperature; a soft loss that uses every
  negative and makes a good warm-up before triplet mining.
- sigmoid: every pair judged on its own against one boundary, as a scan's single threshold judges
  it (the pairwise sigmoid loss of SigLIP, with a fixed scale and bias): softplus(∓(margin −
  d²) / temperature), summed over each view's pairs and averaged over views. InfoNCE and the
  triplet loss only rank each view's pairs, so a look-alike may sit above another picture's copy;
  here a copy below the boundary and a look-alike above it are both errors, and the hard ones
  weigh the most.
- distillation (added to any of them when a teacher embeds the same views), with one of two
  targets: `cosine`, each pair's cosine regressed onto the teacher's (squared difference, mean
  over pairs), which keeps the teacher's scale across the whole batch, as one global threshold
  needs; or `softmax`, for each view the KL divergence from the teacher's softmax over its cosines
  to the other views to the student's, which teaches each view's ranking only. Either teaches how
  much alike the teacher finds each pair, look-alikes included, not only which pairs share a label.
  A third target, `anchor`, leaves the pairs alone: every view's embedding is pulled onto the
  teacher's embedding of its picture's first view in the batch (the light view, nearly the clean
  picture), 1 − cosine averaged over views. The teacher is frozen, so the clean pictures keep its
  geometry (and the look-alikes that set its threshold stay where they were) while the hard copies
  learn to land on their original.

Nothing here calls TensorFlow or JAX directly, so any Keras backend trains with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keras import ops

LOSSES: tuple[str, ...] = ("triplet", "contrastive", "infonce", "sigmoid")
MINING: tuple[str, ...] = ("random", "semi-hard", "hard")
# Distances between unit vectors are at most 4 (squared); this stands for "no candidate".
_FAR = 1e4


@dataclass(frozen=True)
class BatchTerms:
    """A batch's loss and the figures reported each epoch."""

    loss: Any
    active: Any  # fraction of triplets (anchor, positive, mined negative) with a non-zero loss
    pos_dist: Any  # mean squared distance anchor → positive
    neg_dist: Any  # mean squared distance anchor → mined negative


def pairwise_squared_distances(embeddings: Any) -> Any:
    """(M, D) → (M, M) squared Euclidean distances, clipped at 0 against rounding."""
    squares = ops.sum(ops.square(embeddings), axis=1)
    gram = ops.matmul(embeddings, ops.transpose(embeddings))
    return ops.maximum(ops.expand_dims(squares, 1) - 2.0 * gram + ops.expand_dims(squares, 0), 0.0)


def label_masks(labels: Any) -> tuple[Any, Any]:
    """Boolean (M, M) masks: positives (same label, not itself) and negatives (other label)."""
    labels = ops.reshape(labels, (-1,))
    same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    not_self = ops.logical_not(ops.cast(ops.eye(ops.shape(labels)[0]), "bool"))
    return ops.logical_and(same, not_self), ops.logical_not(same)


def _masked_mean(values: Any, mask: Any) -> Any:
    weights = ops.cast(mask, values.dtype)
    return ops.sum(values * weights) / ops.maximum(ops.sum(weights), 1.0)


def hardest_negatives(distances: Any, negatives: Any) -> Any:
    """(M, 1): each anchor's closest negative."""
    return ops.min(ops.where(negatives, distances, _FAR), axis=1, keepdims=True)


def semi_hard_negatives(distances: Any, negatives: Any) -> Any:
    """(M, M): for anchor i and positive j, the closest negative farther than j; if none, the
    farthest negative (all are then harder than the positive, and the mildest is the safest)."""
    d_ap = ops.expand_dims(distances, 2)  # (i, j, 1)
    d_an = ops.expand_dims(distances, 1)  # (i, 1, k)
    farther = ops.logical_and(ops.expand_dims(negatives, 1), ops.greater(d_an, d_ap))
    outside = ops.min(ops.where(farther, d_an, _FAR), axis=2)
    inside = ops.max(ops.where(negatives, distances, -_FAR), axis=1, keepdims=True)
    return ops.where(ops.any(farther, axis=2), outside, inside)


def random_negatives(distances: Any, negatives: Any, scores: Any) -> Any:
    """(M, 1): a negative drawn uniformly per anchor; `scores` are (M, M) uniform draws."""
    pick = ops.argmax(ops.where(negatives, scores, -1.0), axis=1)
    return ops.take_along_axis(distances, ops.expand_dims(pick, 1), axis=1)


def mined_negatives(distances: Any, negatives: Any, mining: Any, scores: Any) -> Any:
    """(M, M) negative distances for the mining mode (an index into MINING, may be a variable)."""
    hard = ops.broadcast_to(hardest_negatives(distances, negatives), ops.shape(distances))
    semi = semi_hard_negatives(distances, negatives)
    rand = ops.broadcast_to(random_negatives(distances, negatives, scores), ops.shape(distances))
    return ops.where(ops.equal(mining, 0), rand, ops.where(ops.equal(mining, 1), semi, hard))


def triplet_terms(embeddings: Any, labels: Any, margin: float, mining: Any, scores: Any) -> BatchTerms:
    """Triplet loss over every (anchor, positive) pair of the batch with a mined negative."""
    distances = pairwise_squared_distances(embeddings)
    positives, negatives = label_masks(labels)
    # An anchor with no negative in the batch has no triplet.
    positives = ops.logical_and(positives, ops.any(negatives, axis=1, keepdims=True))
    d_an = mined_negatives(distances, negatives, mining, scores)
    per_triplet = ops.maximum(distances - d_an + margin, 0.0)
    active = ops.cast(ops.greater(per_triplet, 0.0), per_triplet.dtype)
    return BatchTerms(
        _masked_mean(per_triplet, positives),
        _masked_mean(active, positives),
        _masked_mean(distances, positives),
        _masked_mean(d_an, positives),
    )


def contrastive_loss(embeddings: Any, labels: Any, margin: float) -> Any:
    """Contrastive loss with label 1 for same, 0 for different, on Euclidean distances."""
    distances = pairwise_squared_distances(embeddings)
    positives, negatives = label_masks(labels)
    euclidean = ops.sqrt(distances + 1e-12)
    pulled = _masked_mean(distances, positives)
    pushed = _masked_mean(ops.square(ops.maximum(margin - euclidean, 0.0)), negatives)
    return 0.5 * (pulled + pushed)


def infonce_loss(embeddings: Any, labels: Any, temperature: float) -> Any:
    """Supervised InfoNCE: each anchor's positives against every other view of the batch."""
    positives, _ = label_masks(labels)
    count = ops.shape(embeddings)[0]
    logits = ops.matmul(embeddings, ops.transpose(embeddings)) / temperature
    logits = ops.where(ops.cast(ops.eye(count), "bool"), -_FAR, logits)
    log_prob = logits - ops.logsumexp(logits, axis=1, keepdims=True)
    weights = ops.cast(positives, log_prob.dtype)
    per_anchor = -ops.sum(log_prob * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
    return _masked_mean(per_anchor, ops.any(positives, axis=1))


def sigmoid_loss(embeddings: Any, labels: Any, margin: float, temperature: float) -> Any:
    """Pairs closer than `margin` (squared distance: cosine above 1 − margin / 2) are copies."""
    distances = pairwise_squared_distances(embeddings)
    positives, negatives = label_masks(labels)
    logits = (margin - distances) / temperature
    copies = ops.where(positives, ops.softplus(-logits), 0.0)
    others = ops.where(negatives, ops.softplus(logits), 0.0)
    errors = copies + others
    return ops.mean(ops.sum(errors, axis=1))


DISTIL_TARGETS: tuple[str, ...] = ("cosine", "softmax", "anchor")


def check_distil_options(target: str, temperature: float) -> None:
    """One check for `FitOptions` and `SiameseModel`, so a run and a rebuilt model refuse alike."""
    if target not in DISTIL_TARGETS:
        raise ValueError(
            f"Invalid value for `distil_target`: expected one of {DISTIL_TARGETS}, received: {target!r}"
        )
    if not temperature > 0:
        raise ValueError(f"Invalid value for `distil_temperature`: expected > 0, received: {temperature}")


def cosine_regression_loss(student: Any, teacher: Any) -> Any:
    """Mean over pairs (itself left out) of (student cosine − teacher cosine)²."""
    count = ops.shape(student)[0]
    other = ops.logical_not(ops.cast(ops.eye(count), "bool"))
    teacher = ops.cast(teacher, student.dtype)
    gap = ops.matmul(student, ops.transpose(student)) - ops.matmul(teacher, ops.transpose(teacher))
    return _masked_mean(ops.square(gap), other)


def anchor_loss(student: Any, teacher: Any, labels: Any) -> Any:
    """Mean over views of 1 − cos(student view, teacher's embedding of its label's first view).

    The student's and the teacher's embeddings must have the same width (and meaning: a teacher
    the student starts from, or was distilled from).
    """
    _, others = label_masks(labels)
    same = ops.logical_not(others)  # itself included: a light view's target is its own
    first = ops.argmax(ops.cast(same, "int32"), axis=1)  # each view's first view of its label
    targets = ops.take(ops.cast(teacher, student.dtype), first, axis=0)
    return ops.mean(1.0 - ops.sum(student * targets, axis=1))


def distillation_loss(student: Any, teacher: Any, temperature: float) -> Any:
    """Mean over views of KL(teacher ‖ student) between softmaxes of cosines / temperature.

    Rows are each view's similarities to every other view of the batch (itself left out), so only
    how the similarities compare within a row is taught: the threshold is calibrated afterwards.
    """
    count = ops.shape(student)[0]
    self_mask = ops.cast(ops.eye(count), "bool")

    def log_softmax(embeddings: Any) -> Any:
        logits = ops.matmul(embeddings, ops.transpose(embeddings)) / temperature
        logits = ops.where(self_mask, -_FAR, logits)
        return logits - ops.logsumexp(logits, axis=1, keepdims=True)

    target = log_softmax(ops.cast(teacher, student.dtype))
    learned = log_softmax(student)
    per_pair = ops.where(self_mask, 0.0, ops.exp(target) * (target - learned))
    return ops.mean(ops.sum(per_pair, axis=1))


def batch_terms(
    embeddings: Any, labels: Any, loss: Any, mining: Any, margin: float, temperature: float, scores: Any
) -> BatchTerms:
    """The selected loss (an index into LOSSES, may be a variable) plus the triplet figures."""
    triplet = triplet_terms(embeddings, labels, margin, mining, scores)
    value = ops.where(
        ops.equal(loss, 0),
        triplet.loss,
        ops.where(
            ops.equal(loss, 1),
            contrastive_loss(embeddings, labels, margin),
            ops.where(
                ops.equal(loss, 2),
                infonce_loss(embeddings, labels, temperature),
                sigmoid_loss(embeddings, labels, margin, temperature),
            ),
        ),
    )
    return BatchTerms(value, triplet.active, triplet.pos_dist, triplet.neg_dist)


def parse_schedule(text: str, choices: tuple[str, ...], name: str) -> list[tuple[str, int | None]]:
    """'infonce:2,triplet' → [('infonce', 2), ('triplet', None)]: a mode for N epochs, then the next.

    The last entry runs to the end and takes no count.
    """
    steps: list[tuple[str, int | None]] = []
    parts = [part.strip() for part in text.split(",")]
    for position, part in enumerate(parts):
        mode, _, count = part.partition(":")
        if mode not in choices:
            raise ValueError(
                f"Invalid value for `{name}`: expected one of {choices} (optionally "
                f"'mode:EPOCHS,mode'), received: {name}={text!r}"
            )
        last = position == len(parts) - 1
        if last and count:
            raise ValueError(
                f"Invalid value for `{name}`: the last mode runs to the end and takes "
                f"no epoch count, received: {name}={text!r}"
            )
        if not last and (not count.isdigit() or int(count) < 1):
            raise ValueError(
                f"Invalid value for `{name}`: every mode but the last needs a positive "
                f"epoch count ('mode:EPOCHS'), received: {name}={text!r}"
            )
        steps.append((mode, int(count) if count else None))
    return steps


def mode_at(schedule: list[tuple[str, int | None]], epoch: int) -> str:
    """The schedule's mode for a 0-based epoch."""
    start = 0
    for mode, count in schedule:
        if count is None or epoch < start + count:
            return mode
        start += count
    return schedule[-1][0]


def check_loss_options(margin: float, temperature: float) -> None:
    if not margin > 0:
        raise ValueError(f"Invalid value for `margin`: expected > 0, received: margin={margin}")
    if not temperature > 0:
        raise ValueError(
            f"Invalid value for `temperature`: expected > 0, received: temperature={temperature}"
        )
