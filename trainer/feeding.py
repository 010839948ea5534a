"""Keeping the model fed: batches rendered ahead in worker processes, and the wait measured.

Batches are pure functions of (epoch, index) (`trainer.data.Renderer`), so a pool of processes
renders the next ones while the accelerator runs the current step, in order, reproducibly. The
pool uses the `spawn` start method: forking a process that already runs JAX or TensorFlow threads
can deadlock. The time `__getitem__` spends blocked on a batch is the data wait reported each epoch.
No tf.data: the same code feeds the JAX backend on a machine without TensorFlow.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import keras
import numpy as np

from trainer.data import Renderer, install_renderers, render_batch
from trainer.teacher import Teacher

Key = tuple[str, int, int]


class Feeder:
    """Renders batches in a process pool (or inline with `workers=0`), a few batches ahead."""

    def __init__(self, renderers: dict[str, Renderer], workers: int, ahead: int | None = None) -> None:
        if workers < 0:
            raise ValueError(f"Invalid value for `workers`: expected >= 0, received: workers={workers}")
        self.renderers = renderers
        self.ahead = ahead if ahead is not None else max(2, 2 * workers)
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=install_renderers,
                initargs=(renderers,),
            )
        self._pending: OrderedDict[Key, Future[tuple[np.ndarray, np.ndarray, int]]] = OrderedDict()

    def get(self, key: Key, following: list[Key]) -> tuple[np.ndarray, np.ndarray, int]:
        """The batch for `key`; `following` are the keys expected next, submitted ahead."""
        if self._pool is None:
            return self.renderers[key[0]].render(key[1], key[2])
        for wanted in [key, *following[: self.ahead]]:
            if wanted not in self._pending:
                self._pending[wanted] = self._pool.submit(render_batch, *wanted)
        future = self._pending.pop(key)
        # Anything submitted for another order (a seek on resume, an interrupted epoch) is dropped.
        while len(self._pending) > 4 * self.ahead:
            self._pending.popitem(last=False)[1].cancel()
        return future.result()

    def close(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class ViewSequence(keras.utils.PyDataset):
    """A Keras PyDataset over one split: x is (M, S, S, 3) uint8 views, y their identity labels,
    or (labels, the teacher's embeddings of the views) with a `teacher`.

    `fixed_epoch` pins validation to the same batches every epoch; `offset` skips the first
    batches of the epoch (resuming from a checkpoint taken inside it). `steps` is an epoch's length
    in batches (default: as many as the split's pictures fill). Keras ends an epoch when the
    sequence runs out, whatever `steps_per_epoch` asked, so the sequence itself is that long: more
    batches than the pictures fill go round them again with new views.
    """

    def __init__(
        self,
        feeder: Feeder,
        key: str,
        fixed_epoch: int | None = None,
        offset: int = 0,
        teacher: Teacher | None = None,
        steps: int | None = None,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)  # our own pool does the work
        self.feeder, self.key, self.fixed_epoch, self.teacher = feeder, key, fixed_epoch, teacher
        self.renderer = feeder.renderers[key]
        self.steps = steps or self.renderer.steps()
        self.epoch, self.offset = 0, offset
        self.wait_seconds, self.failures, self.batches = 0.0, 0, 0

    def __len__(self) -> int:
        return max(1, self.steps - self.offset)

    def _key(self, position: int) -> Key:
        epoch = self.epoch if self.fixed_epoch is None else self.fixed_epoch
        return (self.key, epoch + position // self.steps, position % self.steps)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        position = index + self.offset
        wanted = self._key(position)
        following = [self._key(position + k) for k in range(1, self.feeder.ahead + 1)]
        if self.fixed_epoch is not None:
            following = [k for k in following if k[1] == self.fixed_epoch]
        started = time.perf_counter()
        views, labels, failures = self.feeder.get(wanted, following)
        self.wait_seconds += time.perf_counter() - started
        self.failures += failures
        self.batches += 1
        if self.teacher is not None:
            return views, (labels, self.teacher.targets(views, labels))
        return views, labels

    def take_counters(self) -> tuple[float, int, int]:
        counters = (self.wait_seconds, self.failures, self.batches)
        self.wait_seconds, self.failures, self.batches = 0.0, 0, 0
        return counters


class FeedMonitor(keras.callbacks.Callback):
    """Tells the sequence which epoch runs, and reports the share of training time spent waiting."""

    def __init__(self, sequence: ViewSequence, verbose: bool = True) -> None:
        super().__init__()
        self.sequence, self.verbose = sequence, verbose
        self._started = self._training_seconds = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.sequence.epoch = epoch
        self.sequence.take_counters()
        self._started, self._training_seconds = time.perf_counter(), 0.0

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not self._training_seconds:
            self._training_seconds = time.perf_counter() - self._started

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        seconds = self._training_seconds or time.perf_counter() - self._started
        wait, failures, batches = self.sequence.take_counters()
        share = wait / seconds if seconds > 0 else 0.0
        if logs is not None:
            logs["data_wait"] = share
        if self.verbose and (share >= 0.2 or failures):
            # The share is in the progress bar's logs every epoch; a high one deserves a line.
            note = f"; {failures} unreadable picture(s) replaced" if failures else ""
            print(
                f"\ndata: {share:.0%} of {seconds:.1f} s spent waiting for data over {batches} batches "
                f"(more --workers may help){note}",
                flush=True,
            )
