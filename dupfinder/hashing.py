"""Byte-level identity of files: a cheap fingerprint and a full content hash.

The fingerprint (size plus the first and last 64 KiB) recognises a file that was moved or renamed
without reading it whole. Exact copies are found as fdupes does: only files whose sizes collide are
fingerprinted, and only fingerprints that collide are hashed in full.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable

CHUNK = 64 * 1024
_READ_BLOCK = 1024 * 1024


def fingerprint(path: str, size: int) -> str:
    """Hash of the size, the first and the last 64 KiB: enough to tell moved files apart."""
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        digest.update(handle.read(CHUNK))
        if size > CHUNK:
            handle.seek(max(CHUNK, size - CHUNK))
            digest.update(handle.read(CHUNK))
    return digest.hexdigest()


def content_hash(path: str) -> str:
    """Hash of every byte (BLAKE2b, 128 bits), read in blocks so memory stays flat."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def candidate_sets(sizes: dict[str, int]) -> list[list[str]]:
    """Paths grouped by equal size, keeping only sizes shared by two or more files."""
    by_size: dict[int, list[str]] = defaultdict(list)
    for path, size in sizes.items():
        by_size[size].append(path)
    return [sorted(paths) for paths in by_size.values() if len(paths) > 1]


def exact_clusters(
    sizes: dict[str, int],
    full_hash: Callable[[str], str | None],
    partial_hash: Callable[[str], str | None],
) -> list[list[str]]:
    """Clusters of byte-identical files among `sizes` (path → size).

    `partial_hash` and `full_hash` may come from a cache; they return None for an unreadable file,
    which then joins no cluster.
    """
    clusters: list[list[str]] = []
    for same_size in candidate_sets(sizes):
        for same_ends in _split_by(same_size, partial_hash):
            clusters.extend(_split_by(same_ends, full_hash))
    return sorted(clusters)


def _split_by(paths: Iterable[str], key: Callable[[str], str | None]) -> list[list[str]]:
    buckets: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        value = key(path)
        if value is not None:
            buckets[value].append(path)
    return [sorted(bucket) for bucket in buckets.values() if len(bucket) > 1]


def safe(function: Callable[[str], str]) -> Callable[[str], str | None]:
    """Wrap a hash so an unreadable file gives None instead of ending the scan."""

    def wrapped(path: str) -> str | None:
        try:
            return function(path)
        except OSError:
            return None

    return wrapped
