"""guided_classifier's settings: the backbone, the heads, the losses and the training stages."""

from __future__ import annotations

import dataclasses
from typing import Any

from defectkit.errors import InvalidArgumentError

__all__ = ["BACKBONES", "LOSS_WEIGHTINGS", "POOLINGS", "SIZES", "STEMS", "GuidedClassifierConfig"]

BACKBONES = ("dinov2", "dinov3")
POOLINGS = ("guided", "mean")
STEMS = ("patch", "conv")
LOSS_WEIGHTINGS = ("fixed", "dynamic", "uncertainty")
# The published shapes (hidden size, layers, heads, MLP size), as the checkpoints a user may load
# from a local folder; "demo": a small random one that trains on a CPU in minutes.
SIZES = {
    "S": (384, 12, 6, 1536),
    "B": (768, 12, 12, 3072),
    "L": (1024, 24, 16, 4096),
    "demo": (96, 4, 3, 192),
}


@dataclasses.dataclass
class GuidedClassifierConfig:
    """Everything that shapes a guided classifier and how it trains (``TrainConfig.family_config``)."""

    backbone: str = "dinov2"  # "dinov2" (Dinov2Model) or "dinov3" (DINOv3ViTModel)
    size: str = "demo"  # "S", "B", "L" (published shapes) or "demo"
    # A local folder in Hugging Face layout (config.json + model.safetensors): pretrained weights
    # of the backbone. Nothing is downloaded; empty: random initialisation.
    pretrained: str = ""
    # The pretrained backbone's own config (its config.json), recorded when training starts, so a
    # trained run rebuilds without the folder (its weights are in the checkpoint).
    backbone_config: dict | None = None
    patch_size: int = 8  # 14 for DINOv2 checkpoints, 16 for DINOv3 (ignored with pretrained)
    # How pixels become patch tokens: "patch", the published models' linear patchify (one strided
    # convolution; what a pretrained checkpoint has), or "conv", a stack of stride-2 3x3
    # conv-BN-ReLU (Xiao et al. 2021, "Early convolutions help transformers see better") for a
    # backbone trained from random weights: the demo's ViT learns its defects in a few epochs
    # with it and hardly at all without (docs/experiments/guided_classifier.md).
    stem: str = "patch"
    image_size: int = 128  # the network's input side; 518 / 224 for the published models
    register_tokens: int = 0  # DINOv3's register tokens (4 in the published models)
    classes: tuple[str, ...] = ("normal", "defect")
    pooling: str = "guided"  # "guided": the predicted mask weighs the patch features; "mean"
    # Guided pooling only: True stops the classification loss's gradient at the pooling weights,
    # so only the segmentation loss shapes the mask (the forward pass is the same either way).
    # Measured over 5 seeds on 1000 test images: mean Dice +0.065 (95 % interval +0.055 to
    # +0.074), image AUROC unchanged (docs/experiments/guided_classifier.md, section 3).
    detach_guidance: bool = True
    decoder_channels: int = 64  # width of the segmentation decoder's conv-BN-ReLU stack
    classifier_hidden: tuple[int, int] = (1024, 512)  # the MLP: embed*2 -> 1024 -> 512 -> classes
    dropout: float = 0.1
    # Losses: alpha * classification + beta * segmentation. "fixed" (alpha, beta), "dynamic"
    # (segmentation first: beta 1.0, alpha 0.5 for the first dynamic_switch of training, then
    # alpha 1.0, beta 0.3), "uncertainty" (learned weights, Kendall et al. 2018).
    loss_weighting: str = "fixed"
    alpha: float = 1.0
    beta: float = 1.0
    dynamic_switch: float = 0.4  # share of training before the dynamic schedule switches
    focal: bool = False  # focal loss (alpha 0.25, gamma 2) instead of cross-entropy
    use_masks: bool = True  # False: the "without masks" ablation, no segmentation supervision
    # Two stages for a pretrained backbone (e.g. freeze_epochs 30, lr 1e-3, backbone_lr 1e-4): the
    # backbone frozen for the first epochs while the heads learn at TrainConfig.lr, then trained
    # at backbone_lr. A random backbone (the demo) trains from the start: freeze_epochs 0.
    freeze_epochs: int = 0
    backbone_lr: float = 0.0  # 0: TrainConfig.lr
    augment: str = "flip+rotate+color+noise"  # data.dataset.parse_augment names
    balanced: bool = True  # oversample the minority class each epoch
    cache_size: int = 512  # decoded images kept per data-loading process

    @property
    def defect_class(self) -> int:
        return len(self.classes) - 1

    def shape(self) -> tuple[int, int, int, int]:
        """(hidden size, layers, heads, MLP size) of the backbone."""
        return SIZES[self.size]

    def problems(self) -> list[str]:
        problems = []
        if self.backbone not in BACKBONES:
            problems.append(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if self.size not in SIZES:
            problems.append(f"size must be one of {', '.join(SIZES)}, got {self.size!r}")
        if self.pooling not in POOLINGS:
            problems.append(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.loss_weighting not in LOSS_WEIGHTINGS:
            problems.append(
                f"loss_weighting must be one of {', '.join(LOSS_WEIGHTINGS)}, got {self.loss_weighting!r}"
            )
        if self.stem not in STEMS:
            problems.append(f"stem must be one of {', '.join(STEMS)}, got {self.stem!r}")
        if self.stem == "conv" and self.pretrained:
            problems.append(
                "stem 'conv' is for random weights: a pretrained backbone keeps its patchify ('patch')"
            )
        if self.stem == "conv" and (self.patch_size < 2 or self.patch_size & (self.patch_size - 1)):
            problems.append(
                f"stem 'conv' needs a power-of-two patch_size (stride-2 steps), got {self.patch_size}"
            )
        if self.patch_size < 1 or self.image_size % self.patch_size:
            problems.append(
                f"image_size ({self.image_size}) must be a multiple of patch_size ({self.patch_size})"
            )
        if len(self.classes) < 2:
            problems.append(f"classes needs at least two names, got {list(self.classes)}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.freeze_epochs < 0 or self.backbone_lr < 0:
            problems.append("freeze_epochs and backbone_lr must be >= 0")
        try:
            from defectkit.models.guided_classifier.data.augment import parse_augment

            parse_augment(self.augment)
        except InvalidArgumentError as error:
            problems.append(str(error))
        return problems

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GuidedClassifierConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            msg = f"unknown guided_classifier settings: {unknown}"
            raise InvalidArgumentError(msg)
        # Runs recorded before detach_guidance existed trained with the gradient attached: resuming
        # one keeps that (the forward pass, and so evaluation and export, is the same either way).
        values = {"detach_guidance": False, **values}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
