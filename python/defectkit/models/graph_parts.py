"""Naming parts of an exported ONNX graph, for the float islands a family offers INT8 export."""

from __future__ import annotations

import onnx

__all__ = ["downstream", "tensor_types"]


def _consumers(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    by_input: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            by_input.setdefault(name, []).append(node)
    return by_input


def downstream(model: onnx.ModelProto, start: onnx.NodeProto) -> list[str]:
    """Names of ``start`` and every node fed, directly or not, by its outputs, in graph order."""
    consumers = _consumers(model)
    seen, stack = {start.name}, [start]
    while stack:
        for output in stack.pop().output:
            for node in consumers.get(output, []):
                if node.name not in seen:
                    seen.add(node.name)
                    stack.append(node)
    return [n.name for n in model.graph.node if n.name in seen]


_ONNX_DTYPES = {1: "float32", 2: "uint8", 7: "int64"}  # onnx.TensorProto.FLOAT, UINT8, INT64


def tensor_types(model: onnx.ModelProto) -> dict[str, tuple[str, tuple[int | str, ...]]]:
    """Each graph input's and output's (dtype, shape) as the graph declares them: fixed sizes as
    ints, symbolic ones by name (what an artifact's tensor specs must match)."""
    types = {}
    for value in [*model.graph.input, *model.graph.output]:
        tensor = value.type.tensor_type
        dims = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim
        )
        types[value.name] = (_ONNX_DTYPES.get(tensor.elem_type, f"onnx:{tensor.elem_type}"), dims)
    return types
