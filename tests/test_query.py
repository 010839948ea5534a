"""Find similar: the library call and `dupfinder query`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dupfinder.cache import EmbeddingCache
from dupfinder.cli import main
from dupfinder.embedder import Embedder
from dupfinder.imaging import DecodeError
from dupfinder.query import find_similar, similar_in
from dupfinder.scan import Scanner, ScanOptions
from tests.imagegen import corrupt_file, save, synthetic_photo


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("query")
    for seed in range(6):
        save(synthetic_photo(seed), root / "photos" / f"p{seed}.jpg", quality=90)
    save(synthetic_photo(3).resize((160, 120)), root / "photos" / "small" / "p3-small.png")
    save(synthetic_photo(3).resize((200, 150)), root / "query.jpg", quality=70)
    return root


def test_closest_pictures_come_first(folder: Path, tiny_model: Path) -> None:
    scanner = Scanner(Embedder(tiny_model, device="cpu"), EmbeddingCache(None))
    matches, result = find_similar(scanner, folder / "query.jpg", ScanOptions([folder / "photos"]), 3)
    assert len(matches) == 3
    assert {Path(m.image.path).name for m in matches[:2]} == {"p3.jpg", "p3-small.png"}
    assert matches[0].similarity > 0.95 > matches[2].similarity
    assert result.report.stats.images == 7
    with pytest.raises(ValueError, match="count"):
        similar_in(result, result.vectors[0], 0)


def test_unreadable_query_fails_fast(folder: Path, tiny_model: Path, tmp_path: Path) -> None:
    scanner = Scanner(Embedder(tiny_model, device="cpu"), EmbeddingCache(None))
    with pytest.raises(DecodeError):
        find_similar(scanner, corrupt_file(tmp_path / "bad.jpg"), ScanOptions([folder / "photos"]))


def test_cli_query_json(folder: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "query",
            str(folder / "query.jpg"),
            str(folder / "photos"),
            "--model",
            str(tiny_model),
            "--count",
            "2",
            "--format",
            "json",
            "--no-cache",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["query"].endswith("query.jpg") and len(payload["matches"]) == 2
    assert Path(payload["matches"][0]["path"]).stem.startswith("p3")
    assert set(payload["matches"][0]) == {"path", "similarity", "width", "height", "bytes", "mtime"}


def test_cli_query_text_and_errors(
    folder: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "query",
                str(folder / "query.jpg"),
                str(folder / "photos"),
                "--model",
                str(tiny_model),
                "--no-cache",
            ]
        )
        == 0
    )
    assert "closest picture(s)" in capsys.readouterr().out
    bad = corrupt_file(tmp_path / "bad.jpg")
    assert main(["query", str(bad), str(folder / "photos"), "--model", str(tiny_model), "--no-cache"]) == 1
    assert "bad.jpg" in capsys.readouterr().err
    assert (
        main(
            [
                "query",
                str(folder / "query.jpg"),
                str(folder),
                "--model",
                str(tmp_path / "missing.onnx"),
                "--no-cache",
            ]
        )
        == 1
    )


def test_a_screenshot_query_finds_the_photo_it_shows(folder: Path, tiny_model: Path, tmp_path: Path) -> None:
    from dupfinder.query import embed_file
    from trainer.augment import screenshot_canvas

    shot = save(screenshot_canvas(synthetic_photo(4), 1.6, 0.4, 0.5, seed=2), tmp_path / "shot.png")
    scanner = Scanner(Embedder(tiny_model, device="cpu"), EmbeddingCache(None))
    matches, result = find_similar(scanner, shot, ScanOptions([folder / "photos"]), 3)
    assert Path(matches[0].image.path).name == "p4.jpg" and matches[0].similarity > 0.95
    looks = embed_file(scanner.embedder, shot)
    assert looks.shape[0] == 2  # the whole screenshot and the photo pasted in it
    by_whole = similar_in(result, looks[0], 3)
    assert by_whole[0].similarity < 0.9  # the whole screenshot alone matches nothing well
