"""Tracing a graph module to ONNX, simplifying it with onnxsim, and checking it.

The legacy TorchScript exporter (``dynamo=False``) is used: it needs nothing
beyond torch, and these graphs are static apart from the batch axis, which is
exactly what tracing captures.
"""

from __future__ import annotations

import collections
import io
import warnings

import onnx
import onnxsim
import torch

from defectkit.errors import ModelError
from defectkit.export.graphs import GraphSpec

__all__ = ["OPSET", "count_nodes", "export_onnx", "input_channels"]

# 17 runs on every ONNX Runtime since 1.14, Debian 13's 1.21 included, and has all the ops
# the graphs and the QDQ quantiser use (per-channel QuantizeLinear needs 13).
OPSET = 17


def input_channels(spec: GraphSpec) -> int | str:
    """The input's channel dimension: 4 with an ROI mask, otherwise symbolic (3 or 4 accepted)."""
    if spec.kind == "patch":
        return 3
    return 4 if spec.roi else "channels"


def count_nodes(model: onnx.ModelProto) -> dict[str, int]:
    """Node count by op type, plus ``"total"``."""
    counts = collections.Counter(node.op_type for node in model.graph.node)
    return {"total": sum(counts.values()), **dict(sorted(counts.items()))}


def export_onnx(module: torch.nn.Module, spec: GraphSpec) -> tuple[onnx.ModelProto, dict]:
    """Traces ``module`` (built for ``spec``), simplifies and checks the result.

    Returns:
        ``(model, info)``; info holds the node counts before and after simplification.

    Raises:
        ModelError: if onnxsim cannot prove the simplified graph equal, or the checker fails.
    """
    height, width = spec.image_size
    if spec.kind == "patch":
        example = torch.zeros(1, 3, spec.patch, spec.patch)
        names, outputs = ["patch"], ["heatmap"]
        axes = {"patch": {0: "batch"}, "heatmap": {0: "batch"}}
    else:
        channels = input_channels(spec)
        example = torch.zeros(1, 4 if channels == 4 else 3, height, width)
        names, outputs = ["strip"], ["heatmap", "score"]
        axes = {"strip": {0: "batch"}, "heatmap": {0: "batch"}, "score": {0: "batch"}}
        if channels != 4:
            axes["strip"][1] = channels
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The network's input checks run on Python ints at trace time; the tracer warns about them.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # Slices with step -1 (the mirrored border) are not constant-folded; onnxsim folds what can be.
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=names,
            output_names=outputs,
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    traced = onnx.load_from_string(buffer.getvalue())
    simplified, proven = onnxsim.simplify(traced)
    if not proven:
        msg = f"onnxsim could not verify the simplified {spec.kind} graph against the traced one"
        raise ModelError(msg)
    try:
        onnx.checker.check_model(simplified, full_check=True)  # full_check runs strict shape inference
    except onnx.checker.ValidationError as error:
        msg = f"the exported {spec.kind} graph fails onnx.checker: {error}"
        raise ModelError(msg) from error
    return simplified, {"nodes_traced": count_nodes(traced), "nodes_simplified": count_nodes(simplified)}
