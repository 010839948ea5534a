"""Similar-but-different pictures that a duplicate finder must NOT group (the corpus's hard negatives).

Each rule names a package, a regular expression over the file's path inside the package, and why
its matches are distinct pictures. Files whose named groups (and folder) agree form a family, for
example the left and right views of one stereo pair; consecutive members of a family, in name order
and without overlap, become pairs. Every member of a family that yields a pair leaves the hash split:
one pair in VAL_EVERY of each rule goes to the validation split, so calibration sees look-alikes of
every kind that has two pairs or more (one family of Moon phases included), and the rest to the test
split; a family's unpaired members follow its first pair. Families are exempt from perceptual
de-duplication so both members survive it. Train never holds a listed family.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import numpy as np

from benchmarks.corpus.images import Record

MIN_SIGNATURE_DIFF = 2.0  # mean grey difference (0-255) at 32x32 below which two pictures are the same
VAL_EVERY = 3  # of each rule's pairs, the 2nd, 5th, 8th, ... go to val; the rest to test

STEREO = "stereo pair: left and right camera views of the same scene"
VIDEO = "consecutive frames of one video; objects or camera moved"
VIEWPOINT = "the same scene photographed from another viewpoint or at another time"
SHOTS = "consecutive photos taken at the same place and time"
COLOURS = "the same design in another colour scheme"

# (package, pattern, most pairs per family, most pairs for the rule, why)
# fmt: off
RULES: tuple[tuple[str, str, int, int, str], ...] = (
    ("opencv-doc", r"examples/data/(?:left|right)(?P<n>\d\d)\.jpg$", 1, 99, STEREO),
    ("opencv-doc", r"examples/data/(?P<n>aloe)[LR]\.jpg$", 1, 1, STEREO),
    ("opencv-doc", r"examples/data/(?P<n>)(?:left|right)\.jpg$", 1, 1, STEREO),
    ("opencv-doc", r"examples/data/(?P<n>basketball|rubberwhale)[12]\.png$", 1, 9, VIDEO),
    ("opencv-doc", r"examples/data/(?P<n>graf|leuven|aero)[13AB]\.(?:png|jpg)$", 1, 9, VIEWPOINT),
    ("opencv-doc", r"examples/data/(?P<n>Blender_Suzanne)[12]\.jpg$", 1, 1,
     "two renders of the same model with different pose and lighting"),
    ("python3-skimage", r"data/(?P<n>motorcycle)_(?:left|right)\.png$", 1, 1, STEREO),
    ("kphotoalbum", r"demo/(?P<n>bar55|donna|grand_canyon|jesper|new_wave|pool|skagen|spiff)(?:_\d)?\.jpg$",
     1, 99, SHOTS),
    ("visp-images-data", r"ViSP-images/(?P<n>cube|mbt/cube|mire-2)/image\.?\d+\.pgm$", 2, 99,
     "frames of one camera sequence after the camera moved"),
    ("kstars-data", r"textures/(?P<n>moon)\d+\.png$", 5, 5, "the Moon on different nights (another phase)"),
    ("stellarium-data", r"nebulae/default/(?P<n>barnard_loop|ic2118|lmc|sh2-1)[-_]\d+\.png$", 2, 99,
     "neighbouring or overlapping telescope fields of one sky region"),
    ("stellarium-data", r"landscapes/(?P<n>guereins|garching|hurricane|ocean)/[a-z]+(?:-gl)?\d\.png$", 2, 99,
     "neighbouring tiles of one landscape panorama"),
    ("tuxpaint-stamps-default", r"/(?P<n>pig_golden)2?\.png$", 1, 1, "two photos of the same kind of pig"),
    ("openclipart-png",
     r"/(?P<n>button|arrow-(?:up|down|left|right)|pill-button)-(?:blue|green|purple|red|yellow)_",
     1, 6, COLOURS),
    ("openclipart-png", r"/(?P<n>folder)_(?:blue|grey|pink|red|yellow)\.png$", 2, 2, COLOURS),
    ("openclipart-png", r"/(?P<n>pda|svg_globe)_(?:black|blue|green)\.png$", 1, 2, COLOURS),
    ("openclipart-png", r"/(?:blue|green|red)_(?P<n>fedora)(?:_\d+)?\.png$", 1, 1, COLOURS),
    ("openclipart-png", r"/(?P<n>(?:bordered|white)_[cdhs])_\d+\.png$", 1, 4,
     "two playing cards of one deck design"),
    ("pysiogame", r"/(?P<n>[a-z])_(?:blue|green|red|yellow)_150\.png$", 1, 2, COLOURS),
    ("ufoai-textures", r"/(?P<n>grass_(?:mowed|tall))_(?:dry|green)_(?P<v>[a-c])\.jpg$", 1, 4, COLOURS),
)
# fmt: on
_COMPILED = tuple((pkg, re.compile(pattern)) for pkg, pattern, *_ in RULES)


def family_of(rec: Record) -> tuple[int, str] | None:
    """(rule index, family key) of the first rule that takes this file, or None."""
    for index, (package, pattern) in enumerate(_COMPILED):
        if rec.package != package:
            continue
        match = pattern.search(rec.source)
        if match:
            parts = [v or "" for v in match.groupdict().values()]
            return index, "|".join([str(PurePosixPath(rec.source).parent), *parts])
    return None


def families(records: list[Record]) -> dict[tuple[int, str], list[Record]]:
    """Group usable records into hard-negative families, members in name order."""
    grouped: dict[tuple[int, str], list[Record]] = {}
    for rec in sorted(records, key=lambda r: r.key):
        fam = family_of(rec)
        if fam is not None:
            grouped.setdefault(fam, []).append(rec)
    return grouped


def signature_diff(a: Record, b: Record) -> float:
    """Mean absolute grey difference of the 32x32 signatures: ~0 means the same picture."""
    sa = np.frombuffer(a.signature, dtype=np.uint8).astype(np.int16)
    sb = np.frombuffer(b.signature, dtype=np.uint8).astype(np.int16)
    return float(np.abs(sa - sb).mean())


def distinct_members(members: list[Record], kept: set[str]) -> list[Record]:
    """Kept members, leaving out any that is really the same picture as an earlier one."""
    out: list[Record] = []
    for rec in members:
        if rec.key in kept and all(signature_diff(rec, o) >= MIN_SIGNATURE_DIFF for o in out):
            out.append(rec)
    return out


def pair_split(index_in_rule: int) -> str:
    """Split of a rule's `index_in_rule`-th pair: one in VAL_EVERY to val, starting with the second,
    so a rule with a single pair keeps it in test."""
    return "val" if index_in_rule % VAL_EVERY == 1 else "test"


def make_pairs(
    grouped: dict[tuple[int, str], list[Record]], kept: set[str]
) -> tuple[list[tuple[Record, Record, str]], dict[str, str], set[str]]:
    """Pairs with their reason, the split each paired member is forced into, and members dropped
    as true copies."""
    pairs: list[tuple[Record, Record, str]] = []
    forced: dict[str, str] = {}
    copies: set[str] = set()
    per_rule: dict[int, int] = {}
    for (rule, _), members in sorted(grouped.items()):
        _, _, per_family, rule_cap, why = RULES[rule]
        distinct = distinct_members(members, kept)
        copies.update(m.key for m in members if m.key in kept and m not in distinct)
        room = min(per_family, rule_cap - per_rule.get(rule, 0), len(distinct) // 2)
        if room <= 0:
            continue
        first = per_rule.get(rule, 0)
        new = [(distinct[2 * i], distinct[2 * i + 1], why) for i in range(room)]
        forced.update((m.key, pair_split(first)) for m in distinct)
        for index, (a, b, _) in enumerate(new, first):
            forced[a.key] = forced[b.key] = pair_split(index)
        pairs += new
        per_rule[rule] = first + room
    return pairs, forced, copies


def hamming(a: int, b: int) -> int:
    """Bit distance between two 64-bit hashes."""
    return (a ^ b).bit_count()


def pair_stats(pairs: list[tuple[Record, Record, str]]) -> dict[str, float]:
    """How alike the pairs are, to show they are hard (small pHash distance) yet not identical."""
    if not pairs:
        return {}
    dist = np.array([hamming(a.phash, b.phash) for a, b, _ in pairs])
    diff = np.array([signature_diff(a, b) for a, b, _ in pairs])
    return {
        "phash_min": int(dist.min()),
        "phash_median": float(np.median(dist)),
        "phash_max": int(dist.max()),
        "grey_diff_min": round(float(diff.min()), 1),
        "grey_diff_median": round(float(np.median(diff)), 1),
    }
