"""Training-only packages: their pictures never displace, nor copy, a picture of the benchmark's splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus import build_corpus, images, leak_screen
from benchmarks.corpus.images import Record
from dupfinder.embedder import Embedder
from tests.imagegen import detailed_photo, save


def _picture(package: str, name: str, side: int, grey_seed: int) -> Record:
    """A record with a random grey signature (its own picture unless another shares the seed)."""
    signature = np.random.default_rng(grey_seed).integers(0, 256, 32 * 32, dtype=np.uint8).tobytes()
    return Record(
        package,
        "1",
        f"usr/share/{package}/{name}",
        "photo",
        width=side,
        height=side,
        sha256=f"{package}-{name}",
        phash=grey_seed,
        dhash=grey_seed,
        signature=signature,
    )


def test_a_bigger_training_only_copy_is_dropped_and_the_corpus_picture_kept() -> None:
    corpus = _picture("opencv-doc", "fruits.jpg", 256, grey_seed=1)
    bigger_copy = _picture("lxqt-themes", "fruits.png", 2048, grey_seed=1)
    other = _picture("lxqt-themes", "fog.jpg", 1024, grey_seed=2)

    dropped = build_corpus.dedup([bigger_copy, other, corpus], {}, (6, 10, 0.9), frozenset({"lxqt-themes"}))

    assert dropped == {bigger_copy.key: corpus.key}


def test_without_the_training_only_list_the_bigger_copy_wins_as_before() -> None:
    corpus = _picture("opencv-doc", "fruits.jpg", 256, grey_seed=1)
    bigger_copy = _picture("lxqt-themes", "fruits.png", 2048, grey_seed=1)

    assert build_corpus.dedup([bigger_copy, corpus], {}, (6, 10, 0.9)) == {corpus.key: bigger_copy.key}


def _pin_file(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "list.txt"
    path.write_text(f"# a comment\n{line}  # what it holds\n")
    return path


def test_training_only_packages_also_read_targa(tmp_path: Path) -> None:
    line = "nexuiz-textures=2.5.2-12  skip:*_norm.*  art:*/textures.pk3.d/*"
    (extra,) = build_corpus.parse_packages(_pin_file(tmp_path, line), extra=True)
    (plain,) = build_corpus.parse_packages(_pin_file(tmp_path, line))

    assert extra.extra and ".tga" in extra.image_exts and ".jpg" in extra.image_exts
    assert not plain.extra and plain.image_exts == images.IMAGE_EXTS


def test_a_package_in_both_lists_is_refused(tmp_path: Path) -> None:
    pins = _pin_file(tmp_path, "jigzo-data=0.6.1-7.1  auto:*/jigzo/image/*")
    args = build_corpus.parse_args(
        ["--out", str(tmp_path / "out"), "--packages", str(pins), "--extras", str(pins)]
    )

    with pytest.raises(ValueError, match="in both the corpus and the training-only list: jigzo-data"):
        build_corpus.build(args)


def test_the_shipped_training_only_list_parses_and_names_no_corpus_package() -> None:
    extras = build_corpus.parse_packages(
        Path(build_corpus.__file__).with_name("train-extras.txt"), extra=True
    )
    corpus = build_corpus.parse_packages(build_corpus.PACKAGES_FILE)

    assert len(extras) >= 10 and all(p.extra for p in extras)
    assert not {p.name for p in extras} & {p.name for p in corpus}


def test_a_crop_of_a_held_out_picture_is_screened_out_and_an_unrelated_picture_kept(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The screen sees a training-only picture that is the corner of a test picture (one of its
    region views, `dupfinder.views.REGIONS`), which whole-picture similarity alone would miss."""
    held_out = detailed_photo(1)
    corner = held_out.crop((0, 0, held_out.width * 4 // 5, held_out.height * 4 // 5))
    paths = [
        save(corner, tmp_path / "corner.jpg"),
        save(detailed_photo(2), tmp_path / "other.jpg"),
    ]
    held = [save(held_out, tmp_path / "held.jpg"), save(detailed_photo(3), tmp_path / "held2.jpg")]
    embedder = Embedder(tiny_model, device="cpu")

    candidates, targets = leak_screen.embed_views(embedder, paths), leak_screen.embed_views(embedder, held)
    whole_only = (candidates[:, 0] @ targets[:, 0].T).max(axis=1)
    best, which = leak_screen.closest(candidates, targets)
    threshold = (best[0] + best[1]) / 2

    assert candidates.shape == (2, 1 + leak_screen.REGION_VIEWS, embedder.card.embedding_dim)
    assert best[0] > best[1] and which[0] == 0 and best[0] > whole_only[0]
    assert leak_screen.screen(embedder, paths, held, threshold) == {0: (0, pytest.approx(best[0], abs=1e-5))}
