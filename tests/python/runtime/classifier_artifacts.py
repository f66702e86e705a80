"""A tiny guided_classifier artifact built with onnx's helper API, metadata per docs/ARTIFACT.md.

Its outputs are known functions of the image, so the native image head can be checked
exactly from numpy: a grey channel is repeated, ``mask = (0.5 R + 0.3 G + 0.2 B) / 255``
per pixel, and ``probabilities = [(1 - m) / 2, m, (1 - m) / 2]`` with ``m = mean(mask)``;
classes ``good, defect, unsure``, defect class 1.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES = ["good", "defect", "unsure"]
WEIGHTS = np.array([0.5, 0.3, 0.2])


def expected_mask(image: np.ndarray) -> np.ndarray:
    """The mask the graph computes for a uint8 ``(H, W)`` or ``(H, W, C)`` image (alpha ignored)."""
    rgb = image.astype(np.float64)
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return rgb[..., :3] @ WEIGHTS / 255.0


def expected_probabilities(image: np.ndarray) -> np.ndarray:
    m = expected_mask(image).mean()
    return np.array([(1 - m) / 2, m, (1 - m) / 2])


def _metadata(channels: int | str, thresholds: dict[str, float], **overrides: Any) -> dict[str, str]:
    meta: dict[str, Any] = {
        "format_version": "2",
        "family": "guided_classifier",
        "precision": "fp32",
        "inputs": [
            {
                "name": "image",
                "dtype": "uint8",
                "shape": [1, "height", "width", channels],
                "layout": "NHWC",
                "scale": 255.0,
                "meaning": "one camera image, grey or RGB, any size",
            }
        ],
        "outputs": [
            {"name": "probabilities", "dtype": "float32", "shape": [1, 3], "layout": "NC", "scale": None},
            {"name": "mask", "dtype": "float32", "shape": [1, 1, "height", "width"], "layout": "NCHW"},
        ],
        "thresholds": thresholds,
        "family_section": {
            "classes": CLASSES,
            "defect_class": 1,
            "input_size": [28, 28],
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
            "backbone": "dinov2",
            "backbone_size": "S",
            "patch_size": 14,
            "pooling": "guided",
        },
        "provenance": {"defectkit_version": "0.1.0", "data_fingerprint": "sha256:00"},
    }
    meta.update(overrides)
    return {f"defectkit.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def write_classifier_artifact(
    path: pathlib.Path,
    *,
    channels: int | str = "channels",
    defect: float = 0.5,
    pixel: float = 0.6,
    **overrides: Any,
) -> pathlib.Path:
    """Writes the artifact and returns its path; ``channels`` fixes the channel axis (1 or 3)."""
    inits = [
        numpy_helper.from_array(np.array([1, 1, 1, 3], np.int64), "rgb_shape"),
        numpy_helper.from_array((WEIGHTS / 255.0).astype(np.float32).reshape(3, 1), "weights"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["pixels", "rgb_shape"], ["rgb"]),
        helper.make_node("MatMul", ["rgb", "weights"], ["weighted"]),
        helper.make_node("Transpose", ["weighted"], ["mask"], perm=[0, 3, 1, 2]),
        helper.make_node("ReduceMean", ["mask"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Sub", ["one", "m"], ["rest"]),
        helper.make_node("Mul", ["rest", "half"], ["side"]),
        helper.make_node("Concat", ["side", "m", "side"], ["probabilities"], axis=1),
    ]
    inputs = [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, "height", "width", channels])]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 3]),
        helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "height", "width"]),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "test_classifier", inputs, outputs, inits),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    model.ir_version = 8
    helper.set_model_props(model, _metadata(channels, {"defect": defect, "pixel": pixel}, **overrides))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def blob_image(height: int = 12, width: int = 16, channels: int = 3) -> np.ndarray:
    """A dark uint8 image with two bright blobs: 3 x 4 at (2, 3) and 2 x 2 at (8, 11) (regions at 0.6)."""
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([10 + 3 * c + yy + xx for c in range(channels)], axis=-1)
    blob = ((yy >= 2) & (yy < 5) & (xx >= 3) & (xx < 7)) | ((yy >= 8) & (yy < 10) & (xx >= 11) & (xx < 13))
    for c in range(channels):
        image[..., c][blob] = 200 + 20 * c
    return image.astype(np.uint8)
