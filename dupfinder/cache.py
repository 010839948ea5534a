"""The embedding cache: SQLite in WAL mode, so a rescan decodes only new or changed files.

Three tables. `files` maps a path to its size, modification time (real `st_mtime_ns`) and
fingerprint. `contents` holds what is true of the bytes (pixel size, full content hash), keyed by
fingerprint, size and mtime, so a file that was only moved or renamed (same bytes, same mtime) is
recognised without decoding it. `embeddings` holds one vector per content and model hash, with the
perceptual hash taken from the same decode (it depends on the model's resize rule) and, for a
screenshot with a picture pasted in, the vector of that picture alone, and for a portrait picture
its vectors turned a quarter each way (both NULL for most files), the vectors of the regions a crop
would keep (NULL until a scan asks for cropped copies), the share of the picture that is not
letterbox or pillarbox bars, and the pHashes of the picture mirrored and turned. `aligned_parts`
remembers what aligning two contents gave (`dupfinder.alignment`), so a rescan decodes no pair again.
Only parameterised SQL; one rebuild if the file is corrupt; a schema-version row.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dupfinder import phash
from dupfinder.grouping import AlignedPair

log = logging.getLogger(__name__)

SCHEMA_VERSION = 8  # 2: embeddings carry the pHash; 3: a screenshot's inner vector; 4: picture
# share and a portrait picture's two turned vectors; 5: banded pictures (flags) are no longer cut
# as if their outer bands were letterbox bars, so their cached vectors are stale; 6: the colour
# signature that keeps the pHash rule from joining two colour schemes; 7: region vectors for
# cropped copies; 8: the pHashes of the picture mirrored and turned

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    fingerprint TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contents (
    fingerprint TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    width INTEGER, height INTEGER, content_hash TEXT,
    PRIMARY KEY (fingerprint, size, mtime_ns));
CREATE TABLE IF NOT EXISTS embeddings (
    fingerprint TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    model TEXT NOT NULL, vector BLOB NOT NULL, phash INTEGER, inner BLOB, picture_share REAL,
    turned BLOB, chroma INTEGER, regions BLOB, phash_views BLOB,
    PRIMARY KEY (fingerprint, size, mtime_ns, model));
DROP TABLE IF EXISTS alignments;
CREATE TABLE IF NOT EXISTS aligned_parts (
    first TEXT NOT NULL, second TEXT NOT NULL, model TEXT NOT NULL, views TEXT NOT NULL, score REAL,
    first_inside INTEGER, second_inside INTEGER,
    PRIMARY KEY (first, second, model, views));
"""
# `alignments`, the table before `aligned_parts`, did not say which picture lies inside the other:
# it is dropped, and the embeddings are kept.


def default_cache_dir() -> Path:
    """The platform's cache folder for dupfinder."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "dupfinder" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "dupfinder"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dupfinder"


@dataclass(frozen=True)
class ContentKey:
    """Identity of a file's bytes as far as the cache is concerned."""

    fingerprint: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class CachedImage:
    width: int
    height: int
    vector: np.ndarray
    phash: int
    inner: np.ndarray | None = None  # the vector of a picture pasted into this screenshot
    picture_share: float = 1.0  # share of the area inside any letterbox/pillarbox bars
    turned: np.ndarray | None = None  # a portrait picture's vectors turned a quarter each way (2, D)
    chroma: int = 0  # colour layout (`dupfinder.chroma`)
    regions: np.ndarray | None = None  # vectors of the regions a crop would keep (R, D), R may be 0
    phash_views: tuple[int, ...] = ()  # the pHashes mirrored and turned (`dupfinder.phash.VIEWS`)


