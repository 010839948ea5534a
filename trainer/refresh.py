"""`dupfinder-train refresh`: fine-tune the shipped (or a given) model on a user's own photos.

Steps: drop photos the base model already calls duplicates of each other (they would be taken
for negatives), hold out a part, evaluate the base model on it, fine-tune from the base model's
weights, export a new model beside the old one (never over it), evaluate the new model on the
same held-out photos (which calibrates its threshold, raised where needed to find no larger a share
of the held-out copies than the base model does at its own), give it the base model's pHash rule,
and say how to select it.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dupfinder.embedder import Embedder
from dupfinder.imaging import DecodeError, load_for_model
from dupfinder.modelcard import ModelCard, card_path_for, load_card
from dupfinder.models import find_model
from trainer import checkpoint
from trainer.data import DataError, load_folders
from trainer.evaluate import EvalOptions, evaluate
from trainer.export import export, weights_path_for
from trainer.train import FitOptions, fit


@dataclass
class RefreshOptions:
    photos: list[str]
    base: str | None = None  # default: the model the app uses ($DUPFINDER_MODEL or the bundled one)
    out: str | None = None  # folder for the new model; default beside the base when writable
    epochs: int = 3
    lr: float = 3e-4
    batch_size: int = 32
    holdout: float = 0.2
    max_eval_images: int = 200
    target_precision: float = 0.99
    workers: int = field(default_factory=lambda: max(0, min(8, (os.cpu_count() or 1) - 1)))
    seed: int = 0
    work: str | None = None  # scratch folder for the run; default: a folder beside the new model
    jit_compile: bool | str = "auto"


def user_models_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "dupfinder" / "models"


def target_folder(base: Path, requested: str | None) -> Path:
    """Beside the base model if that folder is writable, else the user's model folder."""
    if requested:
        return Path(requested)
    return base.parent if os.access(base.parent, os.W_OK) else user_models_dir()


