"""Exact copies: size collisions first, then fingerprints, then full hashes."""

from __future__ import annotations

from pathlib import Path

from dupfinder import hashing


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_exact_clusters_only_hash_size_collisions(tmp_path: Path) -> None:
    big = bytes(range(256)) * 1024  # 256 KiB, so the middle is not in the fingerprint
    a = _write(tmp_path / "a", big)
    b = _write(tmp_path / "b", big)
    middle_changed = bytearray(big)
    middle_changed[128 * 1024] ^= 0xFF
    c = _write(tmp_path / "c", bytes(middle_changed))
    d = _write(tmp_path / "d", b"unique")
    full_hashed: list[str] = []

    def full(path: str) -> str:
        full_hashed.append(path)
        return hashing.content_hash(path)

    sizes = {p: Path(p).stat().st_size for p in (a, b, c, d)}
    partial = hashing.safe(lambda p: hashing.fingerprint(p, sizes[p]))
    assert hashing.exact_clusters(sizes, full, partial) == [[a, b]]
    assert sorted(full_hashed) == [a, b, c]  # same size and same ends; `d` never read in full
    assert hashing.fingerprint(a, sizes[a]) == hashing.fingerprint(c, sizes[c])


def test_unreadable_file_joins_no_cluster(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", b"same")
    b = _write(tmp_path / "b", b"same")
    missing = str(tmp_path / "gone")
    sizes = {a: 4, b: 4, missing: 4}
    safe_hash = hashing.safe(hashing.content_hash)
    assert hashing.exact_clusters(sizes, safe_hash, safe_hash) == [[a, b]]


def test_fingerprint_differs_for_small_files_with_different_bytes(tmp_path: Path) -> None:
    a = _write(tmp_path / "a", b"x" * 100)
    b = _write(tmp_path / "b", b"y" * 100)
    assert hashing.fingerprint(a, 100) != hashing.fingerprint(b, 100)
