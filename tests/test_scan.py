"""The scan pipeline: progress, cancellation with partial results, hostile files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dupfinder.cache import EmbeddingCache
from dupfinder.embedder import Embedder
from dupfinder.grouping import AlignedPair
from dupfinder.jobs import Job, Progress
from dupfinder.scan import Scanner, ScanOptions
from tests.imagegen import corrupt_file, detailed_photo, save, synthetic_photo, truncated_jpeg
from tests.tinymodel import build_tiny_model


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    for seed in range(60):
        save(synthetic_photo(seed, (96, 72)), tmp_path / "pics" / f"{seed:03d}.png")
    return tmp_path / "pics"


def test_progress_reports_every_stage(tiny_model: Path, folder: Path) -> None:
    events: list[Progress] = []
    with EmbeddingCache(None) as cache:
        Scanner(Embedder(tiny_model), cache).scan(
            ScanOptions([folder], batch_size=8), Job(events.append, min_interval=0)
        )
    assert {"discover", "hash", "embed", "group"} <= {e.stage for e in events}
    last_embed = [e for e in events if e.stage == "embed"][-1]
    assert (last_embed.done, last_embed.total) == (60, 60)


def test_cancel_keeps_partial_results_and_a_consistent_cache(
    tiny_model: Path, folder: Path, tmp_path: Path
) -> None:
    def stop_midway(event: Progress) -> bool:
        return not (event.stage == "embed" and event.done >= 16)

    embedder = Embedder(tiny_model)
    with EmbeddingCache(tmp_path / "c.db") as cache:
        partial = (
            Scanner(embedder, cache)
            .scan(ScanOptions([folder], batch_size=8), Job(stop_midway, min_interval=0))
            .report
        )
    assert partial.cancelled and 16 <= partial.stats.images < 60
    with EmbeddingCache(tmp_path / "c.db") as cache:
        full = Scanner(embedder, cache).scan(ScanOptions([folder], batch_size=8)).report
    assert not full.cancelled and full.stats.images == 60
    assert full.stats.cached == partial.stats.images


def test_hostile_files_are_reported_and_the_scan_goes_on(tiny_model: Path, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    save(synthetic_photo(1), root / "good.jpg")
    corrupt_file(root / "junk.jpg")
    truncated_jpeg(synthetic_photo(2), root / "cut.jpg")
    (root / "empty.png").write_bytes(b"")
    (root / "folder.jpg").mkdir()
    os.mkfifo(root / "pipe.jpg")  # opening it would block forever: never touched
    (root / "text.png").write_text("not a picture")
    with EmbeddingCache(None) as cache:
        report = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([root])).report
    assert report.stats.images == 1
    assert sorted(Path(e.path).name for e in report.errors) == ["cut.jpg", "junk.jpg", "text.png"]
    assert all(e.error for e in report.errors)


def test_regroup_uses_the_kept_graph(tiny_model: Path, folder: Path) -> None:
    with EmbeddingCache(None) as cache:
        result = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([folder], threshold=0.95))
    looser = result.regroup(0.5)
    assert looser.threshold == 0.5
    assert sum(len(g.members) for g in looser.groups) >= sum(len(g.members) for g in result.report.groups)


def test_a_recoloured_copy_just_below_the_threshold_joins_by_its_phash(tmp_path: Path) -> None:
    """End to end: pHashes come from the decode, survive the cache, and the card's rule applies."""
    import numpy as np

    from tests.tinymodel import build_tiny_model

    photos = tmp_path / "pics"
    photo = synthetic_photo(7, (320, 240))
    save(photo, photos / "photo.jpg", quality=95)
    save(photo.convert("L").convert("RGB"), photos / "grey.jpg", quality=95)
    save(synthetic_photo(8, (320, 240)), photos / "other.jpg", quality=95)
    plain = build_tiny_model(tmp_path / "plain" / "m.onnx")
    with EmbeddingCache(None) as cache:
        vectors = Scanner(Embedder(plain), cache).scan(ScanOptions([photos])).vectors
    similarity = float(np.max(vectors @ vectors.T - 2 * np.eye(3)))  # the copy's, the closest pair
    threshold = min(0.999, similarity + 0.02)  # the copy falls just below it
    rule = {"margin": 0.05, "max_distance": 4}
    ruled = build_tiny_model(tmp_path / "ruled" / "m.onnx", hash_confirm=rule)
    for model, grouped in ((plain, False), (ruled, True), (ruled, True)):  # the last from the cache
        with EmbeddingCache(tmp_path / "cache.db") as cache:
            report = Scanner(Embedder(model), cache).scan(ScanOptions([photos], threshold=threshold)).report
        names = [{Path(m.image.path).name for m in g.members} for g in report.groups]
        assert names == ([{"photo.jpg", "grey.jpg"}] if grouped else [])
    assert report.stats.cached == 3
    assert report.groups[0].members[1].hash_confirmed