def new_model_path(folder: Path, stem: str) -> Path:
    """A name that exists nowhere yet: the base model (or any other) is never overwritten."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = folder / f"{stem}-refreshed-{stamp}.onnx"
    counter = 2
    while candidate.exists() or candidate.with_suffix(".json").exists():
        candidate = folder / f"{stem}-refreshed-{stamp}-{counter}.onnx"
        counter += 1
    return candidate


def distinct_photos(embedder: Embedder, paths: list[str], batch: int = 64) -> list[str]:
    """Keep one photo of each group the base model calls duplicates (greedy, in path order)."""
    size, resize = embedder.card.input_size, embedder.card.resize
    kept_paths: list[str] = []
    vectors: list[np.ndarray] = []
    for start in range(0, len(paths), batch):
        pixels, names = [], []
        for path in paths[start : start + batch]:
            try:
                pixels.append(load_for_model(Path(path), size, resize).pixels)  # type: ignore[arg-type]
                names.append(path)
            except DecodeError:
                continue
        if pixels:
            vectors.append(embedder.embed(np.stack(pixels)))
            kept_paths += names
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, embedder.card.embedding_dim), np.float32)
    keep = np.ones(len(matrix), bool)
    for start in range(0, len(matrix), 2048):
        block = matrix[start : start + 2048] @ matrix.T
        for row, similarities in enumerate(block, start=start):
            if keep[row]:
                later = np.flatnonzero(similarities[row + 1 :] >= embedder.card.default_threshold) + row + 1
                keep[later] = False
    return [path for path, kept in zip(kept_paths, keep) if kept]


def _split(paths: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    if not 0 < fraction < 1:
        raise ValueError(f"Invalid value for `holdout`: expected in (0, 1), received: holdout={fraction}")
    order = np.random.default_rng([seed, 5]).permutation(len(paths))
    held = max(2, round(len(paths) * fraction))
    if len(paths) - held < 2:
        raise DataError(
            f"refresh needs at least 4 distinct photos (2 to train, 2 to check), found {len(paths)}"
        )
    return [paths[i] for i in order[held:]], [paths[i] for i in order[:held]]


def _summary(report: dict[str, Any]) -> dict[str, float]:
    return {
        "average_precision": report["average_precision"],
        "threshold": report["threshold"]["min_similarity"],
        "recall": report["threshold"]["recall"],
        "precision": report["threshold"]["precision"],
    }


def refresh(options: RefreshOptions) -> dict[str, Any]:
    """Fine-tune, export and compare; returns before/after figures and the new model's path."""
    base = Path(options.base) if options.base else find_model()
    weights = weights_path_for(base)
    if not weights.is_file():
        raise checkpoint.CheckpointError(
            f"{base} has no trainable weights beside it ({weights.name}); refresh fine-tunes from them. "
            "Models exported by `dupfinder-train export` have them."
        )
    config = checkpoint.read_state(weights).branch_config
    folder = target_folder(base, options.out)
    model_path = new_model_path(folder, base.stem.split("-refreshed-")[0])
    work = Path(options.work) if options.work else model_path.with_name(model_path.stem + "-work")
    work.mkdir(parents=True, exist_ok=True)
    photos = distinct_photos(
        Embedder(base, device="cpu"), list(load_folders([Path(p) for p in options.photos]).paths)
    )
    train, held = _split(photos, options.holdout, options.seed)
    (work / "train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    (work / "heldout.txt").write_text("\n".join(held) + "\n", encoding="utf-8")
    evaluation: dict[str, Any] = {
        "data": [str(work / "heldout.txt")],
        "target_precision": options.target_precision,
        "max_images": options.max_eval_images,
        "seed": options.seed,
    }
    before = evaluate(EvalOptions(model=str(base), out=str(work / "before"), write_card=False, **evaluation))
    fit(
        FitOptions(
            data=[str(work / "train.txt")],
            out=str(work / "run"),
            epochs=options.epochs,
            batch_size=options.batch_size,
            **FitOptions.branch_options(config),
            lr=options.lr,
            val_split=0.0,
            seed=options.seed,
            workers=options.workers,
            init_weights=str(weights),
            jit_compile=options.jit_compile,
            target_precision=options.target_precision,
        ),
        argv=["dupfinder-train", *sys.argv[1:]],
    )
    result = export(work / "run", model_path, parity_images=[str(work / "heldout.txt")])
    after = evaluate(EvalOptions(model=str(result.model), out=str(work / "after"), **evaluation))
    base_card = load_card(base)
    card = carry_operating_point(
        load_card(result.model), base_card, base.name, before["duplicate_scores"], after["duplicate_scores"]
    )
    card = carry_rules(card, base_card, base.name)
    card_path_for(result.model).write_text(card.to_json())  # once, so no half-carried card is left
    threshold, rule = card.default_threshold, dict(card.hash_confirm)
    return {
        "base": str(base),
        "model": str(result.model),
        "photos": len(photos),
        "train": len(train),
        "held_out": len(held),
        "before": _summary(before),
        "after": _summary(after),
        "hash_confirm": rule,
        "default_threshold": threshold,
    }


def recall_matched_threshold(base_scores: np.ndarray, base_threshold: float, scores: np.ndarray) -> float:
    """The threshold at which a model finds the same share of the held-out copies (`scores`) as the
    base model finds of them (`base_scores`) at its card's threshold.

    The held-out evaluation calibrates on augmented copies against random pairs of distinct photos,
    while the shipped card's threshold is calibrated on look-alikes too (the same scene shot twice,
    one design in two colours), which lie far closer than random pairs: 0.965 against 0.861 for the
    shipped model on the corpus's validation split, where 0.861 groups copies at 0.946 precision
    only. Matching the base's share of copies carries its operating point over to the new model's
    scale (which fine-tuning moves), where adding the gap between the two thresholds would not: on
    40 held-out photos the random-pair threshold alone moves by 0.1 between models."""
    found = float(np.mean(base_scores >= base_threshold))
    ranked = np.sort(scores)[::-1]
    if found <= 0.0:  # the base finds none of them at its threshold: neither should the new model
        return float(np.nextafter(ranked[0], np.inf))
    return float(ranked[max(1, round(found * len(ranked))) - 1])


def carry_operating_point(
    card: ModelCard, base_card: ModelCard, base_name: str, base_scores: np.ndarray, scores: np.ndarray
) -> ModelCard:
    """`card` with its threshold (calibrated on the held-out photos against random pairs) raised to
    at least the one that finds the base model's share of the held-out copies at the base card's
    threshold (`recall_matched_threshold`), saying so in its provenance."""
    base_threshold = base_card.default_threshold
    matched = recall_matched_threshold(base_scores, base_threshold, scores)
    threshold = min(1.0, max(card.default_threshold, matched))
    note = (
        f"the higher of {card.default_threshold:.4f} (the target precision against random pairs of the "
        f"held-out photos) and {matched:.4f} (the share of held-out copies {base_name} finds at its "
        f"threshold {base_threshold:.4f}, which guards against look-alikes): set by dupfinder-train refresh"
    )
    provenance = {**card.provenance, "default_threshold": note}
    return replace(card, default_threshold=threshold, provenance=provenance)


def carry_rules(card: ModelCard, base_card: ModelCard, base_name: str) -> ModelCard:
    """`card` with the base model's pHash rule (`hash_confirm`) and alignment rule, noted as
    carried over.

    Both are calibrated on the project's validation corpus, which a refresh on a user's photos
    does not have. The pHash rule is set relative to the threshold (which the refresh calibrates)
    and rests on pHash and colour agreement more than on the embedding's scale, so carrying it keeps
    the greyscale and brightness copies a scan finds through it; a model without it finds far fewer.
    The alignment rule's bar is a similarity of two aligned, nearly identical parts, which a
    fine-tune of the same network scores as near 1 as the base does."""
    rule, aligned = dict(base_card.hash_confirm), dict(base_card.alignment)
    if not (rule or aligned):
        return card
    note = f"from {base_name}: carried over by dupfinder-train refresh, not calibrated again"
    provenance = {**card.provenance}
    if rule:
        provenance["hash_confirm"] = note
    if aligned:
        provenance["alignment"] = note
    return replace(card, hash_confirm=rule, alignment=aligned, provenance=provenance)


def explain(summary: dict[str, Any]) -> str:
    """What the user reads at the end: before/after and how to use the new model."""
    before, after = summary["before"], summary["after"]
    lines = [
        f"{summary['photos']} distinct photos: {summary['train']} to fine-tune, "
        f"{summary['held_out']} held out.",
        "On the held-out photos (duplicates made by the augmentations):",
    ]
    for name, figures in (("before", before), ("after", after)):
        lines.append(
            f"  {name:6s} average precision {figures['average_precision']:.4f}, "
            f"recall {figures['recall']:.3f} at precision {figures['precision']:.3f} "
            f"(threshold {figures['threshold']:.3f})"
        )
    better = after["average_precision"] >= before["average_precision"]
    lines += [
        f"New model: {summary['model']} (the base model {summary['base']} is unchanged).",
        f"Its threshold: {summary['default_threshold']:.3f} (at least the one at which it finds as many "
        "held-out copies as the base model does at its own threshold, which keeps look-alikes apart)."
        if "default_threshold" in summary
        else "",
        "It keeps the base model's pHash rule (not calibrated again on these photos)."
        if summary.get("hash_confirm")
        else "",
        "" if better else "The new model did not beat the old one on these photos; keep the old one.",
        "To use it: dupfinder scan --model " + summary["model"],
        f"  or set DUPFINDER_MODEL={summary['model']}, or choose it in the window's settings (Model).",
    ]
    return "\n".join(line for line in lines if line)
