"""The SQLite cache: hits, misses, invalidation on size, mtime and model, moves, corruption."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dupfinder.cache import ContentKey, EmbeddingCache
from dupfinder.embedder import Embedder
from dupfinder.scan import Scanner, ScanOptions
from tests.imagegen import save, synthetic_photo
from tests.tinymodel import build_tiny_model


def _scan(model: Path, cache_file: Path, root: Path):  # type: ignore[no-untyped-def]
    with EmbeddingCache(cache_file) as cache:
        return Scanner(Embedder(model), cache).scan(ScanOptions([root], workers=2)).report.stats


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    for seed in range(4):
        save(synthetic_photo(seed), tmp_path / "photos" / f"p{seed}.jpg", quality=90)
    return tmp_path / "photos"


def test_second_scan_is_all_hits(tiny_model: Path, photos: Path, tmp_path: Path) -> None:
    first = _scan(tiny_model, tmp_path / "c.db", photos)
    second = _scan(tiny_model, tmp_path / "c.db", photos)
    assert (first.cached, second.cached, second.images) == (0, 4, 4)


def test_changed_size_or_mtime_is_decoded_again(tiny_model: Path, photos: Path, tmp_path: Path) -> None:
    _scan(tiny_model, tmp_path / "c.db", photos)
    save(synthetic_photo(99), photos / "p0.jpg", quality=50)  # new bytes, new size
    stat = os.stat(photos / "p1.jpg")
    os.utime(photos / "p1.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert _scan(tiny_model, tmp_path / "c.db", photos).cached == 2


def test_other_model_misses(tiny_model: Path, photos: Path, tmp_path: Path) -> None:
    _scan(tiny_model, tmp_path / "c.db", photos)
    other = build_tiny_model(tmp_path / "other" / "m.onnx", name="other", seed=1)
    assert _scan(other, tmp_path / "c.db", photos).cached == 0
    assert _scan(tiny_model, tmp_path / "c.db", photos).cached == 4  # both models kept


def test_moved_and_renamed_files_are_recognised(tiny_model: Path, photos: Path, tmp_path: Path) -> None:
    _scan(tiny_model, tmp_path / "c.db", photos)
    (photos / "sub").mkdir()
    shutil.move(photos / "p0.jpg", photos / "sub" / "renamed.jpg")  # keeps mtime
    assert _scan(tiny_model, tmp_path / "c.db", photos).cached == 4


def test_copy_with_new_mtime_is_not_trusted(tiny_model: Path, photos: Path, tmp_path: Path) -> None:
    _scan(tiny_model, tmp_path / "c.db", photos)
    shutil.copyfile(photos / "p0.jpg", photos / "copy.jpg")  # same bytes, new mtime
    os.utime(photos / "copy.jpg", ns=(1, 1_000_000_000))
    assert _scan(tiny_model, tmp_path / "c.db", photos).cached == 4


def test_corrupt_cache_file_is_rebuilt(tiny_model: Path, photos: Path, tmp_path: Path) -> None:
    (tmp_path / "c.db").write_bytes(b"definitely not sqlite" * 100)
    assert _scan(tiny_model, tmp_path / "c.db", photos).images == 4
    assert _scan(tiny_model, tmp_path / "c.db", photos).cached == 4


def test_vectors_round_trip_exactly(tmp_path: Path) -> None:
    vector = np.random.default_rng(0).normal(size=48).astype(np.float32)
    key = ContentKey("abc", 10, 20)
    high_bit_hash = (1 << 63) | 12345  # above SQLite's signed range: stored as a negative number
    with EmbeddingCache(tmp_path / "c.db") as cache:
        cache.store_image(key, "model", 640, 480, vector, high_bit_hash)
        cache.store_content_hash(key, "digest")
    with EmbeddingCache(tmp_path / "c.db") as cache:
        hit = cache.image(key, "model")
        assert hit is not None and (hit.width, hit.height) == (640, 480)
        assert np.array_equal(hit.vector, vector)
        assert hit.phash == high_bit_hash
        assert cache.content_hash(key) == "digest"
        assert cache.image(key, "another model") is None
        assert hit.inner is None


def test_a_screenshots_inner_vector_round_trips(tmp_path: Path) -> None:
    vector, inner = np.random.default_rng(1).normal(size=(2, 48)).astype(np.float32)
    key = ContentKey("shot", 10, 20)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        cache.store_image(key, "model", 1920, 1080, vector, 5, inner)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        hit = cache.image(key, "model")
        assert hit is not None and hit.inner is not None
        assert np.array_equal(hit.inner, inner) and np.array_equal(hit.vector, vector)
        assert hit.picture_share == 1.0


def test_the_picture_share_inside_bars_round_trips(tmp_path: Path) -> None:
    key = ContentKey("letterboxed", 10, 20)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        cache.store_image(key, "model", 400, 400, np.ones(8, np.float32), 5, picture_share=0.75)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        hit = cache.image(key, "model")
        assert hit is not None and hit.picture_share == 0.75 and hit.turned is None


def test_a_portrait_pictures_turned_vectors_round_trip(tmp_path: Path) -> None:
    turned = np.random.default_rng(2).normal(size=(2, 48)).astype(np.float32)
    key = ContentKey("portrait", 10, 20)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        cache.store_image(key, "model", 300, 400, np.ones(48, np.float32), 5, turned=turned)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        hit = cache.image(key, "model")
        assert hit is not None and hit.turned is not None and np.array_equal(hit.turned, turned)


@pytest.mark.parametrize(
    ("vectors", "expected_rows"), [(np.arange(96, dtype=np.float32).reshape(6, 16), 6), (None, None)]
)
def test_region_vectors_round_trip_and_none_stays_apart_from_no_region(
    tmp_path: Path, vectors: np.ndarray | None, expected_rows: int | None
) -> None:
    """Regions all of one flat colour leave a picture with no region vectors, which is not the
    same as never having looked (NULL), or every rescan would decode it again."""
    with EmbeddingCache(tmp_path / "c.db") as cache:
        cache.store_image(ContentKey("a", 1, 2), "model", 9, 9, np.ones(16, np.float32), 5, regions=vectors)
        cache.store_image(
            ContentKey("flat", 1, 2), "model", 9, 9, np.ones(16, np.float32), 5, regions=np.zeros((0, 16))
        )
    with EmbeddingCache(tmp_path / "c.db") as cache:
        hit, flat = (
            cache.image(ContentKey("a", 1, 2), "model"),
            cache.image(ContentKey("flat", 1, 2), "model"),
        )
        assert hit is not None and flat is not None
        assert flat.regions is not None and flat.regions.shape == (0, 16)
        if vectors is None:
            assert hit.regions is None
        else:
            assert hit.regions is not None and hit.regions.shape == (expected_rows, 16)
            assert np.array_equal(hit.regions, vectors)


@pytest.mark.parametrize("version", ["1", "2", "3", "4", "5", "6", "7"])
def test_a_cache_of_an_older_layout_is_started_afresh(tmp_path: Path, version: str) -> None:
    """Version 1 had no pHash column, version 2 no inner vectors, version 3 no picture share,
    version 4 vectors of banded pictures cut as if they had bars, version 5 no colour signature,
    version 6 no region vectors and version 7 no mirrored or turned pHashes: opening any must
    neither fail nor serve its rows."""
    import sqlite3

    old = sqlite3.connect(tmp_path / "c.db")
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        f"INSERT INTO meta VALUES ('schema_version', '{version}');"
        "CREATE TABLE embeddings (fingerprint TEXT NOT NULL, size INTEGER NOT NULL, "
        "mtime_ns INTEGER NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL, "
        + {
            "1": "",
            "2": "phash INTEGER, ",
            "3": "phash INTEGER, inner BLOB, ",
            "4": "phash INTEGER, inner BLOB, picture_share REAL, turned BLOB, ",
            "5": "phash INTEGER, inner BLOB, picture_share REAL, turned BLOB, ",
            "6": "phash INTEGER, inner BLOB, picture_share REAL, turned BLOB, chroma INTEGER, ",
            "7": "phash INTEGER, inner BLOB, picture_share REAL, turned BLOB, chroma INTEGER, regions BLOB, ",
        }[version]
        + "PRIMARY KEY (fingerprint, size, mtime_ns, model));"
        + (
            "INSERT INTO embeddings VALUES ('abc', 10, 20, 'model', x'00000000'"
            + {
                "1": ");",
                "2": ", 7);",
                "3": ", 7, NULL);",
                "4": ", 7, NULL, 1.0, NULL);",
                "5": ", 7, NULL, 1.0, NULL);",
                "6": ", 7, NULL, 1.0, NULL, 0);",
                "7": ", 7, NULL, 1.0, NULL, 0, NULL);",
            }[version]
        )
    )
    old.commit()
    old.close()
    key = ContentKey("abc", 10, 20)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        assert cache.image(key, "model") is None
        cache.store_image(key, "model", 4, 4, np.ones(4, np.float32), 7)
        hit = cache.image(key, "model")
        assert hit is not None and hit.phash == 7


def test_in_memory_cache_keeps_nothing(tiny_model: Path, photos: Path) -> None:
    with EmbeddingCache(None) as cache:
        stats = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([photos])).report.stats
    assert stats.images == 4 and stats.cached == 0


def test_the_colour_signature_round_trips(tmp_path: Path) -> None:
    key = ContentKey("button", 10, 20)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        cache.store_image(key, "model", 64, 32, np.ones(8, np.float32), 5, chroma=-(1 << 62) + 3)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        hit = cache.image(key, "model")
        assert hit is not None and hit.chroma == -(1 << 62) + 3


def test_the_mirrored_and_turned_phashes_round_trip(tmp_path: Path) -> None:
    key, bare = ContentKey("views", 10, 20), ContentKey("bare", 10, 20)
    views = (0, 1, (1 << 64) - 1, 0x8000_0000_0000_0001)  # unsigned 64-bit, the top bit too
    with EmbeddingCache(tmp_path / "c.db") as cache:
        cache.store_image(key, "model", 4, 4, np.ones(4, np.float32), 7, phash_views=views)
        cache.store_image(bare, "model", 4, 4, np.ones(4, np.float32), 7)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        hit, none = cache.image(key, "model"), cache.image(bare, "model")
        assert hit is not None and hit.phash_views == views
        assert none is not None and none.phash_views == ()


def test_an_alignment_round_trips_in_the_order_asked(tmp_path: Path) -> None:
    from dupfinder.grouping import AlignedPair

    crop, photo = ContentKey("bbbb", 10, 1), ContentKey("aaaa", 20, 2)  # stored photo first
    with EmbeddingCache(tmp_path / "cache.db") as cache:
        assert cache.alignment(crop, photo, "m", "v") == (False, None)
        cache.store_alignment(crop, photo, "m", "v", AlignedPair(0.99, True, False))
        cache.store_alignment(crop, ContentKey("cccc", 30, 3), "m", "v", None)  # neither inside
    with EmbeddingCache(tmp_path / "cache.db") as cache:
        assert cache.alignment(crop, photo, "m", "v") == (True, AlignedPair(0.99, True, False))
        assert cache.alignment(photo, crop, "m", "v") == (True, AlignedPair(0.99, False, True))
        assert cache.alignment(crop, ContentKey("cccc", 30, 3), "m", "v") == (True, None)
        assert cache.alignment(crop, photo, "m", "other views") == (False, None)
