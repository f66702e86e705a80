"""The per-epoch validation pass: image and pixel AUROC, never on test/.

Two sources, as the dataset allows: the dataset's own ``valid/`` split (full
strips with real masks, inspected with the sliding window), or strips held out
of ``train/good`` with synthetic defects (fixed patches, the same every epoch).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import torch

from defectkit.data.layout import Sample, read_mask
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.evaluation.metrics import evaluate
from defectkit.evaluation.sliding_window import image_score, sliding_window_heatmap


@dataclasses.dataclass
class ValidationSet:
    """Either fixed synthetic patches (x, masks) or real samples from valid/."""

    patches: torch.Tensor | None = None  # (N, 3, p, p) in [0, 1]
    masks: torch.Tensor | None = None  # (N, 1, p, p) in {0, 1}
    samples: list[Sample] | None = None
    patch_size: int = 128

    @property
    def description(self) -> str:
        if self.samples is not None:
            return f"{len(self.samples)} strips from valid/"
        return f"{len(self.patches)} synthetic patches from held-out strips"


@torch.inference_mode()
def run_validation(model: torch.nn.Module, validation: ValidationSet, batch_size: int = 32) -> dict:
    """Evaluates ``model`` (switched to eval mode and back) on the validation set.

    Returns:
        The metrics dict of :func:`defectkit.evaluation.metrics.evaluate`.
    """
    was_training = model.training
    model.eval()
    records = []
    try:
        if validation.samples is not None:
            for sample in validation.samples:
                strip = read_strip_tifffile(sample.path)[:3] / 255.0
                heatmap = sliding_window_heatmap(model, strip, patch=validation.patch_size)
                mask = read_mask(sample.mask_path, heatmap.shape) if sample.mask_path else None
                label = int(sample.category != "good")
                if mask is None:
                    mask = np.zeros(heatmap.shape, bool)
                records.append(_record(sample.category, label, mask, heatmap))
        else:
            for start in range(0, len(validation.patches), batch_size):
                x = validation.patches[start : start + batch_size]
                probability = model.defect_probability(x)[:, 0].numpy()  # (B, p, p)
                masks = validation.masks[start : start + batch_size, 0].numpy() > 0.5
                for heatmap, mask in zip(probability, masks, strict=True):
                    label = int(mask.any())
                    records.append(_record("synthetic" if label else "good", label, mask, heatmap))
    finally:
        model.train(was_training)
    return evaluate(records)


def _record(category: str, label: int, mask: np.ndarray, heatmap: np.ndarray) -> dict:
    return {
        "category": category,
        "label": label,
        "mask": mask,
        "heatmap": heatmap,
        "score": image_score(heatmap),
    }


def held_out_paths(
    train_good: list[pathlib.Path], holdout: int
) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """Splits train/good into (train, held out): every k-th strip is held out, so
    both halves see the same variety of surfaces."""
    if holdout <= 0 or len(train_good) < 2:
        return train_good, []
    holdout = min(holdout, len(train_good) // 2)
    step = len(train_good) / holdout
    held = {int(i * step + step / 2) for i in range(holdout)}
    return (
        [p for i, p in enumerate(train_good) if i not in held],
        [p for i, p in enumerate(train_good) if i in held],
    )
