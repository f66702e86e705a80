"""Image- and pixel-level metrics for defect heatmaps: AUROC, F1-optimal thresholds, a full report."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score

from defectkit.errors import InvalidArgumentError

__all__ = ["GOOD_CATEGORY", "auroc", "evaluate", "f1_optimal_threshold", "flagged_at", "pixel_auroc"]

logger = logging.getLogger("defectkit")

GOOD_CATEGORY = "good"  # the MVTec AD name of the defect-free test images


def _labels_and_scores(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        msg = f"labels and scores differ in size: {y.size} vs {s.size}"
        raise InvalidArgumentError(msg)
    return y, s


def auroc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve; higher scores should mean "defective".

    Args:
        labels: (M,) 0/1 or bool, 1 = defective.
        scores: (M,) scores.

    Returns:
        AUROC in [0, 1], or ``nan`` (with a ``RuntimeWarning``) when only one class is present.
    """
    y, s = _labels_and_scores(labels, scores)
    if y.all() or not y.any():
        warnings.warn(f"AUROC undefined: only one class among {y.size} labels", RuntimeWarning, stacklevel=2)
        return math.nan
    return float(roc_auc_score(y, s))


def pixel_auroc(masks: Sequence[np.ndarray], heatmaps: Sequence[np.ndarray]) -> float:
    """AUROC over every pixel of every image, pooled.

    Args:
        masks: (H, W) bool ground-truth masks, one per image (all False for a defect-free image).
        heatmaps: (H, W) defect probabilities, matching ``masks`` one to one.

    Returns:
        Pooled pixel AUROC, or ``nan`` (with a warning) when the pixels hold only one class.
    """
    if len(masks) != len(heatmaps):
        msg = f"{len(masks)} masks but {len(heatmaps)} heatmaps"
        raise InvalidArgumentError(msg)
    for index, (mask, heatmap) in enumerate(zip(masks, heatmaps, strict=True)):
        if np.shape(mask) != np.shape(heatmap):
            msg = f"image {index}: mask shape {np.shape(mask)} differs from heatmap shape {np.shape(heatmap)}"
            raise InvalidArgumentError(msg)
    if not masks:
        warnings.warn("pixel AUROC undefined: no images", RuntimeWarning, stacklevel=2)
        return math.nan
    y = np.concatenate([np.asarray(m, dtype=bool).ravel() for m in masks])
    s = np.concatenate([np.asarray(h, dtype=np.float32).ravel() for h in heatmaps])
    return auroc(y, s)


def f1_optimal_threshold(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """The threshold that maximises F1 when "defective" means ``score >= threshold``.

    The threshold returned lies halfway between the lowest score called defective and the next
    score below it, so ``score > threshold`` gives the same decisions.

    Args:
        labels: (M,) 0/1 or bool, 1 = defective.
        scores: (M,) scores.

    Returns:
        ``(threshold, f1)``; ``(nan, nan)`` with a warning when there is no defective sample.
    """
    y, s = _labels_and_scores(labels, scores)
    if not y.any():
        warnings.warn("F1 undefined: no positive labels", RuntimeWarning, stacklevel=2)
        return math.nan, math.nan
    precision, recall, thresholds = precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    best = int(np.argmax(f1))
    lowest_positive = float(thresholds[best])
    below = s[s < lowest_positive]
    threshold = (
        (lowest_positive + float(below.max())) / 2 if below.size else np.nextafter(lowest_positive, -np.inf)
    )
    return float(threshold), float(f1[best])


def flagged_at(scores: Sequence[Mapping[str, Any]], threshold: float) -> dict[str, int]:
    """How many strips score at or above ``threshold``, good and defective apart.

    Args:
        scores: ``{"category", "score"}`` per strip, as in an evaluation's ``"scores"``.
        threshold: Image threshold.

    Returns:
        ``{"good": n, "good_flagged": n, "defective": n, "defective_flagged": n}``.
    """
    good = [float(s["score"]) for s in scores if s["category"] == GOOD_CATEGORY]
    defective = [float(s["score"]) for s in scores if s["category"] != GOOD_CATEGORY]
    return {
        "good": len(good),
        "good_flagged": sum(g >= threshold for g in good),
        "defective": len(defective),
        "defective_flagged": sum(d >= threshold for d in defective),
    }


def _field(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def evaluate(records: Sequence[Any]) -> dict[str, Any]:
    """Image- and pixel-level report over a test set.

    Each record (a mapping or an object with these attributes) has ``category`` (``"good"`` for
    defect-free images), ``label`` (0/1), ``mask`` ((H, W) bool or None), ``heatmap`` ((H, W)) and
    ``score``. A defect-free image without a mask counts as all-background; a defective image
    without a mask is left out of the pixel metrics.

    Args:
        records: One per test image.

    Returns:
        JSON-able dict::

            {"image_auroc": float, "pixel_auroc": float, "count": int,
             "per_category": {category: {"image_auroc", "pixel_auroc", "count"}},  # each vs "good"
             "thresholds": {"image": t, "pixel": t, "image_f1": f1, "pixel_f1": f1}}

        Undefined values (e.g. no defective image) are ``nan``.
    """
    labels = np.array([int(_field(r, "label")) for r in records], dtype=np.int64)
    scores = np.array([float(_field(r, "score")) for r in records], dtype=np.float64)
    categories = [str(_field(r, "category")) for r in records]

    pixel_masks: list[np.ndarray | None] = []
    for record, label in zip(records, labels, strict=True):
        mask = _field(record, "mask")
        if mask is None and label == 0:
            mask = np.zeros(np.shape(_field(record, "heatmap")), dtype=bool)
        pixel_masks.append(None if mask is None else np.asarray(mask, dtype=bool))
    missing = sum(m is None for m in pixel_masks)
    if missing:
        logger.warning("%d defective image(s) without a mask are left out of the pixel metrics", missing)

    def pixel_subset(indices: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        kept = [i for i in indices if pixel_masks[i] is not None]
        return [pixel_masks[i] for i in kept], [np.asarray(_field(records[i], "heatmap")) for i in kept]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nan is reported in the dict itself
        all_masks, all_heatmaps = pixel_subset(range(len(records)))
        good = [i for i, c in enumerate(categories) if c == GOOD_CATEGORY]
        per_category: dict[str, dict[str, Any]] = {}
        for category in sorted(set(categories) - {GOOD_CATEGORY}):
            members = [i for i, c in enumerate(categories) if c == category]
            versus_good = good + members
            per_category[category] = {
                "image_auroc": auroc(labels[versus_good], scores[versus_good]),
                "pixel_auroc": pixel_auroc(*pixel_subset(versus_good)),
                "count": len(members),
            }
        image_threshold, image_f1 = f1_optimal_threshold(labels, scores)
        if all_masks:
            pixel_labels = np.concatenate([m.ravel() for m in all_masks])
            pixel_scores = np.concatenate([np.asarray(h, dtype=np.float32).ravel() for h in all_heatmaps])
            pixel_threshold, pixel_f1 = f1_optimal_threshold(pixel_labels, pixel_scores)
        else:
            pixel_threshold, pixel_f1 = math.nan, math.nan
        return {
            "image_auroc": auroc(labels, scores),
            "pixel_auroc": pixel_auroc(all_masks, all_heatmaps),
            "per_category": per_category,
            "thresholds": {
                "image": image_threshold,
                "pixel": pixel_threshold,
                "image_f1": image_f1,
                "pixel_f1": pixel_f1,
            },
            "count": len(records),
        }
