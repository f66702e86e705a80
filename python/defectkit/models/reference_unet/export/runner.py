"""Running exported graphs in ONNX Runtime from Python: heatmaps, metrics and timings.

This is the yardstick export uses to compare graph kinds, calibration methods
and precisions, and to check parity; the line's runtime is the C++ one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort

from defectkit.evaluation.metrics import evaluate
from defectkit.models.reference_unet.data.tiling import positions_along
from defectkit.models.reference_unet.export.strips import LabelledStrip
from defectkit.models.reference_unet.sliding_window import image_score, stitch_nearest_centre

__all__ = ["GraphRunner", "accuracy", "graph_feed"]


def graph_feed(
    strip: np.ndarray,
    kind: str,
    channels: int | None,
    patch: int = 0,
    ys: Sequence[int] = (),
    xs: Sequence[int] = (),
) -> dict[str, np.ndarray]:
    """The input dict of a graph for one (C, H, W) strip on 0..255.

    Full-image graphs get ``strip`` (1, C, H, W), with an all-inspected ROI channel appended when
    the graph takes 4 channels and the strip has 3; patch graphs get the tiles at ``ys`` x ``xs``.
    """
    if kind == "patch":
        tiles = [strip[:3, y : y + patch, x0 : x0 + patch] for y in ys for x0 in xs]
        return {"patch": np.stack(tiles).astype(np.float32)}
    x = np.ascontiguousarray(strip[None], dtype=np.float32)
    if channels == 4 and strip.shape[0] == 3:  # an ROI graph: inspect the whole strip
        x = np.concatenate([x, np.full_like(x[:, :1], 255.0)], axis=1)
    return {"strip": x}


class GraphRunner:
    """One ONNX Runtime session over an exported graph, strip in, (heatmap, score) out."""

    def __init__(
        self,
        model: onnx.ModelProto | bytes | str,
        kind: str,
        patch: int,
        min_overlap: int,
        box: int = 3,
        threads: int = 0,
    ) -> None:
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.kind, self.patch, self.min_overlap, self.box = kind, patch, min_overlap, box
        channels = self.session.get_inputs()[0].shape[1]
        self.channels = channels if isinstance(channels, int) else None  # None: 3 or 4 accepted

    def run(self, strip: np.ndarray) -> tuple[np.ndarray, float]:
        """(C, H, W) float32 on 0..255 -> ((H, W) heatmap, image score)."""
        if self.kind != "patch":
            heatmap, score = self.session.run(None, graph_feed(strip, self.kind, self.channels))
            return heatmap[0, 0], float(score[0])
        _, height, width = strip.shape
        ys = positions_along(height, self.patch, 1, min_overlap=self.min_overlap)
        xs = positions_along(width, self.patch, 1, min_overlap=self.min_overlap)
        (probability,) = self.session.run(
            None, graph_feed(strip, "patch", 3, self.patch, ys, xs)
        )  # (T, 1, p, p)
        heatmap = stitch_nearest_centre(probability, ys, xs, height, width)
        return heatmap, image_score(heatmap, box=self.box)

    def run_all(self, strips: Sequence[LabelledStrip]) -> tuple[list[np.ndarray], list[float], float]:
        """Heatmaps and scores for every strip, and the median milliseconds per strip."""
        heatmaps, scores, seconds = [], [], []
        for item in strips:
            start = time.perf_counter()
            heatmap, score = self.run(item.strip)
            seconds.append(time.perf_counter() - start)
            heatmaps.append(heatmap)
            scores.append(score)
        return heatmaps, scores, 1e3 * statistics.median(seconds)


def accuracy(
    strips: Sequence[LabelledStrip], heatmaps: Sequence[np.ndarray], scores: Sequence[float]
) -> dict:
    """Image and pixel AUROC and F1-optimal thresholds (``defectkit eval``'s metrics)."""
    records = [
        {"category": s.category, "label": s.label, "mask": s.mask, "heatmap": h, "score": score}
        for s, h, score in zip(strips, heatmaps, scores, strict=True)
    ]
    result = evaluate(records)
    return {
        "image_auroc": result["image_auroc"],
        "pixel_auroc": result["pixel_auroc"],
        "thresholds": result["thresholds"],
        "count": result["count"],
    }
