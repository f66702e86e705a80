"""Parity of an exported graph with what it replaces: the PyTorch graph module it was traced
from, and ``defectkit eval``'s Python sliding window over the trained network."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from defectkit.models.reference_unet.export.runner import GraphRunner, graph_feed
from defectkit.models.reference_unet.export.strips import LabelledStrip
from defectkit.models.reference_unet.sliding_window import image_score, sliding_window_heatmap

__all__ = ["parity"]


def _torch_heatmap(module: torch.nn.Module, strip: np.ndarray, runner: GraphRunner) -> np.ndarray:
    """A full-image graph module's own output for one strip, shaped (H, W): the same input as ONNX
    Runtime gets."""
    x = torch.from_numpy(graph_feed(strip, runner.kind, runner.channels)["strip"])
    with torch.no_grad():
        heatmap, _ = module(x)
    return heatmap[0, 0].numpy()


def parity(
    module: torch.nn.Module,
    network: torch.nn.Module,
    kind: str,
    runner: GraphRunner,
    strips: Sequence[LabelledStrip],
) -> dict[str, float]:
    """Max abs differences of ONNX Runtime's heatmaps and scores against PyTorch.

    Returns:
        ``onnx_vs_torch``: against the traced module itself (ONNX Runtime vs PyTorch);
        ``onnx_vs_sliding_window``: against the Python sliding window over ``network`` (the
        tiling and stitching path of ``defectkit eval``); ``score_vs_sliding_window``: the
        graph's score against :func:`image_score` of that heatmap.
    """
    onnx_vs_torch = onnx_vs_window = score_vs_window = 0.0
    for item in strips:
        heatmap, score = runner.run(item.strip)
        window = sliding_window_heatmap(network, item.strip[:3] / 255.0, patch=runner.patch)
        # A patch module sees tiles: its own strip-level output is the sliding window over it.
        mine = window if kind == "patch" else _torch_heatmap(module, item.strip, runner)
        onnx_vs_torch = max(onnx_vs_torch, float(np.abs(heatmap - mine).max()))
        onnx_vs_window = max(onnx_vs_window, float(np.abs(heatmap - window).max()))
        score_vs_window = max(score_vs_window, abs(score - image_score(window, box=runner.box)))
    return {
        "onnx_vs_torch": onnx_vs_torch,
        "onnx_vs_sliding_window": onnx_vs_window,
        "score_vs_sliding_window": score_vs_window,
    }
