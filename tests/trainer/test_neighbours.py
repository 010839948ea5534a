"""Look-alike batches: nearest neighbours, the grouped epoch order, and fit using them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.trainer.conftest import TINY
from trainer import checkpoint
from trainer.data import Renderer, load_data
from trainer.neighbours import grouped_order, nearest, neighbour_table
from trainer.train import FitOptions, fit


def _unit(rows: list[list[float]]) -> np.ndarray:
    vectors = np.asarray(rows, np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_nearest_finds_the_most_similar_other_rows_in_order() -> None:
    vectors = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.95, 0.05], [0.8, 0.3, 0]])
    found = nearest(vectors, 2, block=2)  # blocks smaller than the set: the same answer
    assert found[0].tolist() == [1, 4] and found[2][0] == 3 and found[3][0] == 2
    assert all(i not in row for i, row in enumerate(found.tolist()))
    assert nearest(vectors[:1], 3).shape == (1, 0)  # a single picture has no neighbour


def test_grouped_order_is_a_permutation_with_lookalikes_side_by_side() -> None:
    pairs = tuple((i + 1,) if i % 2 == 0 else (i - 1,) for i in range(12))
    order = grouped_order(pairs, seed=1, epoch=0)
    assert sorted(order.tolist()) == list(range(12))
    assert all(order[k] // 2 == order[k + 1] // 2 for k in range(0, 12, 2))
    assert not np.array_equal(order, grouped_order(pairs, seed=1, epoch=1))


def test_renderer_batches_lookalikes_together(photos: Path) -> None:
    data = load_data([photos])
    pairs = neighbour_table(_unit([[np.cos(i // 2), np.sin(i // 2), 0.01 * (i % 2)] for i in range(12)]), 2)
    renderer = Renderer(data, tuple(range(12)), 4, 32, seed=3, neighbours=pairs)
    for index in range(renderer.steps()):
        batch = renderer.batch_rows(0, index)
        assert len(set(batch)) == 4
        assert batch[0] // 2 == batch[1] // 2 and batch[2] // 2 == batch[3] // 2  # pairs side by side
    seen = [r for index in range(renderer.steps()) for r in renderer.batch_rows(0, index)]
    assert sorted(seen) == list(range(12))  # an epoch still visits every row once


def test_fit_from_weights_batches_lookalikes_and_records_the_resize_rule(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {"epochs": 1, "batch_size": 4, "workers": 0, "val_split": 0.0, **TINY}
    base = fit(FitOptions(data=[str(photos)], out=str(tmp_path / "base"), **settings))  # type: ignore[arg-type]
    capsys.readouterr()

    def fine_tune(name: str, **changes: object) -> Path:
        options = {"data": [str(photos)], "out": str(tmp_path / name), "init_weights": str(base)}
        return fit(FitOptions(**options, **settings, **changes))  # type: ignore[arg-type]

    tuned = fine_tune("tuned", neighbour_groups=3, resize="trim-stretch")
    assert "look-alike batches: 12 pictures" in capsys.readouterr().out
    state, _ = checkpoint.read(tuned)
    assert state.branch_config.resize == "trim-stretch" and state.options["neighbour_groups"] == 3
    deeper = fine_tune("deeper", extra_blocks=1)  # a fine-tune may add last-stage blocks
    assert "grown from" in capsys.readouterr().out
    assert checkpoint.read(deeper)[0].branch_config.extra_blocks == 1


def test_lookalike_options_are_validated(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Invalid value for `resize`"):
        FitOptions(data=[str(photos)], out=str(tmp_path), resize="crop")
    with pytest.raises(ValueError, match="Invalid value for `neighbour_groups`"):
        FitOptions(data=[str(photos)], out=str(tmp_path), neighbour_groups=-1)
