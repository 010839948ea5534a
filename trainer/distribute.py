"""More than one accelerator: Keras 3's own distribution support, per backend.

- JAX: `keras.distribution.DataParallel` over every device (one host, or several hosts after
  `keras.distribution.initialize()`, which reads KERAS_DISTRIBUTION_JOB_ADDRESSES,
  KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID). The batch is sharded but
  the loss sees the whole batch, so triplets are mined across devices.
- TensorFlow: a `tf.distribute.MirroredStrategy` scope around building, compiling and fitting;
  each replica mines triplets inside its own share of the batch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import keras

STRATEGIES: tuple[str, ...] = ("none", "data-parallel")


def device_count() -> int:
    return len(keras.distribution.list_devices())


@contextlib.contextmanager
def scope(mode: str, global_batch: int) -> Iterator[None]:
    """Enter the distribution for `mode` (no-op for 'none'); checks the batch splits evenly."""
    if mode not in STRATEGIES:
        raise ValueError(f"Invalid value for `distribute`: expected one of {STRATEGIES}, received: {mode!r}")
    if mode == "none":
        yield
        return
    backend = keras.backend.backend()
    if backend == "jax":
        _jax_data_parallel(global_batch)
        yield
    elif backend == "tensorflow":
        import tensorflow as tf  # only this backend's distribution needs it

        strategy = tf.distribute.MirroredStrategy()
        _check_split(global_batch, strategy.num_replicas_in_sync)
        with strategy.scope():
            yield
    else:
        raise ValueError(
            f"--distribute data-parallel supports the jax and tensorflow backends, not {backend}"
        )


def _jax_data_parallel(global_batch: int) -> None:
    if os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES") and keras.distribution.distribution() is None:
        keras.distribution.initialize()
    devices = keras.distribution.list_devices()
    _check_split(global_batch, len(devices))
    if keras.distribution.distribution() is None:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        print(f"data-parallel over {len(devices)} device(s): {', '.join(map(str, devices))}", flush=True)


def _check_split(global_batch: int, devices: int) -> None:
    if global_batch % devices:
        raise ValueError(
            f"Invalid value for `batch_size`: the {global_batch} views of a batch must split "
            f"evenly over {devices} devices"
        )
