"""benchmarks.accuracy.calibrate end to end: a tiny validation split, the bundled model, real files.

Calibration writes the card's default threshold, so it is checked against the pairs it pooled,
counted here directly, and against a look-alike that must push the threshold above itself.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.accuracy import TIER_LEVELS, build_files, calibrate, embed_files
from benchmarks.pairs import PairSet, negative_scores, positive_scores
from dupfinder.embedder import Embedder
from dupfinder.models import find_model
from tests.imagegen import detailed_photo, save

NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")  # no shared series (`sibling_key`)
ORIGINALS, DRAWS, TARGET = 3, 2, 0.99
COPIES_PER_ORIGINAL = sum(len(level) for level in TIER_LEVELS.values())


def _look_alike(picture: Image.Image) -> Image.Image:
    """The same scene with one patch changed, like a sign with other words: not a copy."""
    changed = picture.copy()
    ImageDraw.Draw(changed).rectangle((300, 40, 420, 120), fill=(20, 160, 40))
    return changed


def _corpus(root: Path, look_alikes: bool) -> Path:
    val = root / "images" / "val"
    for seed, name in enumerate(NAMES):
        save(detailed_photo(seed), val / f"synth__{name}.jpg", quality=92)
    # A test picture equal to a val one: calibration reads val only, or this would be a false pair.
    save(detailed_photo(0), root / "images" / "test" / "synth__alpha.jpg", quality=92)
    if look_alikes:
        scene = detailed_photo(40)
        save(scene, val / "synth__sign_one.jpg", quality=92)
        save(_look_alike(scene), val / "synth__sign_two.jpg", quality=92)
        with (root / "hard_negatives.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file_a", "file_b", "why"])
            pair = [f"images/val/synth__sign_{n}.jpg" for n in ("one", "two")]
            writer.writerow([*pair, "other sign"])
    return root


def _pooled_scores(corpus: Path, work: Path, embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """Every (original, copy) cosine and every cross-source cosine of the draws, counted anew."""
    positive, negative = [], []
    for seed in range(DRAWS):
        files = build_files(corpus, work, ORIGINALS, seed, "val")
        pairs = PairSet(files.source, files.is_original, files.transform, files.hard_negatives, TIER_LEVELS)
        vectors = embed_files(files.paths, embedder, workers=1, second_looks=False).vectors

        def rows(r: np.ndarray, v: np.ndarray = vectors) -> np.ndarray:
            return v[r] @ v.T

        positive.append(positive_scores(pairs, rows))
        negative.append(negative_scores(pairs, rows))
    return np.concatenate(positive), np.concatenate(negative)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    model, outcomes = find_model(), {}
    for look_alikes in (False, True):
        root = tmp_path_factory.mktemp("look-alikes" if look_alikes else "plain")
        corpus, work = _corpus(root / "corpus", look_alikes), root / "work"
        result = calibrate(corpus, model, ORIGINALS, 1, 0, work, TARGET, DRAWS, align=False)
        scores = _pooled_scores(corpus, work, Embedder(model, device="cpu"))
        outcomes["look-alike" if look_alikes else "plain"] = (result, *scores, corpus)
    return outcomes


def test_calibration_pools_every_copy_of_every_draw(calibrated: dict[str, Any]) -> None:
    result, positive, _, _ = calibrated["plain"]
    assert result["split"] == "val" and result["alignment"] == {}
    assert [draw["seed"] for draw in result["draws"]] == list(range(DRAWS))
    blanks = sum(draw["blank_variants_left_out"] for draw in result["draws"])
    assert result["positive_pairs"] == DRAWS * ORIGINALS * COPIES_PER_ORIGINAL - blanks == len(positive)


@pytest.mark.parametrize("corpus_kind", ["plain", "look-alike"])
def test_the_threshold_keeps_the_precision_on_the_pairs_counted_anew(
    calibrated: dict[str, Any], corpus_kind: str
) -> None:
    result, positive, negative, _ = calibrated[corpus_kind]
    threshold = result["min_similarity"]
    found, false = int((positive >= threshold).sum()), int((negative >= threshold).sum())
    assert found / max(1, found + false) >= TARGET
    if threshold <= result["engine"]["model_alone"]["min_similarity"]:  # not raised for the scan
        assert found / len(positive) == pytest.approx(result["recall"], abs=1e-6)


def test_a_listed_look_alike_pushes_the_threshold_above_itself(calibrated: dict[str, Any]) -> None:
    plain, (with_look_alike, _, _, corpus) = calibrated["plain"][0], calibrated["look-alike"]
    pair = [corpus / "images" / "val" / f"synth__sign_{n}.jpg" for n in ("one", "two")]
    vectors = embed_files(pair, Embedder(find_model(), device="cpu"), 1, second_looks=False).vectors
    look_alike_similarity = float(vectors[0] @ vectors[1])
    # In both draws the pair is 2 false pairs against at most 126 copies: under 0.99 precision
    # unless the threshold rises above it.
    assert look_alike_similarity > plain["min_similarity"]
    assert with_look_alike["min_similarity"] > look_alike_similarity
    assert with_look_alike["recall"] < plain["recall"]
