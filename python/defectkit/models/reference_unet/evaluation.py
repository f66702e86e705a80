"""Evaluating a trained model or an exported artifact on a dataset's strips: heatmaps, scores, metrics.

The model is either a torch network (the Python sliding window runs it) or a
:class:`defectkit.Inspector` over an artifact, so that evaluating an exported
model measures exactly what the line runs: the C++ runtime.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Union

import numpy as np
import torch
from tqdm import tqdm

from defectkit.data.layout import Sample, discover_dataset
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.evaluation.metrics import evaluate
from defectkit.models.reference_unet.sliding_window import image_score, sliding_window_heatmap

if TYPE_CHECKING:
    import defectkit


Model = Union[torch.nn.Module, "defectkit.Inspector"]


def heatmap_and_score(model: Model, strip: np.ndarray, patch: int) -> tuple[np.ndarray, float]:
    """(H, W) heatmap and image score of a (C, H, W) 0..255 strip, by either kind of model."""
    if isinstance(model, torch.nn.Module):
        heatmap = sliding_window_heatmap(model, strip[:3] / 255.0, patch=patch)
        return heatmap, image_score(heatmap)
    inspection = model.inspect(np.ascontiguousarray(strip, dtype=np.float32))
    return inspection.heatmap, inspection.score


def inspect_samples(
    model: Model, samples: list[Sample], patch: int, *, progress: bool = True
) -> Iterator[tuple[Sample, np.ndarray, np.ndarray, float]]:
    """Yields (sample, strip (C, H, W) 0..255, heatmap (H, W), image score) per sample."""
    for sample in tqdm(samples, desc="inspecting", unit="strip", disable=not progress):
        strip = read_strip_tifffile(sample.path)
        heatmap, score = heatmap_and_score(model, strip, patch)
        yield sample, strip, heatmap, score


def evaluate_samples(model: Model, samples: list[Sample], patch: int, *, progress: bool = True) -> dict:
    """Image and pixel AUROC (overall and per category), F1-optimal thresholds and per-strip scores."""
    records = []
    for sample, _, heatmap, score in inspect_samples(model, samples, patch, progress=progress):
        mask = sample.ground_truth(heatmap.shape)
        records.append(
            {
                "category": sample.category,
                "label": int(sample.category != "good"),
                "mask": mask,
                "heatmap": heatmap,
                "score": score,
                "path": str(sample.path),
            }
        )
    result = evaluate(records)
    result["scores"] = [{"path": r["path"], "category": r["category"], "score": r["score"]} for r in records]
    return result


def evaluate_run(model: Model, data: pathlib.Path, patch: int, *, progress: bool = True) -> dict:
    """:func:`evaluate_samples` on ``data``'s test split."""
    return evaluate_samples(model, discover_dataset(data).test, patch, progress=progress)