def test_a_mirrored_copy_joins_by_its_mirrored_phash_when_asked_for(tmp_path: Path) -> None:
    """End to end: the mirrored pHash comes from the decode, survives the cache, and counts only
    in a scan that asks for mirrored copies."""
    from PIL import Image

    from tests.tinymodel import build_tiny_model

    photos = tmp_path / "pics"
    # Half symmetric, so the test model (an 8x8 colour grid) scores the mirrored copy about 0.6
    # while its plain pHash and colour signature disagree with the photo's.
    scene = synthetic_photo(7, (320, 240))
    photo = Image.blend(Image.blend(scene, scene.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 0.5), scene, 0.5)
    save(photo, photos / "photo.jpg", quality=95)
    save(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), photos / "mirrored.jpg", quality=90)
    save(synthetic_photo(8, (320, 240)), photos / "other.jpg", quality=95)
    model = build_tiny_model(tmp_path / "m.onnx", hash_confirm={"margin": 0.05, "max_distance": 4})
    with EmbeddingCache(None) as cache:
        vectors = Scanner(Embedder(model), cache).scan(ScanOptions([photos])).vectors
    paths = sorted(photos.iterdir())  # mirrored, other, photo: the order a scan records them
    similarity = float(vectors[0] @ vectors[2])
    threshold = min(0.999, similarity + 0.02)  # the mirrored copy falls just below it
    assert similarity < threshold and [p.name for p in paths] == ["mirrored.jpg", "other.jpg", "photo.jpg"]
    for mirrored, grouped in ((False, False), (True, True), (True, True), (False, False)):  # then cached
        options = ScanOptions([photos], threshold=threshold, mirrored_copies=mirrored)
        with EmbeddingCache(tmp_path / "cache.db") as cache:
            report = Scanner(Embedder(model), cache).scan(options).report
        names = [{Path(m.image.path).name for m in g.members} for g in report.groups]
        assert names == ([{"photo.jpg", "mirrored.jpg"}] if grouped else [])
        if grouped:
            assert report.groups[0].members[1].hash_view == "mirrored"
    assert report.stats.cached == 3


def test_a_screenshot_showing_a_photo_joins_it_from_a_fresh_decode_and_from_the_cache(
    tiny_model: Path, tmp_path: Path
) -> None:
    """End to end: the decode finds the pasted picture, the batch embeds it, the cache keeps it."""
    from trainer.augment import screenshot_canvas

    photos = tmp_path / "pics"
    photo = synthetic_photo(11, (320, 240))
    save(photo, photos / "photo.jpg", quality=92)
    save(screenshot_canvas(photo, 1.6, 0.4, 0.5, seed=3), photos / "screenshot.png")
    save(synthetic_photo(12, (320, 240)), photos / "other.jpg", quality=92)
    for cached in (0, 3):
        with EmbeddingCache(tmp_path / "cache.db") as cache:
            result = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([photos], batch_size=2))
        report = result.report
        assert report.stats.cached == cached
        assert [[Path(m.image.path).name for m in g.members] for g in report.groups] == [
            ["photo.jpg", "screenshot.png"]
        ]
        assert report.groups[0].members[1].screenshot_match
    names = [Path(record.path).name for record in result.graph.records]
    whole, alone = (result.vectors[names.index(name)] for name in ("screenshot.png", "photo.jpg"))
    assert float(whole @ alone) < report.threshold  # as a whole, the screenshot would not match


