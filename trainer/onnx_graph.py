"""A small Keras → ONNX converter for the layers our branches use, built with `onnx.helper`.

Why our own: it needs neither TensorFlow nor tf2onnx (a JAX-trained checkpoint exports on a
machine without TensorFlow), and it controls the graph the engine runs: uint8 NHWC in, one
transpose to NCHW, the network, an L2-normalised embedding out, dynamic batch. It walks the
functional graph node by node (nested functional models are inlined) and converts each layer with
a small function; a layer it does not know stops the export with its name and type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # onnxruntime >= 1.14 reads it; the engine supports onnxruntime >= 1.17
INPUT_NAME, OUTPUT_NAME = "pixels", "embedding"


class UnsupportedLayer(Exception):
    """A layer this converter cannot translate; the message names it."""


class GraphBuilder:
    """Collects nodes and initializers with unique names. A constant equal to one already added is
    not added again: a nested model applied to two views keeps one copy of its weights."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0
        self._constants: dict[tuple[str, tuple[int, ...], bytes], str] = {}

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}:{self._count}"

    def const(self, hint: str, value: Any, dtype: Any = np.float32) -> str:
        array = np.ascontiguousarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            self._constants[key] = name = self.name(hint)
            self.initializers.append(numpy_helper.from_array(array, name))
        return self._constants[key]

    def op(self, op_type: str, inputs: list[str], hint: str, **attributes: Any) -> str:
        output = self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output


def _weights(variable: Any) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=np.float32)


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow/JAX 'same' padding: the odd pixel goes after (bottom/right)."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _conv_padding(layer: Any, input_shape: tuple[Any, ...]) -> dict[str, Any]:
    """Conv attributes for the layer's padding: explicit pads where the size is known; where it is
    not (a view of another size shares the weights), ONNX's SAME_UPPER, which pads as TF/JAX do."""
    if layer.padding == "valid":
        return {"pads": [0, 0, 0, 0]}
    if layer.padding != "same":
        raise UnsupportedLayer(f"layer {layer.name}: padding={layer.padding!r} is not supported")
    if input_shape[1] is None or input_shape[2] is None:
        return {"auto_pad": "SAME_UPPER"}
    top, bottom = _same_pads(input_shape[1], layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0])
    left, right = _same_pads(input_shape[2], layer.kernel_size[1], layer.strides[1], layer.dilation_rate[1])
    return {"pads": [top, left, bottom, right]}


def _activation(g: GraphBuilder, x: str, function: Any, hint: str) -> str:
    name = getattr(function, "__name__", str(function))
    if name == "linear":
        return x
    if name == "relu":
        return g.op("Relu", [x], hint)
    if name == "relu6":
        return g.op("Clip", [x, g.const("zero", 0.0), g.const("six", 6.0)], hint)
    if name in ("hard_silu", "hard_swish"):
        return g.op("HardSwish", [x], hint)
    if name in ("hard_sigmoid",):
        return g.op("HardSigmoid", [x], hint, alpha=1 / 6, beta=0.5)
    if name in ("silu", "swish"):
        return g.op("Mul", [x, g.op("Sigmoid", [x], hint + "_sigmoid")], hint)
    if name in ("sigmoid", "tanh"):
        return g.op(name.capitalize(), [x], hint)
    raise UnsupportedLayer(f"activation {name!r} is not supported by the ONNX exporter")


