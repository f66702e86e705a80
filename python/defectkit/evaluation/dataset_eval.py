"""Evaluating a trained model on a dataset's strips: heatmaps, scores, metrics."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import numpy as np
import torch
from tqdm import tqdm

from defectkit.data.layout import Sample, discover_dataset, read_mask
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.evaluation.metrics import evaluate
from defectkit.evaluation.sliding_window import image_score, sliding_window_heatmap


def inspect_samples(
    model: torch.nn.Module, samples: list[Sample], patch: int, *, progress: bool = True
) -> Iterator[tuple[Sample, np.ndarray, np.ndarray, float]]:
    """Yields (sample, strip (C, H, W) 0..255, heatmap (H, W), image score) per sample."""
    for sample in tqdm(samples, desc="inspecting", unit="strip", disable=not progress):
        strip = read_strip_tifffile(sample.path)
        heatmap = sliding_window_heatmap(model, strip[:3] / 255.0, patch=patch)
        yield sample, strip, heatmap, image_score(heatmap)


def evaluate_samples(
    model: torch.nn.Module, samples: list[Sample], patch: int, *, progress: bool = True
) -> dict:
    """Image and pixel AUROC (overall and per category), F1-optimal thresholds and per-strip scores."""
    records = []
    for sample, _, heatmap, score in inspect_samples(model, samples, patch, progress=progress):
        mask = (
            read_mask(sample.mask_path, heatmap.shape, image_path=sample.path)
            if sample.mask_path
            else np.zeros(heatmap.shape, bool)
        )
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


def evaluate_run(model: torch.nn.Module, data: pathlib.Path, patch: int, *, progress: bool = True) -> dict:
    """:func:`evaluate_samples` on ``data``'s test split."""
    return evaluate_samples(model, discover_dataset(data).test, patch, progress=progress)
