"""Build the reproducible corpus of real images from pinned Debian packages.

    python -m benchmarks.corpus.build_corpus --out ~/.cache/dupfinder/corpus

Downloads the packages pinned in packages.txt (no install), unpacks them, keeps decodable, big enough,
non-blank, mostly opaque pictures, drops near-duplicates across the whole corpus, and writes
`images/<split>/`, `small/<split>/`, `manifest.csv`, `hard_negatives.csv`, `rejected.csv` and
`summary.json` under OUT. See README.md beside this file for the rules and the numbers.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from benchmarks.corpus import hard_pairs, images, leak_screen, unpack
from benchmarks.corpus.images import Record

RESERVED = (
    "plasma-workspace-wallpapers",
    "mate-backgrounds",
    "ukui-wallpapers",
    "gnome-backgrounds",
    "kodi-data",
)
RESERVED_PREFIXES = ("lomiri-wallpapers",)
DEFAULT_CACHE = Path("~/.cache/dupfinder").expanduser()
PACKAGES_FILE = Path(__file__).with_name("packages.txt")
BUNDLED_MODEL = Path(__file__).parents[2] / "resources" / "models" / "dupfinder-default.onnx"
KINDS = ("photo", "art", "auto", "skip")
EXTRA_SPLIT = "extra"  # training-only pictures (`--extras`): never drawn by the accuracy benchmark
EXTRA_EXTS = frozenset({".tga"})  # read for training-only packages only: the main corpus stays as it was
SPLITS = (("train", 80), ("val", 90), ("test", 100))  # cumulative percent of the source-id hash
MAX_NAME = 150


@dataclass(frozen=True)
class Package:
    """One pinned package line: which version, and which files of it are used as what kind."""

    name: str
    version: str
    rules: tuple[tuple[str, str], ...]  # (kind, glob), first match wins
    extra: bool = False  # from the training-only list: its pictures go to EXTRA_SPLIT

    @property
    def image_exts(self) -> frozenset[str]:
        """File extensions looked at (and unpacked from archives) for this package."""
        return images.IMAGE_EXTS | EXTRA_EXTS if self.extra else images.IMAGE_EXTS


def is_reserved(name: str) -> bool:
    """Reserved packages are kept for independent evaluation of the project and are never used."""
    return name in RESERVED or name.startswith(RESERVED_PREFIXES)


def parse_packages(path: Path, extra: bool = False) -> list[Package]:
    """Read the pin file; reject reserved packages loudly so nobody trains on them by accident."""
    packages = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        head, *rule_tokens = line.split()
        name, sep, version = head.partition("=")
        if not sep or not version:
            raise ValueError(f"{path}:{lineno}: expected name=version, got {head!r}")
        if is_reserved(name):
            raise ValueError(f"{path}:{lineno}: {name} is reserved for independent evaluation")
        rules = []
        for token in rule_tokens:
            kind, _, glob = token.partition(":")
            if kind not in KINDS or not glob:
                raise ValueError(f"{path}:{lineno}: bad rule {token!r}, expected KIND:GLOB, KIND in {KINDS}")
            rules.append((kind, glob))
        packages.append(Package(name, version, tuple(rules), extra))
    return packages


def deb_version(deb: Path) -> str:
    """The version recorded inside a .deb, which is what the manifest must cite."""
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()


def download(pkg: Package, debs: Path) -> Path:
    """Fetch the pinned .deb; if Debian dropped that version, take the current one and say so loudly."""
    target = debs / pkg.name
    target.mkdir(parents=True, exist_ok=True)
    for deb in target.glob("*.deb"):
        if deb_version(deb) == pkg.version:
            return deb
    for spec in (f"{pkg.name}={pkg.version}", pkg.name):
        result = subprocess.run(["apt-get", "download", spec], cwd=target, capture_output=True, text=True)
        if result.returncode == 0:
            deb = max(target.glob("*.deb"), key=lambda p: p.stat().st_mtime)
            if spec == pkg.name:
                print(
                    f"\n!!! WARNING: {pkg.name}={pkg.version} is no longer downloadable; using "
                    f"{deb_version(deb)} instead. The corpus differs from the pinned one.\n",
                    file=sys.stderr,
                )
            return deb
        print(f"apt-get download {spec} failed: {result.stderr.strip()}", file=sys.stderr)
    raise RuntimeError(f"cannot download {pkg.name} (run `apt-get update` first?)")


def fetch(pkg: Package, debs: Path, raw: Path) -> str:
    """Make raw/<pkg>/ hold the unpacked package (and its archives); returns the version used."""
    root, marker = raw / pkg.name, raw / pkg.name / ".dupfinder-version"
    if marker.exists() and marker.read_text().strip() == pkg.version:
        return pkg.version
    deb = download(pkg, debs)
    version = deb_version(deb)
    if marker.exists() and marker.read_text().strip() == version:
        return version
    partial = raw / f"{pkg.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    subprocess.run(["dpkg", "-x", str(deb), str(partial)], check=True)
    unpack.expand_archives(partial, pkg.image_exts)
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    marker.write_text(version + "\n")
    return version


def rule_kind(pkg: Package, rel: str) -> str | None:
    """Kind of a file by the package's first matching rule; None when no rule takes it."""
    for kind, glob in pkg.rules:
        if fnmatch.fnmatchcase(rel, glob):
            return None if kind == "skip" else kind
    return None


