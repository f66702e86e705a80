"""Tracing a family's graph module to ONNX, simplifying it with onnxsim, and checking it.

The legacy TorchScript exporter (``dynamo=False``) is used: it needs nothing
beyond torch, and the graphs so far are static apart from the axes a family
names dynamic, which is exactly what tracing captures. Output names are the
fields of the ``NamedTuple`` the module returns (the export contract).
"""

from __future__ import annotations

import collections
import io
import warnings

import onnx
import onnxsim
import torch

from defectkit.errors import ModelError
from defectkit.models.family import GraphBuild

__all__ = ["OPSET", "count_nodes", "export_onnx"]

# 17 runs on every ONNX Runtime since 1.14, Debian 13's 1.21 included, and has all the ops
# the graphs and the QDQ quantiser use (per-channel QuantizeLinear needs 13).
OPSET = 17


def count_nodes(model: onnx.ModelProto) -> dict[str, int]:
    """Node count by op type, plus ``"total"``."""
    counts = collections.Counter(node.op_type for node in model.graph.node)
    return {"total": sum(counts.values()), **dict(sorted(counts.items()))}


def output_names(build: GraphBuild) -> list[str]:
    """The fields of the NamedTuple the module returns on the example inputs."""
    with torch.no_grad():
        outputs = build.module(*build.example)
    fields = getattr(outputs, "_fields", None)
    if fields is None:
        msg = f"{type(build.module).__name__} must return a NamedTuple (its fields name the outputs)"
        raise ModelError(msg)
    return list(fields)


def export_onnx(build: GraphBuild, name: str) -> tuple[onnx.ModelProto, dict]:
    """Traces ``build.module``, simplifies and checks the result; ``name`` is for messages.

    Returns:
        ``(model, info)``; info holds the node counts before and after simplification.

    Raises:
        ModelError: if onnxsim cannot prove the simplified graph equal, or the checker fails.
    """
    outputs = output_names(build)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The network's input checks run on Python ints at trace time; the tracer warns about them.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # Slices with step -1 (a mirrored border) are not constant-folded; onnxsim folds what can be.
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # the legacy exporter's notice
        torch.onnx.export(
            build.module,
            build.example,
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=build.input_names,
            output_names=outputs,
            dynamic_axes=build.dynamic_axes,
            do_constant_folding=True,
        )
    traced = onnx.load_from_string(buffer.getvalue())
    simplified, proven = onnxsim.simplify(traced)
    if not proven:
        msg = f"onnxsim could not verify the simplified {name} graph against the traced one"
        raise ModelError(msg)
    try:
        onnx.checker.check_model(simplified, full_check=True)  # full_check runs strict shape inference
    except onnx.checker.ValidationError as error:
        msg = f"the exported {name} graph fails onnx.checker: {error}"
        raise ModelError(msg) from error
    return simplified, {"nodes_traced": count_nodes(traced), "nodes_simplified": count_nodes(simplified)}
