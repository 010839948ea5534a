"""benchmarks.explain end to end: a tiny corpus, the bundled model, real files, every figure
checked against the same pairs counted here directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import ImageDraw

from benchmarks import explain
from benchmarks.accuracy import TIER_LEVELS, build_files, embed_files
from benchmarks.pairs import PairSet, negative_scores, positive_scores
from dupfinder.embedder import Embedder
from dupfinder.imaging import load_for_model
from dupfinder.models import find_model
from tests.imagegen import detailed_photo, save

NAMES = ("alpha", "bravo", "charlie", "delta", "echo")  # no shared series (`sibling_key`)
ORIGINALS = 2
# Low enough that the look-alike below and some unrelated synthetic photos count as false pairs.
THRESHOLD = 0.6


def _corpus(root: Path, split: str) -> Path:
    folder = root / "images" / split
    for seed, name in enumerate(NAMES):
        save(detailed_photo(seed), folder / f"synth__{name}.jpg", quality=92)
    scene = detailed_photo(40)
    changed = scene.copy()
    ImageDraw.Draw(changed).rectangle((300, 40, 420, 120), fill=(20, 160, 40))  # another sign
    save(scene, folder / "synth__sign_one.jpg", quality=92)
    save(changed, folder / "synth__sign_two.jpg", quality=92)
    return root


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tool's result on a training split, and the same draw's pairs scored here."""
    root = tmp_path_factory.mktemp("explain")
    corpus, work, model = _corpus(root / "corpus", "train"), root / "work", find_model()
    result = explain.explain(corpus, work, model, "train", [0], ORIGINALS, 1, THRESHOLD, top=50)
    files = build_files(corpus, work, ORIGINALS, 0, "train")
    pairs = PairSet(files.source, files.is_original, files.transform, files.hard_negatives, TIER_LEVELS)
    vectors = embed_files(files.paths, Embedder(model, device="cpu"), 1, second_looks=False).vectors

    def rows(r: np.ndarray) -> np.ndarray:
        return vectors[r] @ vectors.T

    return {
        "result": result,
        "files": files,
        "vectors": vectors,
        "positive": positive_scores(pairs, rows),
        "transform": np.array([name for _, _, name in pairs.positives]),
        "negative": negative_scores(pairs, rows),
        "model": model,
    }


def test_the_ladder_counts_what_a_direct_count_gives(described: dict[str, Any]) -> None:
    result, positive, negative = described["result"], described["positive"], described["negative"]
    assert result["split"] == "train" and result["copies"] == len(positive) > 0
    thresholds = [row["threshold"] for row in result["ladder"]]
    assert thresholds == sorted(thresholds, reverse=True) and THRESHOLD in thresholds
    for row in result["ladder"]:
        found = int((positive >= row["threshold"]).sum())
        false = int((negative >= row["threshold"]).sum())
        assert (row["recall"], row["false_pairs"]) == (round(found / len(positive), 4), false)
    assert result["false_pairs_at_threshold"] == int((negative >= THRESHOLD).sum()) > 0


def _brute_loosest(positive: np.ndarray, negative: np.ndarray, target: float) -> float | None:
    passing = [
        t
        for t in np.unique(np.concatenate([positive, negative]))
        if (positive >= t).sum() >= target * ((positive >= t).sum() + (negative >= t).sum())
    ]
    return float(min(passing)) if passing else None


def test_each_transform_is_described_by_its_own_copies(described: dict[str, Any]) -> None:
    result, positive, transform = described["result"], described["positive"], described["transform"]
    named = [row["transform"] for row in result["by_transform"]]
    assert named == [name for names in TIER_LEVELS.values() for name in names if name in set(transform)]
    at_target = _brute_loosest(positive, described["negative"], 0.99)
    assert at_target is not None and at_target >= THRESHOLD  # the floor kept every pair it needs
    assert result["threshold_at_target"] == round(at_target, 4)
    for row in result["by_transform"]:
        scores = positive[transform == row["transform"]]
        assert row["copies"] == len(scores)
        assert row["q50"] == round(float(np.median(scores)), 4)
        assert row["found"] == round(float((scores >= THRESHOLD).mean()), 4)
        assert row["found_at_target"] == round(float((scores >= at_target).mean()), 4)
    by_name = {row["transform"]: row["input_difference"] for row in result["by_transform"]}
    # A PNG copy is the picture itself; a crop to 40% moves every pixel.
    assert by_name["png"] < 2.0 < 20.0 < by_name["crop-40"]


def test_the_look_alike_pair_is_listed_with_its_similarity_and_difference(described: dict[str, Any]) -> None:
    result, files, vectors = described["result"], described["files"], described["vectors"]
    names = ["synth__sign_one.jpg", "synth__sign_two.jpg"]
    index = [next(i for i, p in enumerate(files.paths) if p.name == name) for name in names]
    similarity = float(vectors[index[0]] @ vectors[index[1]])
    assert similarity >= THRESHOLD  # else the test would not test the listing
    listed = [g for g in result["false_pair_series"] if sorted(g["example"]) == names]
    assert len(listed) == 1 and listed[0]["max"] == pytest.approx(similarity, abs=1e-4)
    card = Embedder(described["model"], device="cpu").card
    a, b = (load_for_model(files.paths[i], card.input_size, card.resize).pixels for i in index)  # type: ignore[arg-type]
    expected = float(np.abs(a.astype(float) - b.astype(float)).mean())
    assert listed[0]["input_difference"] == pytest.approx(expected, abs=0.01) and 0 < expected < 10
    assert sum(g["false_pairs"] for g in result["false_pair_series"]) == result["false_pairs_at_threshold"]


def test_the_command_writes_json_and_prints_the_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, out = _corpus(tmp_path / "corpus", "val"), tmp_path / "explain.json"
    options = (
        f"--split val --originals 1 --workers 1 --corpus {corpus} --work {tmp_path / 'work'} --out {out}"
    )
    explain.main(options.split())
    written = json.loads(out.read_text())
    assert written["split"] == "val" and written["threshold"] == round(
        Embedder(find_model(), device="cpu").card.default_threshold, 4
    )
    printed = capsys.readouterr().out
    assert "| transform | tier |" in printed and "| threshold | recall |" in printed
