"""The random-crop check of cropped copies: the same seed draws the same boxes, and a crop counts
as found by its whole vector or by one of its original's regions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.random_crops import AREA_BANDS, CROPS_PER_ORIGINAL, found_share, write_random_crops
from tests.imagegen import save, synthetic_photo


def test_crops_are_drawn_once_per_seed_and_keep_the_area_asked(tmp_path: Path) -> None:
    originals = [save(synthetic_photo(seed, (400, 300)), tmp_path / f"o{seed}.png") for seed in range(3)]
    first = write_random_crops(originals, tmp_path / "work", seed=5)
    again = write_random_crops(originals, tmp_path / "work", seed=5)
    assert first == again and len(first) == 3 * CROPS_PER_ORIGINAL
    for owner, area, path in first:
        assert AREA_BANDS[0][0] <= area < AREA_BANDS[-1][1]
        with Image.open(path) as crop:
            assert crop.width * crop.height == pytest.approx(area * 400 * 300, rel=0.05)
        assert path.name.startswith(f"o{owner}-")
    other = write_random_crops(originals, tmp_path / "work", seed=6)
    assert [a for _, a, _ in other] != [a for _, a, _ in first]


def test_a_crop_is_found_by_its_whole_or_by_a_region_of_its_original() -> None:
    originals = np.eye(4, dtype=np.float32)[:2]
    regions: list[np.ndarray | None] = [np.eye(4, dtype=np.float32)[2:3], None]
    crops = [(0, 0.35, Path("a")), (0, 0.5, Path("b")), (1, 0.7, Path("c")), (1, 0.7, Path("d"))]
    vectors = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], np.float32)
    share = found_share(originals, regions, crops, vectors, threshold=0.9)
    assert share["all"] == {"crops": 4, "whole": 0.5, "with_regions": 0.75}
    assert share["by_area"]["30–45%"] == {"crops": 1, "whole": 0.0, "with_regions": 1.0}
    assert share["by_area"]["60–80%"] == {"crops": 2, "whole": 0.5, "with_regions": 0.5}
