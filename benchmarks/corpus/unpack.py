"""Unpack the archives some packages keep their pictures in: Qt resource bundles and zip (.pk3) files.

GCompris ships every activity's pictures inside compiled Qt resource files (`*.rcc`) and UFO:AI its
textures inside a zip named `.pk3`. Their images are written next to the archive, under
`<archive>.d/<path inside the archive>`, so package rules can select them like any other file.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

RCC_COMPRESSED, RCC_DIRECTORY, RCC_ZSTD = 0x01, 0x02, 0x04


def read_rcc(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (path, content) for every file in a Qt binary resource (format versions 1 to 3).

    Header: magic `qres`, version, then offsets of the node tree, the data and the names. A tree
    node is 14 bytes (22 from version 2, which adds a modification time); names are UTF-16BE with a
    2-byte length and a 4-byte hash; data entries are length-prefixed, zlib ones also carry the
    uncompressed size. zstd entries are skipped (the standard library cannot read them).
    """
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    node_size = 22 if version >= 2 else 14

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[node : node + 6])
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack(">II", data[node + 6 : node + 14])
            stack.extend((first + i, path) for i in range(count))
            continue
        (offset,) = struct.unpack(">I", data[node + 10 : node + 14])
        (length,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
        content = data[payload + offset + 4 : payload + offset + 4 + length]
        if flags & RCC_ZSTD:
            continue
        yield path.lstrip("/"), zlib.decompress(content[4:]) if flags & RCC_COMPRESSED else content


def safe_target(base: Path, member: str) -> Path | None:
    """Where an archive member goes; None for names that would escape the target folder."""
    parts = [p for p in member.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return base.joinpath(*parts)


def members(archive: Path) -> Iterator[tuple[str, bytes]]:
    """Files inside one supported archive."""
    if archive.suffix == ".rcc":
        yield from read_rcc(archive.read_bytes())
        return
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                yield info.filename, zf.read(info)


def expand_archives(root: Path, wanted_exts: frozenset[str]) -> int:
    """Extract the images of every archive under root; returns how many files were written."""
    written = 0
    for archive in sorted([*root.rglob("*.rcc"), *root.rglob("*.pk3")]):
        base = archive.with_name(archive.name + ".d")
        for name, content in members(archive):
            target = safe_target(base, name)
            if target is None or target.suffix.lower() not in wanted_exts:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            written += 1
    return written