def list_jobs(pkg: Package, version: str, raw: Path) -> list[images.Job]:
    """Every image file of the package that a rule selects, in a stable order."""
    root, jobs = raw / pkg.name, []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            path = Path(dirpath, fname)
            rel = path.relative_to(root).as_posix()
            kind = rule_kind(pkg, rel) if path.suffix.lower() in pkg.image_exts else None
            if kind:
                jobs.append(images.Job(pkg.name, version, rel, str(path), kind))
    return jobs


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy's bitwise_count needs numpy 2; the project allows 1.24)."""
    return _BYTE_BITS[values.view(np.uint8)].reshape(-1, 8).sum(axis=1)


def unit_signature(rec: Record) -> np.ndarray:
    """Zero-mean, unit-length 32x32 grey signature, so a dot product is a correlation."""
    sig = np.frombuffer(rec.signature, dtype=np.uint8).astype(np.float32)
    sig -= sig.mean()
    return sig / max(float(np.linalg.norm(sig)), 1e-6)


def dedup(
    records: list[Record],
    families: dict[str, int],
    limits: tuple[int, int, float],
    extra_packages: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Drop exact copies, then perceptual near-copies, keeping the largest; returns {dropped: kept}.

    A near-copy is close in pHash and dHash (catches resized, re-encoded and recoloured copies) and
    its grey signature correlates with the kept one (hashes alone also join different playing cards,
    flags or star clusters). Members of a hard-negative family (`families`: key -> family number)
    go first and are never dropped for resembling their own siblings, so similar-but-different
    pairs survive; a copy of them elsewhere (another folder or package) is still dropped.
    Pictures of `extra_packages` (training-only) come last: one that copies a corpus picture is
    dropped, never the corpus picture, so train, val and test stay what they were without them.
    """
    max_phash, max_dhash, min_corr = limits
    order = sorted(
        records,
        key=lambda r: (r.package in extra_packages, r.key not in families, -r.width * r.height, r.key),
    )
    phash = np.zeros(len(order), dtype=np.uint64)
    dhash = np.zeros(len(order), dtype=np.uint64)
    family = np.full(len(order), -1, dtype=np.int64)
    sigs = np.zeros((len(order), images.SIG_SIDE**2), dtype=np.float32)
    kept_keys: list[str] = []
    by_sha: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for rec in order:
        if rec.sha256 in by_sha:
            dropped[rec.key] = by_sha[rec.sha256]
            continue
        n, sig, fam = len(kept_keys), unit_signature(rec), families.get(rec.key, -1)
        close = np.flatnonzero(
            (popcount(phash[:n] ^ np.uint64(rec.phash)) <= max_phash)
            & (popcount(dhash[:n] ^ np.uint64(rec.dhash)) <= max_dhash)
            & ((family[:n] != fam) | (fam < 0))
        )
        same = close[sigs[close] @ sig >= min_corr]
        if same.size:
            dropped[rec.key] = kept_keys[int(same[0])]
            continue
        by_sha[rec.sha256] = rec.key
        phash[n], dhash[n], family[n], sigs[n] = rec.phash, rec.dhash, fam, sig
        kept_keys.append(rec.key)
    return dropped


def source_family(rec: Record) -> str:
    """Split unit: one source picture, so numbered siblings (frames, tiles, sizes) share a split."""
    rel = Path(rec.source)
    stem = re.sub(r"([-_.+ ]*(\d+|[0-9]+x[0-9]+|@2x))+$", "", rel.stem.lower()) or rel.stem.lower()
    return f"{rec.package}/{rel.parent.as_posix()}/{stem}"


def split_of(family: str) -> str:
    """Deterministic 80/10/10 split from a hash of the source id (stable across runs and machines)."""
    bucket = int(hashlib.sha1(family.encode()).hexdigest()[:8], 16) % 100
    return next(name for name, upper in SPLITS if bucket < upper)


def output_name(rec: Record, taken: set[str]) -> str:
    """`<pkg>__<sanitised path>.jpg`: readable, unique, and short enough for any file system."""
    rel = re.sub(r"^usr/(share/|lib/)?(doc/[^/]+/|games/)?", "", rec.source)
    rel = re.sub(r"\.[A-Za-z0-9]+$", "", rel)
    stem = f"{rec.package}__{re.sub(r'[^A-Za-z0-9.+-]+', '_', rel)}"
    digest = hashlib.sha1(rec.key.encode()).hexdigest()[:8]
    if len(stem) > MAX_NAME:
        stem = f"{stem[:60]}~{stem[-(MAX_NAME - 70) :]}"
    if stem.lower() in taken:
        stem = f"{stem}-{digest}"
    taken.add(stem.lower())
    return stem + ".jpg"


def write_outputs(
    out: Path, kept: list[Record], pairs: list[tuple[Record, Record, str]], forced: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Move staged JPEGs into their split folders and write the manifest and the pair list."""
    taken: set[str] = set()
    files: dict[str, str] = {}
    counts: dict[str, dict[str, int]] = {}
    with (out / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            ["split", "file", "package", "package_version", "source_path", "width", "height", "kind"]
        )
        for rec in sorted(kept, key=lambda r: r.key):
            split = forced.get(rec.key) or split_of(source_family(rec))
            name = output_name(rec, taken)
            for tree, staged in (("images", rec.stage_big), ("small", rec.stage_small)):
                (out / tree / split).mkdir(parents=True, exist_ok=True)
                os.replace(staged, out / tree / split / name)
            files[rec.key] = f"images/{split}/{name}"
            writer.writerow(
                [split, files[rec.key], rec.package, rec.version, rec.source, rec.width, rec.height, rec.kind]
            )
            per = counts.setdefault(rec.package, {})
            for k in (split, rec.kind, f"{split}/{rec.kind}", "total"):
                per[k] = per.get(k, 0) + 1
    with (out / "hard_negatives.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file_a", "file_b", "why"])
        writer.writerows([files[a.key], files[b.key], why] for a, b, why in pairs)
    return counts


