"""The three data modes, their clear errors, splitting, and reproducible batches (inline and pooled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.imagegen import corrupt_file, save, synthetic_photo
from tests.trainer.conftest import make_photos
from trainer.data import DataError, Renderer, load_data, split_rows


def _renderer(data, batch: int = 4, size: int = 32) -> Renderer:  # type: ignore[no-untyped-def]
    return Renderer(data, tuple(range(len(data.rows))), batch, size, seed=3)


def test_folders_mode_pairs_a_picture_with_its_augmented_view(photos: Path) -> None:
    data = load_data([photos])
    assert data.mode == "folders" and len(data.paths) == 12 and len(set(data.labels)) == 12
    views, labels, failures = _renderer(data).render(0, 0)
    assert views.shape == (8, 32, 32, 3) and views.dtype == np.uint8 and failures == 0
    assert np.array_equal(labels[0::2], labels[1::2]) and len(set(labels.tolist())) == 4


def test_classes_mode_uses_other_pictures_of_the_class(tmp_path: Path) -> None:
    for seed in range(3):
        save(synthetic_photo(seed), tmp_path / "data" / "cats" / f"{seed}.png")
    save(synthetic_photo(10), tmp_path / "data" / "dogs" / "only.png")  # a class of one is fine
    data = load_data([tmp_path / "data"], mode="classes")
    assert data.mode == "classes" and sorted(set(data.labels)) == [0, 1]
    views, labels, _ = _renderer(data, batch=4).render(0, 0)
    assert views.shape[0] == 8 and np.array_equal(labels[0::2], labels[1::2])


def _csv(tmp_path: Path, text: str) -> Path:
    make_photos(tmp_path, 6)
    path = tmp_path / "pairs.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_pairs_join_identities(tmp_path: Path) -> None:
    csv = _csv(tmp_path, "photo000.jpg,photo001.jpg\nphoto001.jpg,photo002.jpg\nphoto003.jpg,photo004.jpg\n")
    data = load_data([csv])
    assert data.mode == "csv" and data.views_per_row == 2
    labels = dict(zip((Path(p).name for p in data.paths), data.labels))
    assert labels["photo000.jpg"] == labels["photo002.jpg"] != labels["photo003.jpg"]


def test_csv_triplets_and_labelled_pairs(tmp_path: Path) -> None:
    triplets = load_data(
        [
            _csv(
                tmp_path / "t",
                "anchor,positive,negative\nphoto000.jpg,photo001.jpg,photo002.jpg\n"
                "photo003.jpg,photo004.jpg,photo005.jpg\n",
            )
        ]
    )
    assert triplets.views_per_row == 3
    views, labels, _ = _renderer(triplets, batch=2).render(0, 0)
    assert views.shape[0] == 6 and labels[0] == labels[1] != labels[2]
    labelled = load_data([_csv(tmp_path / "l", "photo000.jpg,photo001.jpg,1\nphoto002.jpg,photo003.jpg,0\n")])
    label_of = dict(zip((Path(p).name for p in labelled.paths), labelled.labels))
    assert label_of["photo000.jpg"] == label_of["photo001.jpg"]
    assert label_of["photo002.jpg"] != label_of["photo003.jpg"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d.mkdir(), "no pictures found in"),
        (lambda d: [corrupt_file(d / f"{i}.jpg") for i in range(3)], "none of the 3 files"),
        (lambda d: save(synthetic_photo(1), d / "one.png"), "need at least 2 readable pictures"),
    ],
)
def test_bad_folders_get_a_clear_error(tmp_path: Path, setup, message: str) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "data"
    setup(folder)
    with pytest.raises(DataError, match=message):
        load_data([folder])


def test_a_single_class_with_a_single_picture_is_refused(tmp_path: Path) -> None:
    save(synthetic_photo(1), tmp_path / "data" / "cats" / "one.png")
    with pytest.raises(DataError, match=r"need at least 2 classes.*cats with 1 picture"):
        load_data([tmp_path / "data"], mode="classes")


def test_missing_paths_and_csv_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_data([tmp_path / "nowhere"])
    with pytest.raises(DataError, match=r"do not exist, e\.g\."):
        load_data([_csv(tmp_path, "photo000.jpg,missing.jpg\n")])


def test_unreadable_pictures_are_skipped_and_reported(photos: Path) -> None:
    corrupt_file(photos / "broken.jpg")
    data = load_data([photos])
    assert len(data.paths) == 12 and [Path(p).name for p, _ in data.skipped] == ["broken.jpg"]


def test_split_holds_out_whole_identities(tmp_path: Path) -> None:
    for cls in range(6):
        for seed in range(2):
            save(synthetic_photo(cls * 10 + seed, (64, 48)), tmp_path / "d" / f"c{cls}" / f"{seed}.png")
    data = load_data([tmp_path / "d"], mode="classes")
    train, val = split_rows(data, 0.34, seed=0)
    train_labels = {data.labels[data.rows[r][0]] for r in train}
    val_labels = {data.labels[data.rows[r][0]] for r in val}
    assert val_labels and not train_labels & val_labels
    with pytest.raises(ValueError, match="val_split"):
        split_rows(data, 1.0, seed=0)


def test_batches_are_reproducible_and_change_with_the_epoch(photos: Path) -> None:
    renderer = _renderer(load_data([photos]))
    first, _, _ = renderer.render(0, 1)
    again, _, _ = renderer.render(0, 1)
    other, _, _ = renderer.render(1, 1)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_worker_pool_renders_the_same_batches_as_inline(photos: Path) -> None:
    from trainer.feeding import Feeder, ViewSequence

    renderer = _renderer(load_data([photos]))
    pooled = Feeder({"train": renderer}, workers=1)
    try:
        sequence = ViewSequence(pooled, "train")
        assert len(sequence) == 3
        for index in range(3):
            views, labels = sequence[index]
            expected, expected_labels, _ = renderer.render(0, index)
            assert np.array_equal(views, expected) and np.array_equal(labels, expected_labels)
        assert sequence.take_counters()[2] == 3
    finally:
        pooled.close()
