"""Training reference_unet: config, the resumable loop, checkpoints, validation."""

from __future__ import annotations

from defectkit.training.config import TrainConfig
from defectkit.training.loop import load_model, train

__all__ = ["TrainConfig", "load_model", "train"]
