"""`dupfinder scan` end to end on generated pictures: report schema, formats, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from dupfinder.cli import main
from tests.imagegen import corrupt_file, save, synthetic_photo


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    """An original, its resized and re-encoded copies, a byte copy, unrelated pictures, junk."""
    root = tmp_path / "library"
    original = synthetic_photo(7, (640, 480))
    save(original, root / "original.png")
    save(original.resize((320, 240), Image.Resampling.LANCZOS), root / "copies" / "half.png")
    save(original, root / "copies" / "reencoded.jpg", quality=40)
    save(original.resize((160, 120)), root / "copies" / "thumb.webp", quality=70)
    (root / "backup").mkdir()
    (root / "backup" / "original.png").write_bytes((root / "original.png").read_bytes())
    second = synthetic_photo(8, (500, 500))
    save(second, root / "other" / "b.jpg", quality=95)
    save(second, root / "other" / "b-copy.jpg", quality=95)
    for seed in range(20, 30):
        save(synthetic_photo(seed, (300, 200)), root / "unrelated" / f"u{seed}.jpg", quality=85)
    corrupt_file(root / "broken.jpg")
    return root


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["scan", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_report_groups_copies_and_lists_errors(
    library: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        str(library),
        "--format",
        "json",
        "--model",
        str(tiny_model),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert code == 0
    report = json.loads(out)
    assert report["version"] == 1
    assert set(report) >= {"model", "threshold", "device", "roots", "stats", "groups", "errors"}
    assert report["model"]["name"] == "tiny-test-model" and len(report["model"]["sha256"]) == 64
    assert report["threshold"] == 0.9 and report["device"] == "cpu"
    assert report["stats"] | {"seconds": 0} == {
        "files": 18,
        "images": 17,
        "cached": 0,
        "errors": 1,
        "seconds": 0,
    }
    groups = {
        frozenset(os.path.relpath(m["path"], library) for m in g["members"]): g for g in report["groups"]
    }
    first = frozenset(
        {
            "original.png",
            "backup/original.png",
            "copies/half.png",
            "copies/reencoded.jpg",
            "copies/thumb.webp",
        }
    )
    assert set(groups) == {first, frozenset({"other/b.jpg", "other/b-copy.jpg"})}
    near = groups[first]
    assert near["kind"] == "near"
    reference = near["members"][0]
    assert (reference["width"], reference["height"], reference["similarity"]) == (640, 480, 1.0)
    assert os.path.isabs(reference["path"])
    assert all(set(m) == {"path", "similarity", "width", "height", "bytes", "mtime"} for m in near["members"])
    assert groups[frozenset({"other/b.jpg", "other/b-copy.jpg"})]["kind"] == "exact"
    assert [os.path.basename(e["path"]) for e in report["errors"]] == ["broken.jpg"]


def test_rescan_uses_the_cache(
    library: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = (str(library), "--format", "json", "--model", str(tiny_model), "--cache-dir", str(tmp_path))
    _run(capsys, *args)
    _, out, _ = _run(capsys, *args)
    assert json.loads(out)["stats"]["cached"] == 17


def test_threshold_flag_changes_grouping(
    library: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(
        capsys,
        str(library),
        "--format",
        "json",
        "--model",
        str(tiny_model),
        "--no-cache",
        "--threshold",
        "1.0",
    )
    assert {g["kind"] for g in json.loads(out)["groups"]} == {"exact"}


def test_csv_and_text_formats(
    library: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "groups.csv"
    code, out, _ = _run(
        capsys,
        str(library),
        "--format",
        "csv",
        "--output",
        str(target),
        "--model",
        str(tiny_model),
        "--no-cache",
    )
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 7 and sum(r["role"] == "reference" for r in rows) == 2
    _, text, _ = _run(capsys, str(library), "--model", str(tiny_model), "--no-cache", "--quiet")
    assert "2 group(s)" in text and "broken.jpg" in text


def test_exclude_hidden_and_min_size_flags(
    library: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(
        capsys,
        str(library),
        "--format",
        "json",
        "--model",
        str(tiny_model),
        "--no-cache",
        "--exclude",
        "copies",
        "--exclude",
        "backup",
        "--min-size",
        "2000",
    )
    report = json.loads(out)
    assert report["stats"]["errors"] == 0  # broken.jpg is under 2000 bytes
    assert [len(g["members"]) for g in report["groups"]] == [2]


def test_missing_model_is_a_clear_fatal_error(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, str(library), "--model", str(tmp_path / "none.onnx"))
    assert code == 1 and out == ""
    assert "no model found" in err and "dupfinder-train" in err and err.count("\n") == 1


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", ".", "--threshold", "3"])
    assert exit_info.value.code == 2


def test_console_script_runs_as_a_process(library: Path, tiny_model: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dupfinder.cli",
            "scan",
            str(library / "other"),
            "--format",
            "json",
            "--model",
            str(tiny_model),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["groups"]) == 1