def _conv2d(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    kernel = _weights(layer.kernel).transpose(3, 2, 0, 1)  # (kh, kw, in, out) → (out, in, kh, kw)
    names = [inputs[0], g.const(f"{layer.name}/kernel", kernel)]
    if layer.use_bias:
        names.append(g.const(f"{layer.name}/bias", _weights(layer.bias)))
    y = g.op(
        "Conv",
        names,
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        **_conv_padding(layer, shape),
        group=layer.groups,
    )
    return _activation(g, y, layer.activation, layer.name + "_act")


def _depthwise(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    kh, kw, channels, multiplier = layer.kernel.shape
    kernel = _weights(layer.kernel).reshape(kh, kw, 1, channels * multiplier).transpose(3, 2, 0, 1)
    names = [inputs[0], g.const(f"{layer.name}/kernel", kernel)]
    if layer.use_bias:
        names.append(g.const(f"{layer.name}/bias", _weights(layer.bias)))
    y = g.op(
        "Conv",
        names,
        layer.name,
        kernel_shape=[kh, kw],
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        **_conv_padding(layer, shape),
        group=channels,
    )
    return _activation(g, y, layer.activation, layer.name + "_act")


def _per_channel(value: np.ndarray) -> np.ndarray:
    return value.reshape(1, -1, 1, 1)


def _group_norm(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    if layer.axis not in (-1, 3):
        raise UnsupportedLayer(f"layer {layer.name}: GroupNormalization axis={layer.axis} is not supported")
    groups, x = layer.groups, inputs[0]
    # Instance normalisation over (N, groups, rest) is group normalisation over (N, C, H, W).
    grouped = g.op("Reshape", [x, g.const("group_shape", [0, groups, -1], np.int64)], layer.name + "_group")
    normed = g.op(
        "InstanceNormalization",
        [grouped, g.const("ones", np.ones(groups)), g.const("zeros", np.zeros(groups))],
        layer.name + "_in",
        epsilon=float(layer.epsilon),
    )
    y = g.op("Reshape", [normed, g.op("Shape", [x], layer.name + "_shape")], layer.name + "_ungroup")
    if layer.scale:
        y = g.op("Mul", [y, g.const(f"{layer.name}/gamma", _per_channel(_weights(layer.gamma)))], layer.name)
    if layer.center:
        y = g.op("Add", [y, g.const(f"{layer.name}/beta", _per_channel(_weights(layer.beta)))], layer.name)
    return y


def _batch_norm(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    if layer.axis not in (-1, 3):
        raise UnsupportedLayer(f"layer {layer.name}: BatchNormalization axis={layer.axis} is not supported")
    channels = shape[-1]
    gamma = _weights(layer.gamma) if layer.scale else np.ones(channels, np.float32)
    beta = _weights(layer.beta) if layer.center else np.zeros(channels, np.float32)
    return g.op(
        "BatchNormalization",
        [
            inputs[0],
            g.const(f"{layer.name}/gamma", gamma),
            g.const(f"{layer.name}/beta", beta),
            g.const(f"{layer.name}/mean", _weights(layer.moving_mean)),
            g.const(f"{layer.name}/variance", _weights(layer.moving_variance)),
        ],
        layer.name,
        epsilon=float(layer.epsilon),
    )


def _rescaling(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    scaled = g.op("Mul", [inputs[0], g.const("scale", layer.scale)], layer.name + "_mul")
    return g.op("Add", [scaled, g.const("offset", layer.offset)], layer.name)


def _standardise(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    # ReduceMean takes its axes as an attribute up to opset 17 (OPSET).
    mean = g.op("ReduceMean", [inputs[0]], layer.name + "_mean", axes=[1, 2, 3], keepdims=1)
    centred = g.op("Sub", [inputs[0], mean], layer.name + "_centred")
    variance = g.op(
        "ReduceMean",
        [g.op("Mul", [centred, centred], layer.name + "_sq")],
        layer.name + "_var",
        axes=[1, 2, 3],
        keepdims=1,
    )
    spread = g.op(
        "Max",
        [g.op("Sqrt", [variance], layer.name + "_std"), g.const("min_spread", layer.min_spread)],
        layer.name + "_floor",
    )
    return g.op("Div", [centred, g.op("Mul", [spread, g.const("two", 2.0)], layer.name + "_x2")], layer.name)


def _mirror_pair(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    # The graph is NCHW here: width is axis 3, read backwards.
    mirrored = g.op(
        "Slice",
        [
            inputs[0],
            g.const("starts", [-1], np.int64),
            g.const("ends", [np.iinfo(np.int64).min], np.int64),
            g.const("axes", [3], np.int64),
            g.const("steps", [-1], np.int64),
        ],
        layer.name + "_flip",
    )
    return g.op("Concat", [inputs[0], mirrored], layer.name, axis=0)


def _centre_box(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    # The graph is NCHW here: the box spans axes 2 and 3; Resize "linear" with half-pixel centres
    # and no antialiasing is what Keras' bilinear resize computes.
    offset, length = layer.box(shape[1])
    box = g.op(
        "Slice",
        [
            inputs[0],
            g.const("starts", [offset, offset], np.int64),
            g.const("ends", [offset + length, offset + length], np.int64),
            g.const("axes", [2, 3], np.int64),
        ],
        layer.name + "_box",
    )
    if length == layer.size:
        return box
    batch_channels = g.op(
        "Slice",
        [
            g.op("Shape", [box], layer.name + "_shape"),
            g.const("starts", [0], np.int64),
            g.const("ends", [2], np.int64),
        ],
        layer.name + "_nc",
    )
    sizes = g.op(
        "Concat",
        [batch_channels, g.const("side", [layer.size, layer.size], np.int64)],
        layer.name + "_sizes",
        axis=0,
    )
    return g.op(
        "Resize",
        [box, "", "", sizes],
        layer.name,
        mode="linear",
        coordinate_transformation_mode="half_pixel",
    )


def _fold_pairs(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    pairs = g.op(
        "Reshape", [inputs[0], g.const("shape", [2, -1, shape[-1]], np.int64)], layer.name + "_pairs"
    )
    return g.op("ReduceMean", [pairs], layer.name, axes=[0], keepdims=0)


def _relu_layer(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    if layer.negative_slope or layer.threshold:
        raise UnsupportedLayer(f"layer {layer.name}: ReLU with negative_slope/threshold is not supported")
    if layer.max_value is None:
        return g.op("Relu", inputs, layer.name)
    return g.op("Clip", [inputs[0], g.const("zero", 0.0), g.const("max", float(layer.max_value))], layer.name)


def _zero_padding(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    (top, bottom), (left, right) = layer.padding
    pads = np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
    return g.op("Pad", [inputs[0], g.const("pads", pads, np.int64)], layer.name)


def _global_average(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    pooled = g.op("GlobalAveragePool", inputs, layer.name)
    return pooled if layer.keepdims else g.op("Flatten", [pooled], layer.name + "_flat", axis=1)


def _gem(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    p = max(float(_weights(layer.p)), 1.0)
    clipped = g.op("Max", [inputs[0], g.const("eps", layer.eps)], layer.name + "_clip")
    powered = g.op("Pow", [clipped, g.const("p", p)], layer.name + "_pow")
    pooled = g.op(
        "Flatten", [g.op("GlobalAveragePool", [powered], layer.name + "_mean")], layer.name + "_flat", axis=1
    )
    return g.op("Pow", [pooled, g.const("inv_p", 1.0 / p)], layer.name)


def _dense(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    if len(shape) != 2:
        raise UnsupportedLayer(f"layer {layer.name}: Dense on a {len(shape)}-D tensor is not supported")
    y = g.op("MatMul", [inputs[0], g.const(f"{layer.name}/kernel", _weights(layer.kernel))], layer.name)
    if layer.use_bias:
        y = g.op("Add", [y, g.const(f"{layer.name}/bias", _weights(layer.bias))], layer.name + "_bias")
    return _activation(g, y, layer.activation, layer.name + "_act")


def _l2(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    squares = g.op("ReduceSumSquare", inputs, layer.name + "_sq", axes=[1], keepdims=1)
    norm = g.op(
        "Sqrt", [g.op("Max", [squares, g.const("eps", layer.eps)], layer.name + "_max")], layer.name + "_n"
    )
    return g.op("Div", [inputs[0], norm], layer.name)


def _activation_layer(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    return _activation(g, inputs[0], layer.activation, layer.name)


def _identity(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
    return inputs[0]


def _binary(op_type: str) -> Callable[..., str]:
    def convert(g: GraphBuilder, layer: Any, inputs: list[str], shape: tuple[Any, ...]) -> str:
        result = inputs[0]
        for other in inputs[1:]:
            result = g.op(op_type, [result, other], layer.name)
        return result

    return convert


CONVERTERS: dict[str, Callable[[GraphBuilder, Any, list[str], tuple[Any, ...]], str]] = {
    "Conv2D": _conv2d,
    "DepthwiseConv2D": _depthwise,
    "GroupNormalization": _group_norm,
    "BatchNormalization": _batch_norm,
    "Rescaling": _rescaling,
    "Standardise": _standardise,
    "MirrorPair": _mirror_pair,
    "CentreBox": _centre_box,
    "FoldPairs": _fold_pairs,
    "ReLU": _relu_layer,
    "ZeroPadding2D": _zero_padding,
    "GlobalAveragePooling2D": _global_average,
    "GeMPooling2D": _gem,
    "Dense": _dense,
    "L2Normalize": _l2,
    "Activation": _activation_layer,
    "Dropout": _identity,
    "SpatialDropout2D": _identity,
    "Identity": _identity,
    "Add": _binary("Add"),
    "Multiply": _binary("Mul"),
}


def _walk(g: GraphBuilder, model: keras.Model, names: dict[int, str]) -> None:
    """Convert every node of a functional `model`; `names` maps tensor ids to ONNX names."""
    for depth in sorted(model._nodes_by_depth, reverse=True):  # Keras' own evaluation order
        for node in model._nodes_by_depth[depth]:
            if node.operation is None or node.is_input:
                continue
            layer = node.operation
            inputs = [names[id(tensor)] for tensor in node.input_tensors]
            if isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth"):
                inner = {id(t): name for t, name in zip(layer.inputs, inputs)}
                _walk(g, layer, inner)
                for outer, inner_out in zip(node.outputs, layer.outputs):
                    names[id(outer)] = inner[id(inner_out)]
                continue
            kind = type(layer).__name__
            if kind not in CONVERTERS:
                raise UnsupportedLayer(
                    f"layer {layer.name!r} of type {kind} is not supported by the ONNX "
                    f"exporter (supported: {', '.join(sorted(CONVERTERS))})"
                )
            shape = tuple(node.input_tensors[0].shape)
            names[id(node.outputs[0])] = CONVERTERS[kind](g, layer, inputs, shape)


def branch_to_onnx(branch: keras.Model, metadata: dict[str, Any] | None = None) -> onnx.ModelProto:
    """The branch as an ONNX model: uint8 (N, S, S, 3) in, float32 (N, D) unit vectors out."""
    _, height, width, channels = branch.inputs[0].shape
    g = GraphBuilder()
    as_float = g.op("Cast", [INPUT_NAME], "as_float", to=TensorProto.FLOAT)
    nchw = g.op("Transpose", [as_float], "nchw", perm=[0, 3, 1, 2])
    names = {id(branch.inputs[0]): nchw}
    _walk(g, branch, names)
    final = names[id(branch.outputs[0])]
    g.nodes.append(helper.make_node("Identity", [final], [OUTPUT_NAME], name=OUTPUT_NAME))
    dim = branch.outputs[0].shape[-1]
    graph = helper.make_graph(
        g.nodes,
        "dupfinder_embedding",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", height, width, channels])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", dim])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dupfinder-train"
    )
    model.ir_version = IR_VERSION
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(model)
    return model
