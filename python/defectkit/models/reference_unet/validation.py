"""The per-epoch validation pass: image and pixel AUROC, never on test/.

Two sources, as the dataset allows: the dataset's own ``valid/`` split (full
strips with real masks, inspected with the sliding window), or strips held out
of ``train/good`` with synthetic defects (fixed patches, the same every epoch).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import torch

from defectkit.data.layout import DatasetLayout, Sample
from defectkit.evaluation.metrics import evaluate
from defectkit.models.reference_unet.evaluation import evaluate_samples
from defectkit.models.reference_unet.sliding_window import image_score


@dataclasses.dataclass
class ValidationSet:
    """Either fixed synthetic patches (x, masks) or real samples from valid/."""

    patches: torch.Tensor | None = None  # (N, 3, p, p) in [0, 1]
    masks: torch.Tensor | None = None  # (N, 1, p, p) in {0, 1}
    samples: list[Sample] | None = None
    patch_size: int = 128

    def preview(self, max_strips: int) -> ValidationSet:
        """At most ``max_strips`` of valid/'s strips, spread over the sorted list so both good and
        defective ones stay: a cheap look for the epochs that cannot become best.pt. Synthetic
        patches are cheap already and come back whole."""
        if self.samples is None or len(self.samples) <= max_strips:
            return self
        picks = np.linspace(0, len(self.samples) - 1, num=max_strips).round().astype(int)
        return ValidationSet(
            samples=[self.samples[i] for i in sorted(set(picks))], patch_size=self.patch_size
        )

    @property
    def size(self) -> int:
        return len(self.samples) if self.samples is not None else len(self.patches)

    @property
    def description(self) -> str:
        if self.samples is not None:
            return f"{len(self.samples)} strips from valid/"
        return f"{len(self.patches)} synthetic patches from held-out strips"


@torch.inference_mode()
def run_validation(model: torch.nn.Module, validation: ValidationSet, batch_size: int = 32) -> dict:
    """Evaluates ``model`` (switched to eval mode and back) on the validation set, on the
    device of its parameters (heatmaps and metrics on the CPU).

    Returns:
        The metrics dict of :func:`defectkit.evaluation.metrics.evaluate`.
    """
    was_training = model.training
    model.eval()
    try:
        if validation.samples is not None:
            return evaluate_samples(model, validation.samples, validation.patch_size, progress=False)
        records = []
        device = next(model.parameters()).device
        for start in range(0, len(validation.patches), batch_size):
            x = validation.patches[start : start + batch_size].to(device)
            probability = model.defect_probability(x)[:, 0].float().cpu().numpy()  # (B, p, p)
            masks = validation.masks[start : start + batch_size, 0].numpy() > 0.5
            for heatmap, mask in zip(probability, masks, strict=True):
                label = int(mask.any())
                records.append(_record("synthetic" if label else "good", label, mask, heatmap))
        return evaluate(records)
    finally:
        model.train(was_training)


def _record(category: str, label: int, mask: np.ndarray, heatmap: np.ndarray) -> dict:
    return {
        "category": category,
        "label": label,
        "mask": mask,
        "heatmap": heatmap,
        "score": image_score(heatmap),
    }


def build_validation(
    layout: DatasetLayout, held_out: list[pathlib.Path], patch: int, synthesis: Any, seed: int
) -> ValidationSet:
    """valid/'s strips when the dataset has them, else fixed synthetic patches of the held-out
    strips (seed ``seed + 7919``: not training's)."""
    from defectkit.models.reference_unet.data.dataset import make_validation_set

    if layout.valid:
        return ValidationSet(samples=layout.valid, patch_size=patch)
    x, masks = make_validation_set(held_out, patch, synthesis, seed=seed + 7919)
    return ValidationSet(patches=x, masks=masks, patch_size=patch)


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