def test_a_letterboxed_copy_is_not_kept_over_the_photo_from_a_fresh_decode_and_from_the_cache(
    tmp_path: Path,
) -> None:
    from tests.tinymodel import build_tiny_model
    from trainer.augment import pad_to_aspect

    model = build_tiny_model(tmp_path / "model" / "m.onnx", resize="trim-stretch")
    photos = tmp_path / "pics"
    photo = synthetic_photo(13, (400, 300))
    save(photo, photos / "photo.png")
    save(pad_to_aspect(photo, 1.0), photos / "square.png")  # 400×400, a quarter of it bars
    for cached in (0, 2):
        with EmbeddingCache(tmp_path / "cache.db") as cache:
            report = Scanner(Embedder(model), cache).scan(ScanOptions([photos])).report
        assert report.stats.cached == cached
        assert [Path(m.image.path).name for m in report.groups[0].members] == ["photo.png", "square.png"]
        assert report.groups[0].members[1].image.picture_share == pytest.approx(0.75, abs=0.02)


def test_a_copy_turned_a_quarter_in_its_pixels_joins_from_a_fresh_decode_and_from_the_cache(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The tiny model is not turn-invariant, so only the portrait copy's turned look can match."""
    from PIL import Image

    photos = tmp_path / "pics"
    photo = synthetic_photo(14, (400, 300))
    save(photo, photos / "photo.png")
    save(photo.transpose(Image.Transpose.ROTATE_90), photos / "turned.png")
    save(synthetic_photo(15, (300, 400)), photos / "other-portrait.png")
    with EmbeddingCache(tmp_path / "cache.db") as cache:
        plain = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([photos])).report
    assert plain.groups == []  # off by default: it costs two inferences per portrait picture
    for cached in (1, 3):  # the landscape photo was cached without turns; the portraits lack them
        with EmbeddingCache(tmp_path / "cache.db") as cache:
            result = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([photos], turned_copies=True))
        report = result.report
        assert report.stats.cached == cached
        names = [{Path(m.image.path).name for m in g.members} for g in report.groups]
        assert names == [{"photo.png", "turned.png"}]
        reference, member = report.groups[0].members
        assert member.turned_match and not reference.turned_match
        assert reference.image.bytes >= member.image.bytes  # the same pixels: the bigger file is kept
    names = [Path(record.path).name for record in result.graph.records]
    whole, photo_vector = (result.vectors[names.index(name)] for name in ("turned.png", "photo.png"))
    assert float(whole @ photo_vector) < report.threshold  # as a whole, the turned copy would not match


def test_a_cropped_copy_joins_from_a_fresh_decode_and_from_the_cache(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The crop keeps the photo's centre 36%: as a whole it is unlike the photo to the tiny model,
    but it is the photo's centre region, which a scan with cropped copies embeds."""
    photos = tmp_path / "pics"
    photo = synthetic_photo(16, (400, 300))
    save(photo, photos / "photo.png")
    save(photo.crop((80, 60, 320, 240)), photos / "crop.png")
    save(synthetic_photo(17, (200, 150)), photos / "other.png")
    with EmbeddingCache(tmp_path / "cache.db") as cache:
        plain = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([photos])).report
    assert plain.groups == []  # off by default: it costs up to six inferences per picture
    for cached in (0, 3):  # the first scan cached no regions, so every picture is decoded again
        with EmbeddingCache(tmp_path / "cache.db") as cache:
            result = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([photos], cropped_copies=True))
        report = result.report
        assert report.stats.cached == cached
        assert [[Path(m.image.path).name for m in g.members] for g in report.groups] == [
            ["photo.png", "crop.png"]
        ]
        assert report.groups[0].members[1].cropped_match
    names = [Path(record.path).name for record in result.graph.records]
    crop, photo_vector = (result.vectors[names.index(name)] for name in ("crop.png", "photo.png"))
    assert float(crop @ photo_vector) < report.threshold  # as a whole, the crop would not match


