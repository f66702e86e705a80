"""Evaluation artefacts a person looks at: one PNG panel per strip, and a CSV of scores."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from defectkit.errors import InvalidArgumentError

__all__ = ["save_panel", "write_scores_csv"]

PANEL_SIZE_INCHES = (14.0, 8.0)  # seven tall 976 x 176 columns stay readable side by side
PANEL_DPI = 100


def _as_unit_strip(strip: np.ndarray | torch.Tensor) -> np.ndarray:
    """(C, H, W) on a 0..255 or 0..1 scale -> (C, H, W) float32 in [0, 1]."""
    if isinstance(strip, torch.Tensor):
        strip = strip.detach().cpu().numpy()
    array = np.asarray(strip, dtype=np.float32)
    if array.ndim != 3 or array.shape[0] < 3:
        msg = f"expected a strip (C >= 3, H, W) with target, ref1, ref2 first, got shape {array.shape}"
        raise InvalidArgumentError(msg)
    if np.issubdtype(np.asarray(strip).dtype, np.integer) or array.max(initial=0.0) > 1.0:
        array = array / 255.0  # the production 0..255 scale
    return np.clip(array, 0.0, 1.0)


def save_panel(
    path: str | os.PathLike[str],
    strip: np.ndarray | torch.Tensor,
    heatmap: np.ndarray | torch.Tensor,
    mask: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Writes one PNG: the three captures, their differences and the model's heatmap, side by side.

    Columns: target, ref1, ref2, |target - ref1|, |target - ref2|, double detection
    ``min(|target - ref1|, |target - ref2|)`` (what differs from *both* references, the naive
    answer the model should beat), and the heatmap on a fixed 0..1 colour scale with a colour bar,
    the ground-truth mask outlined on it when given. The three differences share one grey scale.

    Args:
        path: Output PNG path; parent folders are created.
        strip: (C, H, W), channels target, ref1, ref2 first; 0..255 or [0, 1] scale.
        heatmap: (H, W) defect probability.
        mask: (H, W) ground truth, or None.
        title: Figure title (e.g. the file name and its score).

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure  # Figure without pyplot: no global state, Agg canvas

    channels = _as_unit_strip(strip)
    target, ref1, ref2 = channels[0], channels[1], channels[2]  # (H, W) each
    probability = heatmap.detach().cpu().numpy() if isinstance(heatmap, torch.Tensor) else heatmap
    probability = np.asarray(probability, dtype=np.float32)
    if probability.shape != target.shape:
        msg = f"heatmap shape {probability.shape} differs from the strip's {target.shape}"
        raise InvalidArgumentError(msg)
    if mask is not None and np.shape(mask) != target.shape:
        msg = f"mask shape {np.shape(mask)} differs from the strip's {target.shape}"
        raise InvalidArgumentError(msg)

    diff1, diff2 = np.abs(target - ref1), np.abs(target - ref2)
    double = np.minimum(diff1, diff2)
    diff_max = max(float(diff1.max()), float(diff2.max()), 1e-6)
    columns = [
        ("target", target, 1.0),
        ("ref1", ref1, 1.0),
        ("ref2", ref2, 1.0),
        ("|target - ref1|", diff1, diff_max),
        ("|target - ref2|", diff2, diff_max),
        ("double detection", double, diff_max),
    ]

    figure = Figure(figsize=PANEL_SIZE_INCHES, dpi=PANEL_DPI, layout="constrained")
    axes = figure.subplots(1, 7)
    for axis, (name, image, vmax) in zip(axes[:6], columns, strict=True):
        axis.imshow(image, cmap="gray", vmin=0.0, vmax=vmax, interpolation="nearest")
        axis.set_title(name, fontsize=9)
    shown = axes[6].imshow(probability, cmap="jet", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes[6].set_title("heatmap" if mask is None else "heatmap + truth", fontsize=9)
    if mask is not None and np.any(mask):
        axes[6].contour(np.asarray(mask, dtype=np.float32), levels=[0.5], colors="white", linewidths=1.0)
    figure.colorbar(shown, ax=axes[6], fraction=0.08, pad=0.04)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=11)

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    return out


def write_scores_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    """Writes one CSV row per mapping; the header is every key, in order of first appearance.

    Args:
        path: Output CSV path; parent folders are created.
        rows: e.g. ``{"file": ..., "category": ..., "label": ..., "score": ...}`` per image.

    Returns:
        The path written.
    """
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(row))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), restval="")
        writer.writeheader()
        writer.writerows(rows)
    return out
