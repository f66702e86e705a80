"""The ViT backbone: DINOv2 or DINOv3 from ``transformers``, built from a config, nothing downloaded.

Named sizes are the published checkpoints' shapes; ``pretrained`` loads weights
from a local folder in Hugging Face layout (``config.json`` +
``model.safetensors``). The backbone always runs at one fixed input size: a
DINOv2 checkpoint trained at another size has its position embeddings
interpolated once, here, so the graph never interpolates them (the legacy
ONNX exporter cannot trace the bicubic interpolation DINOv2 does per forward).
Attention is the eager implementation, which traces into plain MatMul/Softmax.
"""

from __future__ import annotations

import logging
import pathlib

import torch
import torch.nn.functional as F

from defectkit.errors import FileMissingError, InvalidArgumentError
from defectkit.models.guided_classifier.config import GuidedClassifierConfig

__all__ = ["ConvStem", "backbone_config", "build_backbone", "save_backbone"]

logger = logging.getLogger("defectkit")


def _config(config: GuidedClassifierConfig):
    hidden, layers, heads, mlp = config.shape()
    if config.backbone == "dinov2":
        from transformers import Dinov2Config

        return Dinov2Config(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            mlp_ratio=mlp // hidden,
            patch_size=config.patch_size,
            image_size=config.image_size,
            layerscale_value=1e-5 if config.size != "demo" else 1.0,
            attn_implementation="eager",
        )
    from transformers import DINOv3ViTConfig

    return DINOv3ViTConfig(
        hidden_size=hidden,
        intermediate_size=mlp,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        patch_size=config.patch_size,
        image_size=config.image_size,
        num_register_tokens=config.register_tokens,
        layerscale_value=1e-5 if config.size != "demo" else 1.0,
        attn_implementation="eager",
    )


def _hf_config(backbone: str, values: dict):
    if backbone == "dinov2":
        from transformers import Dinov2Config as Config
    else:
        from transformers import DINOv3ViTConfig as Config
    return Config.from_dict({**values, "attn_implementation": "eager"})


def _model_class(backbone: str):
    if backbone == "dinov2":
        from transformers import Dinov2Model

        return Dinov2Model
    from transformers import DINOv3ViTModel

    return DINOv3ViTModel


class ConvStem(torch.nn.Module):
    """Pixels to patch tokens by stride-2 3x3 conv-BN-ReLU steps (24, 48, 96, ... channels) and a
    1x1 projection to the hidden size: log2(patch) steps, so the grid is the patchify's.

    Replaces a random backbone's patchify (Xiao et al. 2021): a ViT from scratch learns local
    contrast, what a small defect is, far faster from it (docs/experiments/guided_classifier.md).
    """

    def __init__(self, channels: int, hidden: int, patch: int) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        width, inputs = 24, channels
        for _ in range(patch.bit_length() - 1):
            layers += [
                torch.nn.Conv2d(inputs, width, 3, stride=2, padding=1, bias=False),
                torch.nn.BatchNorm2d(width),
                torch.nn.ReLU(inplace=True),
            ]
            inputs, width = width, width * 2
        layers.append(torch.nn.Conv2d(inputs, hidden, 1))
        self.net = torch.nn.Sequential(*layers)

    @property
    def weight(self) -> torch.Tensor:
        """The first convolution's weight: transformers reads the patchify's dtype from it."""
        return self.net[0].weight

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net(pixels)  # (N, D, S / patch, S / patch)


def _use_stem(model: torch.nn.Module, config: GuidedClassifierConfig) -> torch.nn.Module:
    if config.stem == "conv":
        stem = ConvStem(getattr(model.config, "num_channels", 3), model.config.hidden_size, config.patch_size)
        if config.backbone == "dinov2":  # Dinov2PatchEmbeddings wraps its convolution
            model.embeddings.patch_embeddings.projection = stem
        else:  # DINOv3's embeddings hold theirs directly
            model.embeddings.patch_embeddings = stem
    return model


def _fix_position_embeddings(model: torch.nn.Module, image_size: int) -> None:
    """A DINOv2 checkpoint's position table resized to ``image_size`` once (bicubic, as DINOv2
    itself does per forward), so the forward finds it the right size and skips interpolating."""
    embeddings = model.embeddings
    table = embeddings.position_embeddings  # (1, 1 + g * g, D)
    patch = model.config.patch_size
    old = int((table.shape[1] - 1) ** 0.5)
    new = image_size // patch
    if old == new:
        return
    cls, grid = table[:, :1], table[:, 1:].reshape(1, old, old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)
    embeddings.position_embeddings = torch.nn.Parameter(
        torch.cat([cls, grid.permute(0, 2, 3, 1).flatten(1, 2)], 1)
    )
    model.config.image_size = image_size
    logger.info("position embeddings resized from a %dx%d to a %dx%d patch grid", old, old, new, new)


def build_backbone(config: GuidedClassifierConfig) -> torch.nn.Module:
    """The backbone module: random weights of ``config``'s shape, or a local pretrained folder.

    Raises:
        FileMissingError: ``config.pretrained`` is not a folder with config.json and model.safetensors.
        InvalidArgumentError: the folder holds another architecture than ``config.backbone``.
    """
    folder = pathlib.Path(config.pretrained) if config.pretrained else None
    if folder is None or (config.backbone_config and not folder.is_dir()):
        if config.backbone_config:  # a trained run: the checkpoint holds the weights
            model = _model_class(config.backbone)(_hf_config(config.backbone, config.backbone_config))
            if config.backbone == "dinov2":
                _fix_position_embeddings(model, config.image_size)
            return _use_stem(model, config)
        return _use_stem(_model_class(config.backbone)(_config(config)), config)
    missing = [name for name in ("config.json", "model.safetensors") if not (folder / name).is_file()]
    if missing:
        msg = f"{folder}: a pretrained backbone folder needs {' and '.join(missing)} (Hugging Face layout)"
        raise FileMissingError(msg)
    try:
        model = _model_class(config.backbone).from_pretrained(
            folder, local_files_only=True, attn_implementation="eager"
        )
    except (OSError, ValueError) as error:
        msg = f"{folder}: cannot load a {config.backbone} backbone ({error})"
        raise InvalidArgumentError(msg) from error
    if config.image_size % model.config.patch_size:
        patch = model.config.patch_size
        msg = f"image_size {config.image_size} is not a multiple of the checkpoint's patch size {patch}"
        raise InvalidArgumentError(msg)
    if config.backbone == "dinov2":
        _fix_position_embeddings(model, config.image_size)
    return model


def backbone_config(config: GuidedClassifierConfig) -> dict | None:
    """The pretrained folder's config.json as a dict (what a trained run records), or None."""
    if not config.pretrained:
        return None
    path = pathlib.Path(config.pretrained) / "config.json"
    if not path.is_file():
        msg = f"{path}: not found (pretrained backbones load from a local Hugging Face folder)"
        raise FileMissingError(msg)
    import json

    return json.loads(path.read_text())


def save_backbone(model: torch.nn.Module, folder: pathlib.Path) -> pathlib.Path:
    """Writes a backbone in Hugging Face layout (what ``pretrained`` loads)."""
    model.save_pretrained(folder, safe_serialization=True)
    return folder
