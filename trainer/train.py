"""`dupfinder-train fit`: train the siamese model, checkpoint it, and make every run resumable.

Checkpoints (`OUT/checkpoints/`) are written at each epoch's end, every `checkpoint_minutes`
(and/or `checkpoint_steps`) inside an epoch, and on Ctrl-C; `--resume` continues from
`last.npz` with the optimizer's state, at the step where it stopped. A run ends by calibrating a
first threshold on the held-out split, which `export` writes into the model card.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dupfinder.imaging import RESIZE_MODES
from trainer import checkpoint, distribute, losses
from trainer.data import DataSet, Renderer, load_data, split_rows
from trainer.feeding import Feeder, FeedMonitor, ViewSequence
from trainer.metrics import calibrate_threshold
from trainer.model import BranchConfig, SiameseModel, build_branch, grow_into
from trainer.neighbours import Neighbours, embed_rows, neighbour_table
from trainer.teacher import Teacher


@dataclass
class FitOptions:
    """The `fit` command's options; stored in every checkpoint so `--resume` needs none again."""

    data: list[str]
    out: str
    mode: str | None = None
    epochs: int = 20
    batch_size: int = 64
    steps_per_epoch: int | None = None
    image_size: int = 128
    embedding_dim: int = 128
    width: float = 1.5
    activation: str = "hard_swish"
    blocks: int = 11
    backbone: str = "compact"
    backbone_weights: str | None = None
    resize: str = "stretch"  # how pictures become the model's square input (dupfinder.imaging)
    input_norm: str = "fixed"  # how pixels become the network's input (trainer.model.INPUT_NORMS)
    mirror_invariant: bool = False  # embed each view and its mirror image, averaged (2x the compute)
    extra_blocks: int = 0  # more last-stage blocks (near the identity when grown from --init-weights)
    centre_view: float = 0.0  # also embed each view's centred box of this share of its area, averaged
    centre_size: int = 0  # the centred box's side in pixels (0: image_size)
    loss: str = "triplet"
    mining: str = "semi-hard"
    margin: float = 0.3
    temperature: float = 0.1
    lr: float = 2e-3
    weight_decay: float = 1e-4
    val_split: float = 0.1
    seed: int = 0
    workers: int = field(default_factory=lambda: max(0, min(16, (os.cpu_count() or 1) - 1)))
    checkpoint_minutes: float = 15.0
    checkpoint_steps: int = 0
    min_crop_area: float = 0.4
    neighbour_groups: int = 0  # >1: batch each picture with its nearest look-alikes (trainer.neighbours)
    distribute: str = "none"
    init_weights: str | None = None  # start from these branch weights (refresh, fine-tuning)
    target_precision: float = 0.99
    teacher: str | None = None  # an exported model (ONNX) whose similarities are distilled too
    distil_target: str = "cosine"  # what of the teacher's similarities is learnt (losses.DISTIL_TARGETS)
    distil_weight: float = 1.0
    distil_temperature: float = 0.05  # "softmax" target only
    verbose: int = 1
    jit_compile: bool | str = "auto"  # False compiles faster on CPU (tests, tiny runs)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"Invalid value for `{name}`: expected >= 1, received: {name}={getattr(self, name)}"
                )
        if self.batch_size < 2:
            raise ValueError(
                f"Invalid value for `batch_size`: expected >= 2 (negatives come from the batch), "
                f"received: batch_size={self.batch_size}"
            )
        if self.neighbour_groups < 0:
            raise ValueError(
                f"Invalid value for `neighbour_groups`: expected >= 0, received: {self.neighbour_groups}"
            )
        if self.resize not in RESIZE_MODES:
            raise ValueError(
                f"Invalid value for `resize`: expected one of {RESIZE_MODES}, received: {self.resize!r}"
            )
        if not self.lr > 0:
            raise ValueError(f"Invalid value for `lr`: expected > 0, received: lr={self.lr}")
        if not 0.05 <= self.min_crop_area <= 1:
            raise ValueError(
                f"Invalid value for `min_crop_area`: expected in [0.05, 1], received: {self.min_crop_area}"
            )
        losses.check_loss_options(self.margin, self.temperature)
        losses.check_distil_options(self.distil_target, self.distil_temperature)
        if not self.distil_weight >= 0:
            raise ValueError(
                f"Invalid value for `distil_weight`: expected >= 0, received: {self.distil_weight}"
            )
        losses.parse_schedule(self.loss, losses.LOSSES, "loss")
        losses.parse_schedule(self.mining, losses.MINING, "mining")

    @staticmethod
    def branch_options(config: BranchConfig) -> dict[str, Any]:
        """The options whose `branch_config()` rebuilds `config`, for fine-tuning a trained branch
        (its pretrained-backbone file aside: the trained weights replace it). A branch setting these
        options cannot carry stops here rather than training another network."""
        known = {f.name for f in fields(FitOptions)}
        settings = {k: v for k, v in config.to_dict().items() if k != "backbone_weights"}
        default = BranchConfig().to_dict()
        lost = sorted(k for k, v in settings.items() if k not in known and v != default[k])
        if lost:
            raise ValueError(f"Invalid value for `config`: fit options cannot rebuild a branch with {lost}")
        return {k: v for k, v in settings.items() if k in known}

    def branch_config(self) -> BranchConfig:
        return BranchConfig(
            image_size=self.image_size,
            embedding_dim=self.embedding_dim,
            width=self.width,
            activation=self.activation,
            blocks=self.blocks,
            backbone=self.backbone,
            backbone_weights=self.backbone_weights,
            resize=self.resize,
            input_norm=self.input_norm,
            mirror_invariant=self.mirror_invariant,
            extra_blocks=self.extra_blocks,
            centre_view=self.centre_view,
            centre_size=self.centre_size,
        )


