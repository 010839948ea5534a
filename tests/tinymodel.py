"""A small but real ONNX embedding model for tests, built with onnx.helper.

uint8 NHWC → float → average-pool to 8×8 → per-picture centring → fixed random projection →
L2 normalisation. Resized and re-encoded copies embed almost identically; different pictures don't.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dupfinder.modelcard import ModelCard, card_path_for

INPUT_SIZE = 64
GRID = 8
EMBEDDING_DIM = 48


def build_tiny_model(
    path: Path,
    threshold: float = 0.9,
    name: str = "tiny-test-model",
    seed: int = 0,
    hash_confirm: dict[str, float] | None = None,
    resize: str = "stretch",
    alignment: dict[str, float] | None = None,
) -> Path:
    features = 3 * GRID * GRID
    projection = np.random.default_rng(seed).normal(0, 1, (features, EMBEDDING_DIM)).astype(np.float32)
    kernel = INPUT_SIZE // GRID
    nodes = [
        helper.make_node("Cast", ["pixels"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["as_float"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node(
            "AveragePool", ["nchw"], ["pooled"], kernel_shape=[kernel, kernel], strides=[kernel, kernel]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("ReduceMean", ["flat", "axes"], ["mean"], keepdims=1),
        helper.make_node("Sub", ["flat", "mean"], ["centred"]),
        helper.make_node("MatMul", ["centred", "projection"], ["projected"]),
        helper.make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", INPUT_SIZE, INPUT_SIZE, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        initializer=[
            numpy_helper.from_array(projection, "projection"),
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    card = ModelCard(
        name=name,
        input_size=INPUT_SIZE,
        embedding_dim=EMBEDDING_DIM,
        default_threshold=threshold,
        preprocessing="average pooling inside the graph",
        provenance={"built_by": "tests/tinymodel.py"},
        hash_confirm=dict(hash_confirm or {}),
        resize=resize,
        alignment=dict(alignment or {}),
    )
    card_path_for(path).write_text(card.to_json(), encoding="utf-8")
    return path
