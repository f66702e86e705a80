"""The guided classifier's losses: classification (cross-entropy or focal) plus segmentation
(BCE + Dice) on the images that have a mask, weighted fixed, by a schedule, or learned."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from defectkit.models.guided_classifier.config import GuidedClassifierConfig
from defectkit.models.guided_classifier.model import TrainingOutput

__all__ = ["classification_loss", "dice_loss", "guided_loss", "loss_weights", "segmentation_loss"]


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, focal: bool) -> torch.Tensor:
    """(N, classes) logits, (N,) integer labels. Focal: Lin et al. 2017 with alpha 0.25, gamma 2
    (alpha weighs the defect class, the last one)."""
    ce = F.cross_entropy(logits, labels, reduction="none")  # (N,)
    if not focal:
        return ce.mean()
    p_true = torch.exp(-ce)
    alpha = torch.where(labels == logits.shape[1] - 1, 0.25, 0.75)
    return (alpha * (1 - p_true) ** 2 * ce).mean()


def dice_loss(probability: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice, pooled over every pixel given (one overlap for the batch: an empty mask
    of a normal image adds its false positives without a 0/0)."""
    intersection = (probability * target).sum()
    return 1 - (2 * intersection + eps) / (probability.sum() + target.sum() + eps)


def segmentation_loss(mask_logits: torch.Tensor, mask: torch.Tensor, has_mask: torch.Tensor) -> torch.Tensor:
    """BCE + Dice at the mask's resolution, over the images whose mask is known (a defect image
    without one contributes nothing: mixed supervision, Bozic et al. 2021). Zero when none is."""
    known = has_mask > 0.5  # (N,)
    if not bool(known.any()):
        return mask_logits.sum() * 0.0  # keeps the graph (DDP needs every parameter used)
    logits = F.interpolate(mask_logits[known], size=mask.shape[-2:], mode="bilinear", align_corners=False)
    target = mask[known]
    bce = F.binary_cross_entropy_with_logits(logits, target)
    return bce + dice_loss(torch.sigmoid(logits), target)


def loss_weights(config: GuidedClassifierConfig, progress: float) -> tuple[float, float]:
    """(alpha, beta) of the fixed and dynamic weightings at ``progress`` (share of training done)."""
    if config.loss_weighting == "dynamic":
        return (0.5, 1.0) if progress < config.dynamic_switch else (1.0, 0.3)
    return config.alpha, config.beta


def guided_loss(
    out: TrainingOutput,
    labels: torch.Tensor,
    mask: torch.Tensor,
    has_mask: torch.Tensor,
    config: GuidedClassifierConfig,
    progress: float,
    log_vars: torch.Tensor | None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The total loss and its parts (for the metrics row)."""
    classification = classification_loss(out.class_logits.float(), labels.long(), config.focal)
    segmentation = segmentation_loss(out.mask_logits.float(), mask, has_mask)
    if not config.use_masks:
        segmentation = segmentation * 0.0
    if config.loss_weighting == "uncertainty" and log_vars is not None:
        # Kendall et al.: each task's loss scaled by exp(-s) plus s, s learned per task (without
        # masks there is no segmentation task, and its s must not run off to -infinity).
        total = torch.exp(-log_vars[0]) * classification + log_vars[0]
        if config.use_masks:
            total = total + torch.exp(-log_vars[1]) * segmentation + log_vars[1]
        alpha, beta = float(torch.exp(-log_vars[0]).detach()), float(torch.exp(-log_vars[1]).detach())
    else:
        alpha, beta = loss_weights(config, progress)
        total = alpha * classification + beta * segmentation
    return total, {
        "loss_classification": float(classification.detach()),
        "loss_segmentation": float(segmentation.detach()),
        "alpha": alpha,
        "beta": beta,
    }
