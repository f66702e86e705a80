"""Reference UNet: strip inspection by comparing a target capture with two references.

A DRAEM-style discriminative UNet (Zavrtanik et al., ICCV 2021) whose input
channels are target, ref1 and ref2, and whose class 1 marks pixels that hold a
defect in the target and in neither reference.
"""

from __future__ import annotations

from defectkit.models.reference_unet.config import UNetConfig
from defectkit.models.reference_unet.loss import GAMMA_SCHEDULES, FocalLoss, gamma_at
from defectkit.models.reference_unet.model import ReferenceUNet, count_flops

__all__ = ["GAMMA_SCHEDULES", "FocalLoss", "ReferenceUNet", "UNetConfig", "count_flops", "gamma_at"]
