"""The guided classifier: a ViT whose own segmentation decides which patches its pooling weighs.

image (N, 3, S, S) in [0, 1] -> normalise -> ViT backbone -> CLS token and a
(g x g) grid of patch tokens. A light decoder (conv-BN-ReLU, upsampled twice)
turns the patch grid into defect-mask logits at 4g x 4g; the mask, pooled back
to the patch grid, weighs the patch tokens (attention pooling); the pooled
features joined with the CLS token feed an MLP (embed*2 -> 1024 -> 512 ->
classes, ReLU, dropout). With ``pooling="mean"`` every patch weighs the same
(the ablation that shows what the guidance is worth).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from defectkit.models.guided_classifier.backbone import build_backbone
from defectkit.models.guided_classifier.config import GuidedClassifierConfig

__all__ = ["GuidedClassifier", "GuidedClassifierOutput", "TrainingOutput"]

# ImageNet statistics, what DINOv2 and DINOv3 were trained with.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
DEFECT_PRIOR_LOGIT = -4.6  # log(0.01 / 0.99)


class GuidedClassifierOutput(NamedTuple):
    """Eval mode: the exported outputs."""

    probabilities: torch.Tensor  # (N, classes) softmax
    mask: torch.Tensor  # (N, 1, S, S) defect probability per pixel of the network's input


class TrainingOutput(NamedTuple):
    """Training mode: what the losses take."""

    class_logits: torch.Tensor  # (N, classes)
    mask_logits: torch.Tensor  # (N, 1, 4g, 4g)
    attention: torch.Tensor  # (N, g * g) pooling weights over the patches, summing to 1


def _conv_bn_relu(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True)
    )


class SegmentationDecoder(nn.Module):
    """(N, D, g, g) patch features -> (N, 1, 4g, 4g) defect logits: conv-BN-ReLU, 2x up, twice."""

    def __init__(self, embed: int, channels: int) -> None:
        super().__init__()
        self.stem = _conv_bn_relu(embed, channels)
        self.up1 = _conv_bn_relu(channels, channels // 2)
        self.up2 = _conv_bn_relu(channels // 2, channels // 4)
        self.out = nn.Conv2d(channels // 4, 1, 1)
        # Defects cover about 1% of the pixels: start at that prior (Lin et al. 2017) rather than
        # at 0.5, or the first thousand steps only walk the bias down and the masks learn nothing.
        nn.init.constant_(self.out.bias, DEFECT_PRIOR_LOGIT)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        x = self.stem(grid)  # (N, C, g, g)
        x = self.up1(
            F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        )  # (N, C/2, 2g, 2g)
        x = self.up2(
            F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        )  # (N, C/4, 4g, 4g)
        return self.out(x)  # (N, 1, 4g, 4g)


class GuidedClassifier(nn.Module):
    def __init__(self, config: GuidedClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config)
        embed = self.backbone.config.hidden_size
        self.patch = self.backbone.config.patch_size
        self.registers = getattr(self.backbone.config, "num_register_tokens", 0) or 0
        self.decoder = SegmentationDecoder(embed, config.decoder_channels)
        hidden1, hidden2 = config.classifier_hidden
        self.classifier = nn.Sequential(
            nn.Linear(2 * embed, hidden1),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(hidden1, hidden2),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(hidden2, len(config.classes)),
        )
        # Kendall et al. 2018: log variances of the two tasks, learned with the network.
        self.log_vars = nn.Parameter(torch.zeros(2)) if config.loss_weighting == "uncertainty" else None
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def heads(self, image: torch.Tensor) -> TrainingOutput:
        """Class logits, mask logits and pooling weights of (N, 3, S, S) RGB in [0, 1]."""
        tokens = self.backbone(
            pixel_values=(image - self.mean) / self.std
        ).last_hidden_state  # (N, 1+R+g², D)
        cls, patches = tokens[:, 0], tokens[:, 1 + self.registers :]  # (N, D), (N, g², D)
        side = self.config.image_size // self.patch  # a Python int: the graph's input size is fixed
        grid = patches.transpose(1, 2).reshape(patches.shape[0], -1, side, side)  # (N, D, g, g)
        mask_logits = self.decoder(grid)  # (N, 1, 4g, 4g)
        if self.config.pooling == "guided":
            # The mask's probability pooled to the patch grid weighs each patch; the floor keeps a
            # defect-free image's pooling an average rather than a division by almost nothing.
            mask = torch.sigmoid(mask_logits.detach() if self.config.detach_guidance else mask_logits)
            weights = F.avg_pool2d(mask, 4).flatten(1) + 1e-3  # (N, g²): 4g -> g
        else:
            weights = torch.ones(patches.shape[:2], dtype=patches.dtype, device=patches.device)
        attention = weights / weights.sum(dim=1, keepdim=True)  # (N, g²)
        pooled = torch.einsum("np,npd->nd", attention, patches)  # (N, D)
        return TrainingOutput(self.classifier(torch.cat([cls, pooled], dim=1)), mask_logits, attention)

    def forward(self, image: torch.Tensor) -> GuidedClassifierOutput | TrainingOutput:
        """``image``: (N, 3, S, S) RGB in [0, 1] at the configured size S. Training mode: the
        logits the losses take; eval mode: probabilities and the mask at S x S (the export contract)."""
        out = self.heads(image)
        if self.training:
            return out
        mask = torch.sigmoid(
            F.interpolate(out.mask_logits, size=image.shape[-2:], mode="bilinear", align_corners=False)
        )
        return GuidedClassifierOutput(torch.softmax(out.class_logits, dim=1), mask)

    def attention_map(self, image: torch.Tensor) -> torch.Tensor:
        """(N, g, g) pooling weights over the patch grid, for the evaluation panels."""
        side = self.config.image_size // self.patch
        with torch.no_grad():
            return self.heads(image).attention.reshape(-1, side, side)