class ScheduleCallback(keras.callbacks.Callback):
    """Sets the loss and mining modes for each epoch from their schedules."""

    def __init__(self, loss: str, mining: str) -> None:
        super().__init__()
        self.loss = losses.parse_schedule(loss, losses.LOSSES, "loss")
        self.mining = losses.parse_schedule(mining, losses.MINING, "mining")
        self.current: tuple[str, str] | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        modes = (losses.mode_at(self.loss, epoch), losses.mode_at(self.mining, epoch))
        if modes != self.current:
            self.model.set_modes(*modes)
            print(f"epoch {epoch + 1}: loss {modes[0]}, mining {modes[1]}", flush=True)
            self.current = modes


class CheckpointCallback(keras.callbacks.Callback):
    """Saves at each epoch's end, every N minutes and/or N steps, and keeps the history."""

    def __init__(
        self, out: Path, state: checkpoint.TrainState, minutes: float, steps: int, offset: int = 0
    ) -> None:
        super().__init__()
        self.folder, self.state = checkpoint.checkpoint_dir(out), state
        self.minutes, self.every_steps, self.offset = minutes, steps, offset
        self.epoch, self.step, self._last = state.epoch, state.step, time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch, self.step = epoch, self.offset
        self.offset = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.step += 1
        due_time = self.minutes > 0 and time.monotonic() - self._last >= 60 * self.minutes
        due_steps = self.every_steps > 0 and self.step % self.every_steps == 0
        if due_time or due_steps:
            self.save(self.epoch, self.step)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.state.history.append({k: float(v) for k, v in (logs or {}).items()})
        path = self.save(epoch + 1, 0)
        self.folder.joinpath(f"epoch-{epoch + 1:03d}.npz").write_bytes(path.read_bytes())

    def save(self, epoch: int, step: int) -> Path:
        if keras.backend.backend() == "jax":
            self.model.jax_state_sync()  # the JAX trainer keeps fresh weights outside the variables
        self.state.epoch, self.state.step = epoch, step
        self._last = time.monotonic()
        return checkpoint.save(
            self.folder / checkpoint.LAST, self.state, self.model.branch, self.model.optimizer
        )