LEAK_REASON = "training-only, like a val/test picture"


def screen_extras(
    kept: list[Record], forced: dict[str, str], model: Path, threshold: float
) -> tuple[dict[str, object], dict[str, str]]:
    """Mark training-only pictures that look like a val or test picture as rejected (see
    `leak_screen`); returns what the summary records and {dropped key: "held-out key (cosine)"}."""
    from dupfinder.embedder import Embedder  # only a build with --extras needs onnxruntime

    candidates = [r for r in kept if forced.get(r.key) == EXTRA_SPLIT]
    held_out = [r for r in kept if (forced.get(r.key) or split_of(source_family(r))) in ("val", "test")]
    embedder = Embedder(model, device="cpu")
    drops = leak_screen.screen(
        embedder,
        [Path(r.stage_small) for r in candidates],
        [Path(r.stage_small) for r in held_out],
        threshold,
    )
    like: dict[str, str] = {}
    for index, (held, score) in drops.items():
        candidates[index].reject = LEAK_REASON
        like[candidates[index].key] = f"{held_out[held].key} ({score:.3f})"
    summary: dict[str, object] = {
        "model": embedder.card.name,
        "model_sha256": embedder.sha256,
        "threshold": threshold,
        "screened": len(candidates),
        "dropped": len(drops),
    }
    return summary, like


