"""Tiny defectkit artifacts built with onnx's helper API, metadata per docs/ARTIFACT.md.

Their heatmaps are known functions of the input, so the native runtime's tiling,
stitching and scoring can be checked against ONNX Runtime from Python and numpy.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from defectkit.models.reference_unet.data.tiling import positions_along

PATCH = 16
OVERLAP = 4


def _metadata(
    graph: str, size: tuple[int, int], *, roi: bool, score: bool, **overrides: Any
) -> dict[str, str]:
    h, w = size
    tiling: dict[str, Any] = {"patch": None, "stitch": "nearest_centre", "mode": "baked"}
    if graph == "patch":
        tiling = {
            "patch": PATCH,
            "min_overlap": OVERLAP,
            "positions_y": positions_along(h, PATCH, 1, min_overlap=OVERLAP),
            "positions_x": positions_along(w, PATCH, 1, min_overlap=OVERLAP),
            "stitch": "nearest_centre",
            "mode": "runtime",
        }
    meta: dict[str, Any] = {
        "format_version": "1",
        "family": "reference_unet",
        "graph": graph,
        "input": {
            "name": "patch" if graph == "patch" else "strip",
            "layout": "NCHW",
            "dtype": "float32",
            "scale": 255.0,
            "channels": ["target", "ref1", "ref2"],
            "accepted_channels": [4] if roi else [3, 4],
            "fourth_channel": "roi" if roi else "ignore",
        },
        "image_size": [h, w],
        "tiling": tiling,
        "score": {"reduction": "box_mean_max", "box": 3, "border": "reflect"},
        "outputs": {"format": "raw", "heatmap": "heatmap", "score": "score" if score else None},
        "thresholds": {"image": 0.4, "pixel": 0.6},
        "precision": "fp32",
        "provenance": {
            "run_config": {"width": 16},
            "data_fingerprint": "sha256:00",
            "defectkit_version": "0.1.0",
        },
    }
    meta.update(overrides)
    return {
        f"defectkit.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in meta.items() if v is not ...
    }


def _const(name: str, values: Any, dtype: Any) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def write_artifact(
    path: pathlib.Path,
    graph: str = "patch",
    size: tuple[int, int] = (37, 29),
    *,
    roi: bool = False,
    **overrides: Any,
) -> pathlib.Path:
    """Writes an artifact and returns its path.

    ``patch``: heatmap = sigmoid((target - ref1) / 32) * 0.5 + mean(ref2 over the tile) / 510, so a
    pixel's value shows which tile it came from. ``tiled``: heatmap = sigmoid((target - ref1) / 32),
    score = mean of the heatmap. ``overrides`` replace metadata keys (``...`` removes one).
    """
    graph_input = "patch" if graph == "patch" else "strip"
    nodes = [
        helper.make_node("Slice", [graph_input, "s0", "e0", "ax"], ["t"]),
        helper.make_node("Slice", [graph_input, "s1", "e1", "ax"], ["r1"]),
        helper.make_node("Sub", ["t", "r1"], ["d"]),
        helper.make_node("Mul", ["d", "inv32"], ["ds"]),
        helper.make_node("Sigmoid", ["ds"], ["sig"]),
    ]
    inits = [
        _const("s0", [0], np.int64),
        _const("e0", [1], np.int64),
        _const("s1", [1], np.int64),
        _const("e1", [2], np.int64),
        _const("s2", [2], np.int64),
        _const("e2", [3], np.int64),
        _const("ax", [1], np.int64),
        _const("inv32", 1.0 / 32.0, np.float32),
        _const("half", 0.5, np.float32),
        _const("inv510", 1.0 / 510.0, np.float32),
    ]
    if graph == "patch":
        nodes += [
            helper.make_node("Slice", ["patch", "s2", "e2", "ax"], ["r2"]),
            helper.make_node("ReduceMean", ["r2"], ["r2m"], axes=[2, 3]),
            helper.make_node("Mul", ["sig", "half"], ["a"]),
            helper.make_node("Mul", ["r2m", "inv510"], ["b"]),
            helper.make_node("Add", ["a", "b"], ["heatmap"]),
        ]
        inputs = [helper.make_tensor_value_info("patch", TensorProto.FLOAT, ["N", 3, PATCH, PATCH])]
        outputs = [helper.make_tensor_value_info("heatmap", TensorProto.FLOAT, ["N", 1, PATCH, PATCH])]
    else:
        nodes += [
            helper.make_node("Identity", ["sig"], ["heatmap"]),
            helper.make_node("ReduceMean", ["sig"], ["score"], axes=[1, 2, 3], keepdims=0),
        ]
        inputs = [helper.make_tensor_value_info("strip", TensorProto.FLOAT, ["N", "C", *size])]
        outputs = [
            helper.make_tensor_value_info("heatmap", TensorProto.FLOAT, ["N", 1, *size]),
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"]),
        ]
    model = helper.make_model(
        helper.make_graph(nodes, "test_artifact", inputs, outputs, inits),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    model.ir_version = 8
    helper.set_model_props(model, _metadata(graph, size, roi=roi, score=graph != "patch", **overrides))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def strip_values(channels: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """``(C, H, W)`` float32 integers in 0..255 (exact in uint8/uint16); channel 3 is a 0/1 ROI."""
    rng = np.random.default_rng(seed)
    strip = rng.integers(0, 256, size=(channels, height, width)).astype(np.float32)
    if channels == 4:
        yy, xx = np.mgrid[0:height, 0:width]
        strip[3] = ((yy // 5 + xx // 4) % 3 != 0).astype(np.float32)
    return strip
