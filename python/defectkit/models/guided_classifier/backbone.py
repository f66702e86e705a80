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

__all__ = ["backbone_config", "build_backbone", "save_backbone"]

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
            return model
        return _model_class(config.backbone)(_config(config))
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
