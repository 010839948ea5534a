"""The model card: the JSON file beside an ONNX model that says everything the engine needs.

Nothing about a model (input size, layout, resize rule, embedding size, default threshold) is
written anywhere else in the engine; it is read from here. The trainer writes cards with
`ModelCard.to_json`, the engine reads them with `load_card`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dupfinder.grouping import AlignmentRule, HashConfirm
from dupfinder.imaging import RESIZE_MODES

CARD_FORMAT = "dupfinder-model-card"
CARD_VERSION = 1


class ModelCardError(Exception):
    """A card that is missing, unreadable or inconsistent; the message names the problem."""


@dataclass(frozen=True)
class ModelCard:
    """Facts about one exported embedding model.

    `default_threshold` is a minimum cosine similarity: pairs at or above it are duplicates.
    `hash_confirm` ({"margin": m, "max_distance": d}, or empty for none) lets the engine accept a
    pair up to m below the threshold when the pHashes differ by at most d bits; it is calibrated
    together with the threshold, so it belongs to the model.
    """

    name: str
    input_size: int
    embedding_dim: int
    default_threshold: float
    input_layout: str = "NHWC"
    input_dtype: str = "uint8"
    resize: str = "stretch"
    preprocessing: str = "inside the graph"
    provenance: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    hash_confirm: dict[str, Any] = field(default_factory=dict)
    # {"floor": f, "min_similarity": s}, or empty for none: pairs from f up to the threshold are
    # aligned (`dupfinder.alignment`) and link when their aligned parts score at least s.
    alignment: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.input_size >= 8, "input_size", "expected >= 8", self.input_size)
        _check(self.embedding_dim >= 2, "embedding_dim", "expected >= 2", self.embedding_dim)
        _check(
            -1.0 <= self.default_threshold <= 1.0,
            "default_threshold",
            "expected a cosine similarity in [-1, 1]",
            self.default_threshold,
        )
        _check(self.input_layout == "NHWC", "input_layout", "expected 'NHWC'", self.input_layout)
        _check(self.input_dtype == "uint8", "input_dtype", "expected 'uint8'", self.input_dtype)
        _check(self.resize in RESIZE_MODES, "resize", f"expected one of {RESIZE_MODES}", self.resize)
        rules: tuple[tuple[str, str, Callable[[], object]], ...] = (
            ("hash_confirm", "{'margin': float, 'max_distance': int}", lambda: self.confirm_rule),
            ("alignment", "{'floor': float, 'min_similarity': float}", lambda: self.alignment_rule),
        )
        for name, expected, read_rule in rules:
            try:
                read_rule()  # validates the rule's fields
            except (KeyError, TypeError, ValueError) as error:
                raise ModelCardError(
                    f"Invalid value for `{name}`: expected {expected} or {{}}, received: "
                    f"{name}={getattr(self, name)!r} ({error})"
                ) from error

    @property
    def confirm_rule(self) -> HashConfirm | None:
        """The pHash confirmation rule for pairs just below the threshold, if the card has one."""
        if not self.hash_confirm:
            return None
        return HashConfirm(float(self.hash_confirm["margin"]), int(self.hash_confirm["max_distance"]))

    @property
    def alignment_rule(self) -> AlignmentRule | None:
        """The rule for aligning pairs below the threshold (`dupfinder.alignment`), if any."""
        if not self.alignment:
            return None
        return AlignmentRule.from_fields(self.alignment)

    def to_json(self) -> str:
        """The card as written beside the model (stable key order, readable)."""
        payload = {"format": CARD_FORMAT, "card_version": CARD_VERSION, **asdict(self)}
        return json.dumps(payload, indent=2, sort_keys=False) + "\n"

    def summary(self) -> str:
        """A few human lines for an About box or `--version` output."""
        lines = [
            f"Model: {self.name}",
            f"Input: {self.input_size}×{self.input_size} RGB ({self.resize}), "
            f"embedding: {self.embedding_dim} dimensions",
            f"Default threshold: similarity ≥ {self.default_threshold:.4f}",
        ]
        if (rule := self.confirm_rule) is not None:
            lines.append(
                f"Also grouped: similarity ≥ threshold − {rule.margin:.2f} when the "
                f"perceptual hashes differ by ≤ {rule.max_distance} bits"
            )
        if (aligned := self.alignment_rule) is not None:
            lines.append(
                f"Also grouped: similarity ≥ {aligned.floor:.2f} when one picture is a crop, tilt or "
                f"frame of the other and their aligned parts score ≥ {aligned.min_similarity:.3f}"
            )
        for key in ("corpus", "command", "device", "training_seconds", "trained_at"):
            if key in self.provenance:
                value = self.provenance[key]
                if isinstance(value, dict):
                    value = "; ".join(f"{name}: {item}" for name, item in value.items())
                lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
        return "\n".join(lines)


def _check(ok: bool, name: str, expected: str, value: object) -> None:
    if not ok:
        raise ModelCardError(f"Invalid value for `{name}`: {expected}, received: {name}={value!r}")


def card_path_for(model_path: Path) -> Path:
    """The card lives beside the model with the same stem: model.onnx → model.json."""
    return model_path.with_suffix(".json")


def parse_card(text: str, source: str = "card") -> ModelCard:
    """Parse and validate card JSON; unknown keys are ignored so newer cards still load."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelCardError(f"{source}: not valid JSON ({error})") from error
    if not isinstance(payload, dict) or payload.get("format") != CARD_FORMAT:
        raise ModelCardError(f"{source}: not a dupfinder model card (missing format={CARD_FORMAT!r})")
    if payload.get("card_version", 0) > CARD_VERSION:
        raise ModelCardError(
            f"{source}: card version {payload['card_version']} is newer than this dupfinder "
            f"understands ({CARD_VERSION}); update dupfinder"
        )
    known = set(ModelCard.__dataclass_fields__)
    required = ("name", "input_size", "embedding_dim", "default_threshold")
    missing = [key for key in required if key not in payload]
    if missing:
        raise ModelCardError(f"{source}: missing required field(s): {', '.join(missing)}")
    try:
        return ModelCard(**{key: value for key, value in payload.items() if key in known})
    except TypeError as error:
        raise ModelCardError(f"{source}: {error}") from error


def load_card(model_path: Path) -> ModelCard:
    """Read the card beside `model_path`."""
    path = card_path_for(model_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ModelCardError(f"no model card at {path}: {error.strerror or error}") from error
    return parse_card(text, source=str(path))