def write_rejects(out: Path, rejected: list[Record], dropped: dict[str, str]) -> dict[str, int]:
    """Record why every other candidate was left out, so the filters can be audited."""
    reasons: dict[str, int] = {}
    with (out / "rejected.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["package", "source_path", "reason", "duplicate_of"])
        for rec in rejected:
            reason = rec.reject or ("duplicate" if rec.key in dropped else "unknown")
            reasons[reason] = reasons.get(reason, 0) + 1
            writer.writerow([rec.package, rec.source, reason, dropped.get(rec.key, "")])
    return reasons


def dir_size_mb(path: Path) -> float:
    """Total size of the files under a folder, in MB."""
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


def fetch_all(packages: list[Package], debs: Path, raw: Path) -> tuple[dict[str, str], list[images.Job]]:
    """Download and unpack every package; returns the versions used and the files to look at."""
    jobs: list[images.Job] = []
    versions: dict[str, str] = {}
    for pkg in packages:
        versions[pkg.name] = fetch(pkg, debs, raw)
        jobs += list_jobs(pkg, versions[pkg.name], raw)
        print(f"{pkg.name}={versions[pkg.name]}: {len(jobs)} candidate files so far", flush=True)
    return versions, jobs


def build(args: argparse.Namespace) -> dict[str, object]:
    """The whole pipeline; returns the summary that is also written to summary.json."""
    start = time.monotonic()
    out = args.out.expanduser()
    packages = parse_packages(args.packages)
    extras = parse_packages(args.extras, extra=True) if args.extras else []
    both = sorted({p.name for p in packages} & {p.name for p in extras})
    if both:
        raise ValueError(f"in both the corpus and the training-only list: {', '.join(both)}")
    for tree in ("images", "small", ".stage"):
        shutil.rmtree(out / tree, ignore_errors=True)
    (out / ".stage").mkdir(parents=True)
    versions, jobs = fetch_all(packages + extras, args.debs.expanduser(), args.raw.expanduser())
    settings = images.Settings(str(out / ".stage"), args.max_side, args.small_side)
    with Pool(args.jobs) as pool:
        records = list(pool.imap(images.analyse, [(job, settings) for job in jobs], chunksize=8))
    usable = [r for r in records if r.reject is None]
    families = hard_pairs.families(usable)
    protected = {m.key: i for i, members in enumerate(families.values()) for m in members}
    extra_names = frozenset(p.name for p in extras)
    dropped = dedup(usable, protected, (args.max_phash, args.max_dhash, args.min_corr), extra_names)
    pairs, forced, copies = hard_pairs.make_pairs(families, {r.key for r in usable} - set(dropped))
    dropped.update({key: "(a hard-negative sibling)" for key in copies})
    kept = [r for r in usable if r.key not in dropped]
    forced.update({r.key: EXTRA_SPLIT for r in kept if r.package in extra_names})
    screened: dict[str, object] | None = None
    if extras:
        screened, like = screen_extras(kept, forced, args.screen_model, args.screen_threshold)
        dropped.update(like)
        kept = [r for r in kept if r.reject is None]
    counts = write_outputs(out, kept, pairs, forced)
    reasons = write_rejects(out, [r for r in records if r.reject or r.key in dropped], dropped)
    shutil.rmtree(out / ".stage", ignore_errors=True)
    summary = {
        "packages": versions,
        "version_fallbacks": sorted(p.name for p in packages + extras if versions[p.name] != p.version),
        "training_only_packages": sorted(extra_names),
        "training_only_screen": screened,
        "candidates": len(records),
        "kept": len(kept),
        "rejected": reasons,
        "hard_negative_pairs": len(pairs),
        "hard_negative_similarity": hard_pairs.pair_stats(pairs),
        "per_package": counts,
        "images_mb": dir_size_mb(out / "images"),
        "small_mb": dir_size_mb(out / "small"),
        "seconds": round(time.monotonic() - start, 1),
        "settings": {k: str(v) for k, v in vars(args).items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; defaults rebuild the corpus the shipped model was trained on."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "corpus", help="output folder")
    parser.add_argument("--raw", type=Path, default=DEFAULT_CACHE / "raw", help="unpacked packages")
    parser.add_argument("--debs", type=Path, default=DEFAULT_CACHE / "debs", help="downloaded .deb files")
    parser.add_argument("--packages", type=Path, default=PACKAGES_FILE, help="pinned package list")
    parser.add_argument(
        "--extras",
        type=Path,
        help="training-only package list (benchmarks/corpus/train-extras.txt): its pictures go to "
        f"images/{EXTRA_SPLIT}/ and small/{EXTRA_SPLIT}/, never to train, val or test",
    )
    parser.add_argument(
        "--screen-model",
        type=Path,
        default=BUNDLED_MODEL,
        help="with --extras: the model that finds training-only pictures like a val or test picture",
    )
    parser.add_argument(
        "--screen-threshold",
        type=float,
        default=leak_screen.DEFAULT_THRESHOLD,
        help="with --extras: drop a training-only picture whose cosine to a val/test picture reaches this",
    )
    parser.add_argument("--max-side", type=int, default=512, help="longest side of images/ JPEGs")
    parser.add_argument("--small-side", type=int, default=256, help="longest side of small/ JPEGs")
    parser.add_argument("--max-phash", type=int, default=6, help="near-duplicate: pHash distance <= this")
    parser.add_argument("--max-dhash", type=int, default=10, help="... and dHash distance <= this")
    parser.add_argument("--min-corr", type=float, default=0.9, help="... and grey correlation >= this")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="decoding processes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: build, then print the summary."""
    try:
        summary = build(parse_args(argv))
    except (ValueError, RuntimeError) as exc:
        print(f"build_corpus: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in summary.items() if k != "per_package"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