def test_a_scan_knows_which_pictures_are_greyscale_fresh_and_from_the_cache(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The best copy prefers colour to greyscale (`quality_key`): the records must say which is
    which, whether the picture was just decoded or read back from the cache."""
    photos = tmp_path / "pics"
    photo = synthetic_photo(7, (320, 240))
    save(photo, photos / "photo.jpg", quality=80)
    save(photo.convert("L"), photos / "photo-bw.png")
    for _ in range(2):
        with EmbeddingCache(tmp_path / "cache.db") as cache:
            result = Scanner(Embedder(tiny_model), cache).scan(ScanOptions([photos]))
        colourless = {Path(r.path).name: r.colourless for r in result.graph.records}
        assert colourless == {"photo.jpg": False, "photo-bw.png": True}
    assert result.report.stats.cached == 2


def _photo_and_its_crop(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny model whose card aligns pairs from 0.5 up, and a folder with a photo and a crop of it
    (94% of each side) that the tiny model scores about 0.9 as a whole."""
    model = build_tiny_model(
        tmp_path / "model.onnx", threshold=0.98, alignment={"floor": 0.5, "min_similarity": 0.97}
    )
    photos = tmp_path / "pics"
    photo = detailed_photo(21, (480, 360))
    save(photo, photos / "photo.jpg", quality=92)
    save(photo.crop((30, 0, 480, 340)), photos / "crop.jpg", quality=85)
    return model, photos


def test_an_off_centre_crop_joins_once_aligned_and_not_without(tmp_path: Path) -> None:
    """The tiny model scores the crop, stretched to its square input, well under the threshold;
    aligned, the crop and the part of the photo it shows are the same pixels."""
    model, photos = _photo_and_its_crop(tmp_path)
    save(detailed_photo(22, (480, 360)), photos / "other.jpg", quality=92)
    events: list[Progress] = []
    with EmbeddingCache(tmp_path / "cache.db") as cache:
        scanner = Scanner(Embedder(model), cache)
        without = scanner.scan(ScanOptions([photos]))  # off by default
        result = scanner.scan(ScanOptions([photos], aligned_copies=True), Job(events.append))
        stopped = scanner.scan(
            ScanOptions([photos], aligned_copies=True), Job(lambda event: event.stage != "align")
        )
    assert without.report.groups == []
    assert [(e.done, e.total) for e in events if e.stage == "align"] == [(0, 1), (1, 1)]
    assert stopped.report.cancelled and stopped.report.groups == []  # stopped before the pair
    names = [Path(record.path).name for record in result.graph.records]
    crop, whole = (result.vectors[names.index(name)] for name in ("crop.jpg", "photo.jpg"))
    assert 0.5 <= float(crop @ whole) < 0.98  # asked about, and no match as a whole
    assert [[Path(m.image.path).name for m in g.members] for g in result.report.groups] == [
        ["photo.jpg", "crop.jpg"]
    ]
    assert result.report.groups[0].members[1].aligned_match


def test_a_rescan_takes_alignments_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dupfinder.alignment import PairAligner

    model, photos = _photo_and_its_crop(tmp_path)
    with EmbeddingCache(tmp_path / "cache.db") as cache:
        first = Scanner(Embedder(model), cache).scan(ScanOptions([photos], aligned_copies=True)).report

    def no_decoding(self: PairAligner, first: str, second: str) -> AlignedPair | None:
        raise AssertionError("a pair aligned before was decoded again")

    monkeypatch.setattr(PairAligner, "align", no_decoding)
    with EmbeddingCache(tmp_path / "cache.db") as cache:
        again = Scanner(Embedder(model), cache).scan(ScanOptions([photos], aligned_copies=True)).report
        with pytest.raises(AssertionError, match="decoded again"):  # other views: not cached
            Scanner(Embedder(model), cache).scan(
                ScanOptions([photos], aligned_copies=True, mirrored_copies=True)
            )
    assert again.stats.cached == 2
    assert [[m.aligned_match for m in g.members] for g in again.groups] == [[False, True]]
    assert [[m.image.path for m in g.members] for g in again.groups] == [
        [m.image.path for m in g.members] for g in first.groups
    ]
