"""The model card contract: round trip, validation, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dupfinder.modelcard import ModelCard, ModelCardError, card_path_for, load_card, parse_card


def _card(**changes: object) -> ModelCard:
    fields: dict[str, object] = {"name": "m", "input_size": 64, "embedding_dim": 32, "default_threshold": 0.9}
    return ModelCard(**(fields | changes))  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    card = _card(provenance={"corpus": "x", "command": "y"}, evaluation={"ap": 0.9}, resize="pad")
    assert parse_card(card.to_json()) == card
    assert "Corpus: x" in card.summary()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("input_size", 2, "input_size"),
        ("embedding_dim", 0, "embedding_dim"),
        ("default_threshold", 1.5, "default_threshold"),
        ("resize", "crop", "resize"),
        ("input_layout", "NCHW", "input_layout"),
        ("hash_confirm", {"margin": 0.1}, "hash_confirm"),
        ("hash_confirm", {"margin": 0.1, "max_distance": 99}, "hash_confirm"),
        ("alignment", {"floor": 0.8}, "alignment"),
        ("alignment", {"floor": 0.8, "min_similarity": 3.0}, "alignment"),
    ],
)
def test_invalid_values_are_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ModelCardError, match=f"Invalid value for `{message}`"):
        _card(**{field: value})


def test_unknown_keys_are_ignored_and_missing_ones_named() -> None:
    payload = json.loads(_card().to_json()) | {"future_field": 1}
    assert parse_card(json.dumps(payload)).name == "m"
    del payload["embedding_dim"]
    with pytest.raises(ModelCardError, match=r"missing required field.*embedding_dim"):
        parse_card(json.dumps(payload))


def test_not_a_card_and_newer_versions_are_refused() -> None:
    with pytest.raises(ModelCardError, match="not valid JSON"):
        parse_card("{")
    with pytest.raises(ModelCardError, match="not a dupfinder model card"):
        parse_card("{}")
    payload = json.loads(_card().to_json()) | {"card_version": 99}
    with pytest.raises(ModelCardError, match="newer"):
        parse_card(json.dumps(payload))


def test_card_lives_beside_the_model(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    assert card_path_for(model) == tmp_path / "m.json"
    with pytest.raises(ModelCardError, match="no model card"):
        load_card(model)
    card_path_for(model).write_text(_card().to_json())
    assert load_card(model).input_size == 64


def test_hash_confirm_rule_is_read_and_shown() -> None:
    assert _card().confirm_rule is None
    card = parse_card(_card(hash_confirm={"margin": 0.08, "max_distance": 2}).to_json())
    rule = card.confirm_rule
    assert rule is not None and (rule.margin, rule.max_distance) == (0.08, 2)
    assert "≤ 2 bits" in card.summary()


def test_alignment_rule_is_read_and_shown() -> None:
    assert _card().alignment_rule is None
    card = parse_card(_card(alignment={"floor": 0.8, "min_similarity": 0.995}).to_json())
    rule = card.alignment_rule
    assert rule is not None and (rule.floor, rule.min_similarity) == (0.8, 0.995)
    assert "crop, tilt or frame" in card.summary() and "0.995" in card.summary()
