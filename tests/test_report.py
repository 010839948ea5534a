"""The report structure and its JSON, CSV and text renderings."""

from __future__ import annotations

import json

from dupfinder.report import (
    CSV_COLUMNS,
    FileError,
    Group,
    ImageRecord,
    Member,
    Report,
    to_csv,
    to_json,
    to_text,
)


def _report() -> Report:
    reference = Member(ImageRecord("/a/big.jpg", 800, 600, 300_000, 1.5e9), 1.0)
    copy = Member(ImageRecord("/b/small.jpg", 400, 300, 80_000, 1.6e9), 0.97312345678)
    report = Report(
        "m",
        "0" * 64,
        0.9,
        "cpu",
        ["/a", "/b"],
        groups=[Group(1, "near", (reference, copy))],
        errors=[FileError("/b/bad.jpg", "truncated or corrupt picture data")],
    )
    report.stats.files, report.stats.images, report.stats.errors = 3, 2, 1
    return report


def test_json_schema_version_1() -> None:
    payload = json.loads(to_json(_report()))
    assert payload["version"] == 1
    assert payload["model"] == {"name": "m", "sha256": "0" * 64}
    assert payload["stats"] == {"files": 3, "images": 2, "cached": 0, "errors": 1, "seconds": 0.0}
    member = payload["groups"][0]["members"][1]
    assert member == {
        "path": "/b/small.jpg",
        "similarity": 0.973123,
        "width": 400,
        "height": 300,
        "bytes": 80_000,
        "mtime": 1.6e9,
    }
    assert payload["errors"] == [{"path": "/b/bad.jpg", "error": "truncated or corrupt picture data"}]


def test_csv_has_one_row_per_member() -> None:
    lines = to_csv(_report()).splitlines()
    assert lines[0].split(",") == list(CSV_COLUMNS)
    assert lines[1].startswith("1,near,reference,/a/big.jpg,1.0,800,600")
    assert lines[2].startswith("1,near,duplicate,/b/small.jpg")


def test_text_summary_mentions_reclaimable_bytes_and_errors() -> None:
    text = to_text(_report())
    assert "1 group(s) among 2 picture(s)" in text and "78.1 KiB reclaimable" in text
    assert "/b/bad.jpg: truncated" in text


def test_reclaimable_bytes_excludes_the_reference() -> None:
    assert _report().groups[0].reclaimable_bytes == 80_000
