"""Evaluation of patch models on whole strips: sliding-window heatmaps, scores, metrics, panels.

Needs the training extra (torch, scikit-learn, matplotlib, opencv).
"""

from __future__ import annotations

from defectkit.evaluation.metrics import auroc, evaluate, f1_optimal_threshold, pixel_auroc
from defectkit.evaluation.panels import save_panel, write_scores_csv
from defectkit.evaluation.sliding_window import (
    heatmaps_for,
    image_score,
    nearest_centre_index,
    sliding_window_heatmap,
    stitch_nearest_centre,
)

__all__ = [
    "auroc",
    "evaluate",
    "f1_optimal_threshold",
    "heatmaps_for",
    "image_score",
    "nearest_centre_index",
    "pixel_auroc",
    "save_panel",
    "sliding_window_heatmap",
    "stitch_nearest_centre",
    "write_scores_csv",
]
