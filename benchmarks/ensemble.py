"""Two embedding models in one ONNX graph, to measure an ensemble with `benchmarks.accuracy`.

The embedding is both unit vectors side by side divided by √2, so it stays a unit vector and the
cosine of two pictures is the mean of the two models' cosines. Both models must take the same
input (size, layout, resize rule); the card is the first model's, with the new dimension, no
threshold calibrated yet (`python -m benchmarks.accuracy --split val --calibrate --model OUT`).

    python -m benchmarks.ensemble FIRST.onnx SECOND.onnx --out ENSEMBLE.onnx
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dupfinder.modelcard import card_path_for


def _dimension(model: onnx.ModelProto) -> int:
    return int(model.graph.output[0].type.tensor_type.shape.dim[1].dim_value)


def combine(first: Path, second: Path, out: Path) -> Path:
    """Write OUT (and its card beside it): the two models sharing one input."""
    models = [onnx.load(str(path)) for path in (first, second)]
    inputs = [model.graph.input[0] for model in models]
    if inputs[0].SerializeToString() != inputs[1].SerializeToString():
        raise ValueError("the two models take different inputs")
    parts = [
        onnx.compose.add_prefix(model, prefix, rename_inputs=False)
        for model, prefix in zip(models, ("first_", "second_"), strict=True)
    ]
    outputs = [part.graph.output[0].name for part in parts]
    dimension = sum(_dimension(model) for model in models)
    graph = helper.make_graph(
        [
            *parts[0].graph.node,
            *parts[1].graph.node,
            helper.make_node("Concat", outputs, ["both"], axis=1),
            helper.make_node("Mul", ["both", "ensemble_scale"], ["embedding"]),
        ],
        "ensemble",
        [inputs[0]],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dimension])],
        initializer=[
            *parts[0].graph.initializer,
            *parts[1].graph.initializer,
            numpy_helper.from_array(np.array([1 / np.sqrt(2)], np.float32), "ensemble_scale"),
        ],
    )
    combined = helper.make_model(graph, opset_imports=models[0].opset_import)
    combined.ir_version = max(model.ir_version for model in models)
    onnx.checker.check_model(combined)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(combined, str(out))
    card = json.loads(card_path_for(first).read_text(encoding="utf-8"))
    card.update(name=out.stem, embedding_dim=dimension)
    card["provenance"] = {"ensemble_of": [str(first), str(second)]}
    card_path_for(out).write_text(json.dumps(card, indent=2), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"ensemble: {combine(args.first, args.second, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