class EmbeddingCache:
    """Dict-like access to cached fingerprints, pixel sizes, content hashes and embeddings.

    `path=None` keeps everything in memory (the CLI's `--no-cache`).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._connect(":memory:")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect(str(self.path))
        except sqlite3.DatabaseError as error:
            log.warning("cache %s is unreadable (%s); rebuilding it", self.path, error)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return self._connect(str(self.path))

    @staticmethod
    def _connect(target: str) -> sqlite3.Connection:
        db = sqlite3.connect(target, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and int(row[0]) != SCHEMA_VERSION:
                # An older layout: start afresh rather than migrate a cache.
                db.executescript(
                    "DROP TABLE files; DROP TABLE contents; DROP TABLE embeddings; "
                    "DROP TABLE IF EXISTS aligned_parts;"
                )
                db.executescript(_SCHEMA)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def known_fingerprint(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The stored fingerprint if the path is unchanged since it was cached."""
        row = self._db.execute(
            "SELECT fingerprint FROM files WHERE path=? AND size=? AND mtime_ns=?",
            (path, size, mtime_ns),
        ).fetchone()
        return row[0] if row else None

    def remember_path(self, path: str, key: ContentKey) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files (path, size, mtime_ns, fingerprint) VALUES (?, ?, ?, ?)",
            (path, key.size, key.mtime_ns, key.fingerprint),
        )

    def image(self, key: ContentKey, model: str) -> CachedImage | None:
        """Pixel size, embedding, pHash, inner vector, picture share, turned vectors, colour
        signature, region vectors and pHash views of these bytes, this model."""
        row = self._db.execute(
            "SELECT c.width, c.height, e.vector, e.phash, e.inner, e.picture_share, e.turned, e.chroma, "
            "e.regions, e.phash_views "
            "FROM contents c JOIN embeddings e "
            "ON e.fingerprint=c.fingerprint AND e.size=c.size AND e.mtime_ns=c.mtime_ns "
            "WHERE c.fingerprint=? AND c.size=? AND c.mtime_ns=? AND e.model=?",
            (key.fingerprint, key.size, key.mtime_ns, model),
        ).fetchone()
        if row is None or row[0] is None or row[3] is None:
            return None
        inner = None if row[4] is None else np.frombuffer(row[4], dtype=np.float32).copy()
        dim = len(row[2]) // 4
        return CachedImage(
            row[0],
            row[1],
            np.frombuffer(row[2], dtype=np.float32).copy(),
            phash.from_signed(row[3]),
            inner,
            1.0 if row[5] is None else float(row[5]),
            None if row[6] is None else np.frombuffer(row[6], dtype=np.float32).reshape(2, -1).copy(),
            0 if row[7] is None else int(row[7]),
            None if row[8] is None else np.frombuffer(row[8], dtype=np.float32).reshape(-1, dim).copy(),
            () if row[9] is None else tuple(int(h) for h in np.frombuffer(row[9], dtype="<u8")),
        )

    def store_image(
        self,
        key: ContentKey,
        model: str,
        width: int,
        height: int,
        vector: np.ndarray,
        perceptual_hash: int,
        inner: np.ndarray | None = None,
        picture_share: float = 1.0,
        turned: np.ndarray | None = None,
        chroma: int = 0,
        regions: np.ndarray | None = None,
        phash_views: tuple[int, ...] = (),
    ) -> None:
        self._db.execute(
            "INSERT INTO contents (fingerprint, size, mtime_ns, width, height) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET width=excluded.width, height=excluded.height",
            (key.fingerprint, key.size, key.mtime_ns, width, height),
        )
        self._db.execute(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.fingerprint,
                key.size,
                key.mtime_ns,
                model,
                np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                phash.to_signed(perceptual_hash),
                None if inner is None else np.ascontiguousarray(inner, dtype=np.float32).tobytes(),
                picture_share,
                None if turned is None else np.ascontiguousarray(turned, dtype=np.float32).tobytes(),
                chroma,
                None if regions is None else np.ascontiguousarray(regions, dtype=np.float32).tobytes(),
                np.array(phash_views, dtype="<u8").tobytes() if phash_views else None,
            ),
        )

    def content_hash(self, key: ContentKey) -> str | None:
        row = self._db.execute(
            "SELECT content_hash FROM contents WHERE fingerprint=? AND size=? AND mtime_ns=?",
            (key.fingerprint, key.size, key.mtime_ns),
        ).fetchone()
        return row[0] if row else None

    def store_content_hash(self, key: ContentKey, digest: str) -> None:
        self._db.execute(
            "INSERT INTO contents (fingerprint, size, mtime_ns, content_hash) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET content_hash=excluded.content_hash",
            (key.fingerprint, key.size, key.mtime_ns, digest),
        )

    def alignment(
        self, first: ContentKey, second: ContentKey, model: str, views: str
    ) -> tuple[bool, AlignedPair | None]:
        """Whether this pair of contents was aligned with this model and these views, and what
        that found, in the order asked (None: neither lies inside the other)."""
        (one, other), flipped = _pair_ids(first, second)
        row = self._db.execute(
            "SELECT score, first_inside, second_inside FROM aligned_parts "
            "WHERE first=? AND second=? AND model=? AND views=?",
            (one, other, model, views),
        ).fetchone()
        if row is None:
            return False, None
        if row[0] is None:
            return True, None
        found = AlignedPair(float(row[0]), bool(row[1]), bool(row[2]))
        return True, found.reversed() if flipped else found

    def store_alignment(
        self, first: ContentKey, second: ContentKey, model: str, views: str, found: AlignedPair | None
    ) -> None:
        (one, other), flipped = _pair_ids(first, second)
        if found is not None and flipped:
            found = found.reversed()
        row = (None, None, None) if found is None else (found.score, found.first_inside, found.second_inside)
        self._db.execute(
            "INSERT OR REPLACE INTO aligned_parts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (one, other, model, views, *row),
        )

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pair_ids(first: ContentKey, second: ContentKey) -> tuple[tuple[str, str], bool]:
    """Two contents as the aligned_parts table keys them, in one order whichever comes first, and
    whether that order is the reverse of the one given."""
    one, other = (f"{key.fingerprint}:{key.size}:{key.mtime_ns}" for key in (first, second))
    return ((other, one), True) if other < one else ((one, other), False)
