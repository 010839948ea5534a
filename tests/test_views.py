"""Second looks: which regions of a picture are embedded for cropped copies."""

from __future__ import annotations

import numpy as np
from PIL import Image

from dupfinder.imaging import region_inputs, resize_for_model
from dupfinder.views import REGIONS, may_be_cropped_from, region_boxes
from tests.imagegen import synthetic_photo


def test_every_region_lies_inside_the_picture() -> None:
    for region in REGIONS:
        assert region.left >= 0 and region.left + region.side <= 1 + 1e-9
        assert region.top >= 0 and region.top + region.side <= 1 + 1e-9
    for left, top, right, bottom in region_boxes(401, 299):
        assert 0 <= left < right <= 401 and 0 <= top < bottom <= 299


def test_a_photo_gives_one_input_per_region_of_the_model_s_size() -> None:
    inputs = region_inputs(synthetic_photo(3, (400, 300)), 64)
    assert inputs.shape == (len(REGIONS), 64, 64, 3) and inputs.dtype == np.uint8


def test_a_region_is_the_picture_s_part_stretched_to_the_input() -> None:
    picture = synthetic_photo(4, (400, 300))
    corner = next(r for r in REGIONS if r.left == 0 and r.top == 0)
    index = REGIONS.index(corner)
    box = (0, 0, round(corner.side * 400), round(corner.side * 300))
    assert region_boxes(400, 300)[index] == box
    expected = np.asarray(resize_for_model(picture.crop(box), 64))
    assert np.array_equal(region_inputs(picture, 64)[index], expected)


def test_flat_regions_are_left_out() -> None:
    """A white page with a drawing in its top-left corner: only regions that see the drawing stay."""
    page = Image.new("RGB", (400, 400), (255, 255, 255))
    page.paste(synthetic_photo(5, (60, 60)), (10, 10))
    kept = region_inputs(page, 32)
    assert 0 < len(kept) < len(REGIONS)
    assert region_inputs(Image.new("RGB", (400, 300), (30, 90, 200)), 32).shape == (0, 32, 32, 3)


def test_only_a_smaller_picture_may_be_a_crop() -> None:
    assert may_be_cropped_from(1000, 4000) and not may_be_cropped_from(4000, 4000)
