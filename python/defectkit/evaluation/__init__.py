"""Evaluation every family shares: AUROC, F1-optimal thresholds, a metrics report, and the paired
evidence export decides on. Needs the training extra (scikit-learn).

What is a family's own (strip heatmaps by sliding window, panels) lives in its folder under
``defectkit.models``.
"""

from __future__ import annotations

from defectkit.evaluation.metrics import auroc, evaluate, f1_optimal_threshold, flagged_at, pixel_auroc

__all__ = ["auroc", "evaluate", "f1_optimal_threshold", "flagged_at", "pixel_auroc"]