def _optimizer(options: FitOptions, total_steps: int) -> keras.optimizers.Optimizer:
    warmup = min(500, max(1, total_steps // 20))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, total_steps - warmup),
        alpha=0.05,
        warmup_target=options.lr,
        warmup_steps=warmup,
    )
    return keras.optimizers.AdamW(schedule, weight_decay=options.weight_decay, global_clipnorm=1.0)


def make_renderers(
    data: DataSet, options: FitOptions, start_weights: Path | None = None
) -> dict[str, Renderer]:
    """Renderers for the training split and, when it is big enough, the validation split.

    With `neighbour_groups`, the training renderer batches look-alikes as `start_weights` (a
    checkpoint or weights file) see them.
    """
    train_rows, val_rows = split_rows(data, options.val_split, options.seed)
    batch = min(options.batch_size, len(train_rows))
    if batch < options.batch_size:
        print(f"note: only {len(train_rows)} training rows; batch size lowered to {batch}", flush=True)
    made = {
        "train": Renderer(
            data,
            tuple(int(r) for r in train_rows),
            batch,
            options.image_size,
            options.seed,
            min_crop_area=options.min_crop_area,
            resize=options.resize,
            neighbours=_look_alikes(data, train_rows, options, start_weights),
        )
    }
    if len(val_rows):
        made["val"] = Renderer(
            data,
            tuple(int(r) for r in val_rows),
            min(batch, len(val_rows)),
            options.image_size,
            options.seed + 1,
            min_crop_area=options.min_crop_area,
            resize=options.resize,
        )
    return made


def _look_alikes(
    data: DataSet, rows: np.ndarray, options: FitOptions, start_weights: Path | None
) -> Neighbours | None:
    if options.neighbour_groups < 2:
        return None
    if start_weights is None:
        print(
            "note: --neighbour-groups needs starting weights (--init-weights or --resume); "
            "batches stay random",
            flush=True,
        )
        return None
    started = time.monotonic()
    branch, _ = checkpoint.load_branch(start_weights)
    paths = [data.paths[data.rows[int(r)][0]] for r in rows]
    table = neighbour_table(
        embed_rows(branch, paths, options.image_size, options.resize), options.neighbour_groups
    )
    print(
        f"look-alike batches: {len(paths)} pictures embedded with {start_weights} "
        f"in {time.monotonic() - started:.0f} s, groups of {options.neighbour_groups}",
        flush=True,
    )
    return table


def _build(options: FitOptions, total_steps: int, resume_from: Path | None) -> SiameseModel:
    branch = build_branch(options.branch_config())
    if options.init_weights:
        source, _ = checkpoint.load_branch(Path(options.init_weights))
        added = grow_into(branch, source)  # layer by layer; blocks the source lacks are grown
        if added:
            print(f"grown from {options.init_weights}: {len(added)} new block(s) start near the identity")
    model = SiameseModel(
        branch,
        options.margin,
        options.temperature,
        seed=options.seed,
        distil_weight=options.distil_weight if options.teacher else 0.0,
        distil_temperature=options.distil_temperature,
        distil_target=options.distil_target,
    )
    model.compile(optimizer=_optimizer(options, total_steps), jit_compile=options.jit_compile)
    if resume_from is not None:
        loaded, _ = checkpoint.load_branch(resume_from)
        for target, value in zip(branch.weights, loaded.weights):
            target.assign(value)
        checkpoint.restore_optimizer(resume_from, model.optimizer, model.trainable_variables)
    return model


def fit(options: FitOptions, resume: bool = False, argv: list[str] | None = None) -> Path:
    """Train; returns the path of the last checkpoint."""
    out = Path(options.out)
    resume_from = checkpoint.resolve(out) if resume else None
    state = checkpoint.read_state(resume_from) if resume_from else None
    if state is not None:
        options = replace(
            FitOptions(**state.options),
            epochs=options.epochs,
            workers=options.workers,
            out=options.out,
            verbose=options.verbose,
        )
        print(f"resuming from {resume_from}: epoch {state.epoch + 1}, step {state.step}", flush=True)
        # The card's provenance must say exactly how the weights came about, resumes included.
        state.extra.setdefault("resumes", []).append(
            {"command": list(argv or sys.argv), "epoch": state.epoch, "step": state.step}
        )
    keras.utils.set_random_seed(options.seed)
    # A teacher that cannot embed the views is refused before minutes go into loading and batching.
    teacher = None
    if options.teacher:
        anchor = options.embedding_dim if options.distil_target == "anchor" else None
        teacher = Teacher(Path(options.teacher), options.image_size, options.resize, anchor_width=anchor)
    data = load_data([Path(p) for p in options.data], options.mode)
    for path, reason in data.skipped[:5]:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    start = resume_from or (Path(options.init_weights) if options.init_weights else None)
    renderers = make_renderers(data, options, start)
    steps = options.steps_per_epoch or renderers["train"].steps()
    if state is None:
        state = checkpoint.TrainState(
            options.branch_config().to_dict(),
            asdict(options),
            extra={"data": data.describe(), "command": argv or sys.argv},
        )
    state.extra["backend"] = keras.backend.backend()
    out.mkdir(parents=True, exist_ok=True)
    _write_heldout(out, data, renderers)
    views = renderers["train"].batch_size * data.views_per_row
    feeder = Feeder(renderers, options.workers)
    try:
        with distribute.scope(options.distribute, views):
            model = _build(options, steps * options.epochs, resume_from)
            _run_epochs(model, feeder, options, state, out, steps, teacher)
            state.extra["calibration"] = _calibrate(model, feeder, options.target_precision)
    finally:
        feeder.close()
    return checkpoint.save(
        checkpoint.checkpoint_dir(out) / checkpoint.LAST, state, model.branch, model.optimizer
    )


def _run_epochs(
    model: SiameseModel,
    feeder: Feeder,
    options: FitOptions,
    state: checkpoint.TrainState,
    out: Path,
    steps: int,
    teacher: Teacher | None = None,
) -> None:
    train = ViewSequence(feeder, "train", offset=state.step, teacher=teacher, steps=steps)
    val = ViewSequence(feeder, "val", fixed_epoch=0, teacher=teacher) if "val" in feeder.renderers else None
    saver = CheckpointCallback(out, state, options.checkpoint_minutes, options.checkpoint_steps, state.step)
    callbacks = [
        ScheduleCallback(options.loss, options.mining),
        FeedMonitor(train),
        saver,
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    started = time.monotonic()
    try:
        if state.step and state.epoch < options.epochs:  # finish the epoch a checkpoint stopped inside
            model.fit(
                train,
                epochs=state.epoch + 1,
                initial_epoch=state.epoch,
                steps_per_epoch=steps - state.step,
                validation_data=val,
                callbacks=callbacks,
                verbose=options.verbose,
                shuffle=False,
            )
            train.offset = 0
        if state.epoch < options.epochs:
            model.fit(
                train,
                epochs=options.epochs,
                initial_epoch=state.epoch,
                steps_per_epoch=steps,
                validation_data=val,
                callbacks=callbacks,
                verbose=options.verbose,
                shuffle=False,
            )
    except KeyboardInterrupt:
        path = saver.save(saver.epoch, saver.step)
        print(
            f"\ninterrupted: checkpoint saved at epoch {saver.epoch + 1}, step {saver.step} in {path}; "
            f"continue with: dupfinder-train fit --out {out} --resume",
            file=sys.stderr,
            flush=True,
        )
        raise
    finally:
        state.extra["training_seconds"] = (
            state.extra.get("training_seconds", 0.0) + time.monotonic() - started
        )


def _calibrate(model: SiameseModel, feeder: Feeder, target: float) -> dict[str, Any]:
    """A first threshold from held-out (anchor, positive) pairs against unrelated pairs."""
    key = "val" if "val" in feeder.renderers else "train"
    renderer = feeder.renderers[key]
    views, labels = [], []
    for index in range(min(renderer.steps(), 8)):
        batch_views, batch_labels, _ = renderer.render(0, index)
        views.append(batch_views)
        labels.append(batch_labels + index * 1_000_000)
    x, y = np.concatenate(views), np.concatenate(labels)
    embeddings = keras.ops.convert_to_numpy(
        model.branch.predict(x.astype(np.float32), verbose=0, batch_size=64)
    )
    similarity = embeddings @ embeddings.T
    upper = np.triu(np.ones_like(similarity, bool), 1)
    same = (y[:, None] == y[None, :])[upper]
    try:
        calibration = calibrate_threshold(similarity[upper], same.astype(int), target).to_dict()
    except ValueError as error:
        return {"error": str(error), "split": key}
    return {**calibration, "split": key, "pairs": int(upper.sum())}


def _write_heldout(out: Path, data: DataSet, renderers: dict[str, Renderer]) -> None:
    """List the held-out pictures, so `evaluate` can be run on pictures training never saw."""
    if "val" not in renderers:
        return
    pictures = sorted({data.paths[p] for r in renderers["val"].rows for p in data.rows[r]})
    (out / "heldout.txt").write_text("\n".join(pictures) + "\n", encoding="utf-8")
    (out / "data.json").write_text(json.dumps(data.describe(), indent=2) + "\n", encoding="utf-8")
