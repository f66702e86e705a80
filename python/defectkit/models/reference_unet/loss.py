"""Focal loss for the reference UNet and the schedules of its focusing parameter gamma."""

from __future__ import annotations

import math

import torch
from torch import nn

from defectkit.errors import InvalidArgumentError

__all__ = ["GAMMA_SCHEDULES", "FocalLoss", "gamma_at"]

GAMMA_SCHEDULES = ("cosine", "linear", "constant")


class FocalLoss(nn.Module):
    """Binary focal loss over 2-class logits (Lin et al. 2017), as DRAEM trains its discriminative net.

    With ``p`` the softmax probability of class 1 ("defect") at a pixel, clamped to
    ``[smoothing, 1 - smoothing]``, and ``t`` in {0, 1} the target at that pixel::

        loss = mean over pixels of
               t       *      alpha  * (1 - p) ** gamma * -log(p)
             + (1 - t) * (1 - alpha) *      p  ** gamma * -log(1 - p)

    ``alpha`` weights the rare defect pixels up; ``gamma`` turns the loss away from pixels the
    network already gets right. The clamp keeps the log finite; a pixel beyond it (e.g. a defect
    pixel with ``p < smoothing``) adds a constant and no gradient. DRAEM's own loss instead
    smooths the one-hot target and adds ``smooth`` to ``pt``; at 1e-5 the two agree to ~1e-5 for
    every pixel inside the clamp.

    Args:
        alpha: Weight of the defect class; the background gets ``1 - alpha``.
        smoothing: Probability clamp; must lie in [0, 0.5).
    """

    def __init__(self, alpha: float = 0.75, smoothing: float = 1e-5) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            msg = f"alpha must lie in [0, 1], got {alpha}"
            raise InvalidArgumentError(msg)
        if not 0.0 <= smoothing < 0.5:
            msg = f"smoothing must lie in [0, 0.5), got {smoothing}"
            raise InvalidArgumentError(msg)
        self.alpha = alpha
        self.smoothing = smoothing

    def forward(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        gamma: float,
        distractors: torch.Tensor | None = None,
        distractor_weight: float = 0.0,
    ) -> torch.Tensor:
        """Computes the mean focal loss, plus a cross-entropy term on distractor pixels if asked.

        The focal term lets a background pixel at ``p = 0.55`` cost almost nothing once gamma
        is 3 (``0.25 * 0.55**3 * -log(0.45) = 0.033``), so an anomaly that is only in the
        references, the one background a comparison model must learn to clear, is never
        pushed below about 0.55. ``distractor_weight * mean(distractors * -log(1 - p))``,
        without the focal factor, pushes it down.

        Args:
            logits: (N, 2, H, W) raw class scores.
            target: (N, 1, H, W) defect mask with values in {0, 1} (any dtype).
            gamma: Focusing parameter, >= 0; 0 gives alpha-weighted cross-entropy.
            distractors: (N, 1, H, W) mask of background pixels to clear (stamps that are no
                defect), or None.
            distractor_weight: Weight of their cross-entropy term, >= 0.

        Returns:
            Scalar tensor.

        Raises:
            InvalidArgumentError: on mismatched shapes, a logits channel count other than 2 or gamma < 0.
        """
        if logits.ndim != 4 or logits.shape[1] != 2:
            msg = f"expected logits (N, 2, H, W), got shape {tuple(logits.shape)}"
            raise InvalidArgumentError(msg)
        expected = (logits.shape[0], 1, *logits.shape[2:])
        if tuple(target.shape) != expected:
            msg = f"expected target of shape {expected}, got {tuple(target.shape)}"
            raise InvalidArgumentError(msg)
        if gamma < 0:
            msg = f"gamma must be >= 0, got {gamma}"
            raise InvalidArgumentError(msg)
        if distractors is not None and tuple(distractors.shape) != expected:
            msg = f"expected distractors of shape {expected}, got {tuple(distractors.shape)}"
            raise InvalidArgumentError(msg)

        p = torch.softmax(logits, dim=1)[:, 1:2]  # (N, 1, H, W)
        p = p.clamp(self.smoothing, 1.0 - self.smoothing)
        t = target.to(p.dtype)  # (N, 1, H, W)
        defect = self.alpha * (1.0 - p).pow(gamma) * -torch.log(p)
        background = (1.0 - self.alpha) * p.pow(gamma) * -torch.log(1.0 - p)
        loss = (t * defect + (1.0 - t) * background).mean()
        if distractors is not None and distractor_weight > 0:
            loss = loss + distractor_weight * (distractors.to(p.dtype) * -torch.log(1.0 - p)).mean()
        return loss


def gamma_at(progress: float, start: float = 1.0, end: float = 3.0, kind: str = "cosine") -> float:
    """Returns the focal gamma at a point of training.

    Kinds:
        ``cosine``: ``start + (end - start) * (1 - cos(pi * progress)) / 2`` (flat at both ends).
        ``linear``: ``start + (end - start) * progress``.
        ``constant``: ``start`` throughout.

    Args:
        progress: Fraction of training done, in [0, 1].
        start: Gamma at progress 0.
        end: Gamma at progress 1 (ignored by ``constant``).
        kind: One of :data:`GAMMA_SCHEDULES`.

    Raises:
        InvalidArgumentError: on an unknown ``kind`` or ``progress`` outside [0, 1].
    """
    if kind not in GAMMA_SCHEDULES:
        msg = f"unknown gamma schedule {kind!r}; expected one of {GAMMA_SCHEDULES}"
        raise InvalidArgumentError(msg)
    if not 0.0 <= progress <= 1.0:
        msg = f"progress must lie in [0, 1], got {progress}"
        raise InvalidArgumentError(msg)
    if kind == "constant":
        return float(start)
    if kind == "linear":
        return float(start + (end - start) * progress)
    return float(start + (end - start) * (1.0 - math.cos(math.pi * progress)) / 2.0)
