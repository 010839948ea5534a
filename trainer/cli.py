"""`dupfinder-train`: fit, average, export, evaluate, preview and refresh the embedding model.

Imports are lazy so `--help` answers at once and the data workers (spawned processes that import
this module as their main) load neither Keras nor TensorFlow. Exit status: 0 done, 1 failed
(with a one-line reason), 2 bad usage, 130 interrupted (a resumable checkpoint was saved).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from dupfinder.imaging import RESIZE_MODES

# Options shared by `fit` and `preview` (preview shows what fit with the same options trains on).
_DATA_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--mode",
        {
            "choices": ("folders", "classes", "csv"),
            "help": "data mode (default: csv for .csv files, "
            "else folders: unlabelled pictures, positives are augmented views)",
        },
    ),
    ("--batch-size", {"type": int, "default": 64, "help": "anchors per batch (each brings a positive)"}),
    ("--image-size", {"type": int, "default": 128, "help": "model input side in pixels"}),
    ("--val-split", {"type": float, "default": 0.1, "help": "fraction held out for validation"}),
    ("--seed", {"type": int, "default": 0}),
    ("--min-crop-area", {"type": float, "default": 0.4, "help": "smallest crop kept by augmentation"}),
    (
        "--resize",
        {
            "default": "stretch",
            "choices": RESIZE_MODES,
            "help": "picture to square input: stretch, pad, or trim-stretch (cut letterbox/pillarbox "
            "bars first); the card carries it to the app",
        },
    ),
)


def _add(parser: argparse.ArgumentParser, options: tuple[tuple[str, dict[str, Any]], ...]) -> None:
    for flag, kwargs in options:
        parser.add_argument(flag, **kwargs)


def _fit_parser(commands: Any) -> None:
    fit = commands.add_parser("fit", help="train the siamese model", description="Train the embedding model.")
    fit.add_argument(
        "data",
        nargs="*",
        metavar="DATA",
        help="folders, class folders, CSV or .txt picture lists (with --resume: the checkpoint's)",
    )
    fit.add_argument("--out", required=True, help="run folder: checkpoints, history, held-out list")
    _add(fit, _DATA_OPTIONS)
    _add(
        fit,
        (
            ("--epochs", {"type": int, "help": "total epochs (default 20; with --resume: the checkpoint's)"}),
            ("--steps-per-epoch", {"type": int, "help": "batches an epoch (default: one pass)"}),
            ("--embedding-dim", {"type": int, "default": 128}),
            ("--width", {"type": float, "default": 1.5, "help": "channel multiplier of the compact branch"}),
            ("--blocks", {"type": int, "default": 11, "help": "inverted-residual blocks used (1-11)"}),
            (
                "--extra-blocks",
                {
                    "type": int,
                    "default": 0,
                    "help": "more blocks of the last stage (0-16); grown from --init-weights, they "
                    "start near the identity",
                },
            ),
            (
                "--centre-view",
                {
                    "type": float,
                    "help": "also embed each picture's centred box of this share of its area and "
                    "average the two vectors (0: off); export can also switch it on",
                },
            ),
            (
                "--centre-size",
                {"type": int, "help": "side of the centred box's view in pixels (default: --image-size)"},
            ),
            ("--activation", {"default": "hard_swish", "choices": ("relu", "relu6", "hard_swish", "swish")}),
            ("--backbone", {"default": "compact", "choices": ("compact", "mobilenet_v2")}),
            ("--backbone-weights", {"help": "local keras.applications weights file (no top) for --backbone"}),
            (
                "--input-norm",
                {
                    "default": "fixed",
                    "choices": ("fixed", "standardise"),
                    "help": "fixed: x/127.5 - 1; standardise: each picture to zero mean and a set spread "
                    "(brightness and contrast changes give the same input)",
                },
            ),
            (
                "--mirror-invariant",
                {
                    "action": "store_true",
                    "default": None,
                    "help": "embed each picture and its mirror image, averaged (twice the compute); "
                    "export can also switch it on for a model trained without it",
                },
            ),
            (
                "--loss",
                {
                    "default": "triplet",
                    "help": "triplet, contrastive or infonce; a schedule such as "
                    "'infonce:2,triplet' runs infonce for 2 epochs, then triplet",
                },
            ),
            (
                "--mining",
                {
                    "default": "semi-hard",
                    "help": "random, semi-hard or hard, or a schedule such as 'semi-hard:5,hard'",
                },
            ),
            (
                "--margin",
                {
                    "type": float,
                    "default": 0.3,
                    "help": "triplet/contrastive margin; sigmoid boundary (squared distance)",
                },
            ),
            ("--temperature", {"type": float, "default": 0.1, "help": "infonce and sigmoid temperature"}),
            (
                "--lr",
                {"type": float, "default": 2e-3, "help": "peak learning rate (warm-up, then cosine decay)"},
            ),
            ("--weight-decay", {"type": float, "default": 1e-4}),
            (
                "--workers",
                {"type": int, "help": "data worker processes (default: cores - 1; 0 renders inline)"},
            ),
            (
                "--checkpoint-minutes",
                {"type": float, "default": 15.0, "help": "also checkpoint inside epochs"},
            ),
            ("--checkpoint-steps", {"type": int, "default": 0, "help": "also checkpoint every N steps"}),
            (
                "--neighbour-groups",
                {
                    "type": int,
                    "default": 0,
                    "help": "fine-tuning: batch each picture with its G-1 nearest look-alikes as "
                    "the starting weights see them (hard negatives; 0: random batches)",
                },
            ),
            ("--distribute", {"default": "none", "choices": ("none", "data-parallel")}),
            ("--init-weights", {"help": "start from a checkpoint or MODEL.weights.npz (fine-tuning)"}),
            ("--target-precision", {"type": float, "default": 0.99}),
            (
                "--teacher",
                {
                    "metavar": "MODEL.onnx",
                    "help": "also learn how alike this exported model (an ensemble, say) finds the "
                    "batch's views: distillation into the network being trained",
                },
            ),
            (
                "--distil-target",
                {
                    "default": "cosine",
                    "choices": ("cosine", "softmax", "anchor"),
                    "help": "cosine: each pair's cosine regressed onto the teacher's (its scale kept, "
                    "as one threshold needs); softmax: each view's ranking of the others (KL); "
                    "anchor: each view pulled onto the teacher's embedding of its picture's light view",
                },
            ),
            ("--distil-weight", {"type": float, "default": 1.0, "help": "weight of the teacher's term"}),
            (
                "--distil-temperature",
                {"type": float, "default": 0.05, "help": "softmax temperature (--distil-target softmax)"},
            ),
            (
                "--resume",
                {"action": "store_true", "help": "continue from OUT's last checkpoint (its options)"},
            ),
            ("--no-jit", {"action": "store_true", "help": "skip XLA compilation (faster start on a CPU)"}),
        ),
    )


def _other_parsers(commands: Any) -> None:
    export = commands.add_parser("export", help="write MODEL.onnx, its card and weights (parity checked)")
    export.add_argument("checkpoint", metavar="CHECKPOINT", help="a run folder or checkpoint .npz")
    export.add_argument("--out", required=True, help="MODEL.onnx")
    export.add_argument("--name", help="model name in the card (default: the file's stem)")
    export.add_argument(
        "--parity-images", nargs="+", help="pictures for the parity check (default: training data)"
    )
    export.add_argument(
        "--mirror-invariant",
        action="store_true",
        help="export a branch that embeds each picture and its mirror image, averaged: a mirrored "
        "copy gets the same vector, at twice the inference cost (the weights are unchanged)",
    )
    export.add_argument(
        "--centre-view",
        type=float,
        metavar="AREA",
        help="export a branch that also embeds each picture's centred box of this share of its area "
        "(0.5: half) and averages the two vectors: a copy cropped towards its centre or framed at its "
        "edges keeps one view close to its original's (the weights are unchanged; 0 turns it off)",
    )
    export.add_argument(
        "--centre-size",
        type=int,
        metavar="PX",
        help="side of the centred box's view in pixels (default: the input size; 96 costs about 0.6 "
        "of a whole view)",
    )
    average = commands.add_parser(
        "average",
        help="the mean of a run's weights over several epochs, for export",
        description="Average a run's epoch checkpoints (stochastic weight averaging).",
    )
    average.add_argument("run", metavar="RUN", help="the run folder (fit --out)")
    average.add_argument("--epochs", required=True, help="epochs to average, e.g. 9-16 or 10,12,14,16")
    average.add_argument("--out", required=True, help="AVERAGED.npz, for `dupfinder-train export`")
    evaluate = commands.add_parser(
        "evaluate", help="pair AP, precision/recall per transform, calibrated threshold"
    )
    evaluate.add_argument("model", metavar="MODEL.onnx")
    evaluate.add_argument(
        "data", nargs="+", metavar="DATA", help="held-out folders or .txt lists (heldout.txt)"
    )
    evaluate.add_argument("--out", help="report folder (default: MODEL-evaluation beside the model)")
    evaluate.add_argument("--target-precision", type=float, default=0.99)
    evaluate.add_argument("--max-images", type=int, default=300)
    evaluate.add_argument("--tiers", nargs="+", help="transforms to test (default: all)")
    evaluate.add_argument("--no-write-card", action="store_true", help="leave the card's threshold alone")
    preview = commands.add_parser("preview", help="grid of training triplets as the model sees them")
    preview.add_argument("data", nargs="+", metavar="DATA")
    preview.add_argument("--out", required=True, help="GRID.png")
    preview.add_argument("--rows", type=int, default=8)
    _add(preview, _DATA_OPTIONS)
    refresh = commands.add_parser("refresh", help="fine-tune the model on your own photos")
    refresh.add_argument("photos", nargs="+", metavar="PHOTOS")
    refresh.add_argument("--base", help="model to start from (default: the one the app uses)")
    refresh.add_argument("--out", help="folder for the new model (default: beside the base model)")
    refresh.add_argument("--epochs", type=int, default=3)
    refresh.add_argument("--lr", type=float, default=3e-4)
    refresh.add_argument("--workers", type=int)
    backbone = commands.add_parser(
        "import-backbone",
        help="pretrained MobileNetV2 weights from a TensorFlow.js model, for --backbone-weights",
    )
    backbone.add_argument("model", metavar="MODEL.json", help="model.json, or a .js module wrapping one")
    backbone.add_argument("--out", required=True, help="BACKBONE.weights.h5")
    backbone.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width the model has")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dupfinder-train", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _fit_parser(commands)
    _other_parsers(commands)
    return parser


def _options(cls: Any, args: argparse.Namespace, **extra: Any) -> Any:
    """Build an options dataclass from the parsed flags it knows (None means: its default)."""
    names = {f.name for f in fields(cls)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return cls(**{**given, **extra})


def _run_fit(args: argparse.Namespace) -> int:
    from trainer import checkpoint
    from trainer.train import FitOptions, fit

    if args.resume:
        stored = checkpoint.read_state(checkpoint.resolve(Path(args.out))).options
        args.data = args.data or stored["data"]
        args.epochs = args.epochs or stored["epochs"]
    if not args.data:
        raise ValueError("no DATA given: pass folders, class folders, CSV or .txt picture lists")
    options = _options(FitOptions, args, jit_compile="auto" if not args.no_jit else False)
    path = fit(options, resume=args.resume, argv=["dupfinder-train", *args.argv])
    print(f"checkpoint: {path}\nnext: dupfinder-train export {args.out} --out MODEL.onnx")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from trainer.export import export

    result = export(
        args.checkpoint,
        args.out,
        args.parity_images,
        args.name,
        mirror_invariant=args.mirror_invariant,
        centre_view=args.centre_view,
        centre_size=args.centre_size,
    )
    print(
        f"model: {result.model}\ncard: {result.card}\nweights: {result.weights}\n"
        f"parity: onnxruntime and Keras agree to {result.max_difference:.1e}"
    )
    return 0


def _run_average(args: argparse.Namespace) -> int:
    from trainer.average import average_run, parse_epochs

    epochs = parse_epochs(args.epochs)
    path = average_run(Path(args.run), epochs, Path(args.out), ["dupfinder-train", *args.argv])
    print(f"averaged {len(epochs)} epochs: {path}\nnext: dupfinder-train export {path} --out MODEL.onnx")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from trainer.evaluate import EvalOptions, evaluate

    options = _options(EvalOptions, args, write_card=not args.no_write_card)
    report = evaluate(options)
    threshold = report["threshold"]
    print(f"pairs: {report['pairs']['duplicate']} duplicate, {report['pairs']['unrelated']} unrelated")
    print(f"average precision: {report['average_precision']:.4f}")
    print(
        f"threshold: similarity >= {threshold['min_similarity']:.4f} gives "
        f"precision {threshold['precision']:.4f}, "
        f"recall {threshold['recall']:.4f} (target precision {threshold['target_precision']})"
    )
    for name, tier in report["per_tier"].items():
        print(
            f"  {name:20s} recall {tier['recall']:.3f}  AP {tier['average_precision']:.4f}  "
            f"mean similarity {tier['mean_similarity']:.3f}"
        )
    if report["threshold_written"]:
        note = "; threshold written to the card"
    elif args.no_write_card:
        note = ""
    else:
        note = (
            "; held-out figures written to the card, its threshold kept (calibrated on look-alikes "
            "by python -m benchmarks.accuracy --split val --calibrate)"
        )
    print(f"report: {report['report']}{note}")
    return 0


def _run_preview(args: argparse.Namespace) -> int:
    from trainer.data import load_data
    from trainer.preview import preview
    from trainer.train import FitOptions, make_renderers

    options = _options(FitOptions, args, out=".")
    renderer = make_renderers(load_data([Path(p) for p in args.data], args.mode), options)["train"]
    print(f"preview: {preview(renderer, args.out, args.rows)}")
    return 0


def _run_refresh(args: argparse.Namespace) -> int:
    from trainer.refresh import RefreshOptions, explain, refresh

    print(explain(refresh(_options(RefreshOptions, args))))
    return 0


def _run_import_backbone(args: argparse.Namespace) -> int:
    from trainer.tfjs_import import write_backbone_weights

    unused = write_backbone_weights(Path(args.model), Path(args.out), args.alpha)
    print(f"backbone weights: {args.out}" + (f" (left out: {', '.join(unused)})" if unused else ""))
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "fit": _run_fit,
    "export": _run_export,
    "average": _run_average,
    "evaluate": _run_evaluate,
    "preview": _run_preview,
    "refresh": _run_refresh,
    "import-backbone": _run_import_backbone,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in checkpoints and cards
    from dupfinder.embedder import ModelError
    from dupfinder.modelcard import ModelCardError
    from dupfinder.models import ModelNotFound
    from trainer.checkpoint import CheckpointError
    from trainer.data import DataError
    from trainer.export import ExportError
    from trainer.onnx_graph import UnsupportedLayer

    expected = (
        DataError,
        CheckpointError,
        ExportError,
        ModelError,
        ModelCardError,
        ModelNotFound,
        UnsupportedLayer,
        ValueError,
        OSError,
    )
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except expected as error:
        print(f"dupfinder-train {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
