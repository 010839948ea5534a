"""The scan report: groups, members, similarities and errors.

One structure feeds the GUI, the JSON output and the CSV output. The JSON schema is versioned
(`REPORT_VERSION`) and documented in the README.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal

REPORT_VERSION = 1

GroupKind = Literal["exact", "near"]


@dataclass(frozen=True)
class ImageRecord:
    """What the engine knows about one picture: where it is and what it looks like."""

    path: str  # absolute
    width: int
    height: int
    bytes: int
    mtime: float  # seconds since the epoch
    picture_share: float = 1.0  # of the area, what is inside any letterbox/pillarbox bars
    colourless: bool = False  # greyscale or nearly (`dupfinder.chroma.is_colourless`)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def picture_pixels(self) -> int:
        """Pixels of the picture itself: bars added around it do not make a copy better."""
        return round(self.pixels * self.picture_share)


def picture_payload(record: ImageRecord, similarity: float) -> dict[str, Any]:
    """One picture with a similarity, as every JSON output writes it."""
    return {
        "path": record.path,
        "similarity": round(float(similarity), 6),
        "width": record.width,
        "height": record.height,
        "bytes": record.bytes,
        "mtime": record.mtime,
    }


@dataclass(frozen=True)
class Member:
    """One file in a group, with its similarity to the group's reference (1.0 for the reference).

    `hash_confirmed` marks a member below the threshold that joined because its perceptual hash
    nearly equals the reference's, so a reader is not puzzled by a similarity under the slider.
    `screenshot_match` marks a screenshot that joined because the picture pasted into it matches
    the reference (its similarity is that picture's, not the whole screenshot's); `turned_match`
    a portrait picture that joined because, turned a quarter, it matches the landscape reference;
    `cropped_match` a smaller picture that joined because it matches a region of the reference;
    `aligned_match` a picture the model scored below the threshold as a whole that joined because
    one of the two lies inside the other (a crop, a tilt, a frame) and their shared part, aligned,
    matches (`dupfinder.alignment`): its similarity is the aligned part's;
    `group_match` a copy that came with a second group of the same picture (`dupfinder.grouping`,
    `MERGE_SHARE`), or joined through one of the group's copies (the one hop of
    `dupfinder.grouping`), and does not match the reference itself: its similarity is its best
    match among the copies it joined.
    """

    image: ImageRecord
    similarity: float
    hash_confirmed: bool = False
    hash_view: str = ""  # with hash_confirmed: "mirrored" or "turned ..." when the hashes agree so
    screenshot_match: bool = False
    turned_match: bool = False
    cropped_match: bool = False
    group_match: bool = False
    aligned_match: bool = False

    def to_dict(self) -> dict[str, Any]:
        payload = picture_payload(self.image, self.similarity)
        if self.hash_confirmed:
            payload["hash_confirmed"] = True
        if self.hash_view:
            payload["hash_view"] = self.hash_view
        if self.screenshot_match:
            payload["screenshot_match"] = True
        if self.turned_match:
            payload["turned_match"] = True
        if self.cropped_match:
            payload["cropped_match"] = True
        if self.group_match:
            payload["group_match"] = True
        if self.aligned_match:
            payload["aligned_match"] = True
        return payload

    @property
    def similarity_text(self) -> str:
        """The similarity as the window and the text report show it."""
        flags = (
            (f"pHash match, {self.hash_view}" if self.hash_view else "pHash match", self.hash_confirmed),
            ("a screenshot showing it", self.screenshot_match),
            ("turned a quarter", self.turned_match),
            ("cropped from it", self.cropped_match),
            ("aligned with it", self.aligned_match),
            ("like the group's other copies", self.group_match),
        )
        notes = [note for note, on in flags if on]
        return f"{self.similarity:.3f}" + "".join(f" ({note})" for note in notes)


@dataclass(frozen=True)
class Group:
    """Files that are copies of one picture. `members[0]` is the reference (the best copy)."""

    id: int
    kind: GroupKind
    members: tuple[Member, ...]

    @property
    def reference(self) -> Member:
        return self.members[0]

    @property
    def reclaimable_bytes(self) -> int:
        """Bytes freed by keeping only the reference."""
        return sum(member.image.bytes for member in self.members[1:])

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "members": [m.to_dict() for m in self.members]}


@dataclass(frozen=True)
class FileError:
    """A file that could not be read or decoded; the scan went on without it."""

    path: str
    error: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "error": self.error}


@dataclass
class ScanStats:
    files: int = 0  # picture files discovered
    images: int = 0  # pictures with an embedding (decoded now or from the cache)
    cached: int = 0  # of those, taken from the cache
    errors: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "images": self.images,
            "cached": self.cached,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Report:
    """Everything a scan found. `cancelled` is True when the groups cover only part of the files."""

    model_name: str
    model_sha256: str
    threshold: float
    device: str
    roots: list[str]
    stats: ScanStats = field(default_factory=ScanStats)
    groups: list[Group] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "model": {"name": self.model_name, "sha256": self.model_sha256},
            "threshold": self.threshold,
            "device": self.device,
            "roots": list(self.roots),
            "stats": self.stats.to_dict(),
            "cancelled": self.cancelled,
            "groups": [group.to_dict() for group in self.groups],
            "errors": [error.to_dict() for error in self.errors],
        }


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = ("group", "kind", "role", "path", "similarity", "width", "height", "bytes", "mtime")


def to_csv(report: Report) -> str:
    """One row per member; the reference has role "reference", the others "duplicate"."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in report.groups:
        for index, member in enumerate(group.members):
            row = member.to_dict()
            role = "reference" if index == 0 else "duplicate"
            writer.writerow([group.id, group.kind, role] + [row[c] for c in CSV_COLUMNS[3:]])
    return buffer.getvalue()


def _human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def to_text(report: Report) -> str:
    """A readable summary for a terminal."""
    stats = report.stats
    reclaim = sum(group.reclaimable_bytes for group in report.groups)
    lines = [
        f"{len(report.groups)} group(s) among {stats.images} picture(s) "
        f"({stats.cached} from cache, {stats.errors} unreadable) in {stats.seconds:.1f} s; "
        f"{_human_bytes(reclaim)} reclaimable",
    ]
    if report.cancelled:
        lines.append("Scan cancelled: these groups cover only the files scanned so far.")
    for group in report.groups:
        lines.append("")
        lines.append(f"Group {group.id} ({group.kind}, {len(group.members)} files)")
        for index, member in enumerate(group.members):
            mark = "*" if index == 0 else " "
            image = member.image
            lines.append(
                f" {mark} {member.similarity_text}  {image.width}x{image.height}  "
                f"{_human_bytes(image.bytes):>10}  {image.path}"
            )
    if report.errors:
        lines.append("")
        lines.append(f"{len(report.errors)} file(s) could not be read:")
        lines.extend(f"  {error.path}: {error.error}" for error in report.errors)
    return "\n".join(lines) + "\n"
