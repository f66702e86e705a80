"""The strips export measures on: the validation split (thresholds, accuracy gate, graph choice)
and the calibration set (INT8 ranges). Never the test split.

Validation is the dataset's ``valid/`` when it has one; otherwise the strips
training held out of ``train/good``, each in several variants with synthetic
defects (the training synthesis, applied to the whole strip, with seeds
training never used). Calibration is, by default, the training strips with
synthetic defects, or every strip of a folder the user names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import pathlib
from collections.abc import Sequence

import numpy as np

from defectkit.data.layout import IMAGE_SUFFIXES, discover_dataset, read_mask
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.errors import InvalidArgumentError
from defectkit.evaluation.metrics import GOOD_CATEGORY
from defectkit.models.reference_unet.synthesis.allocation import synthesize
from defectkit.models.reference_unet.validation import held_out_paths
from defectkit.training.config import TrainConfig

__all__ = [
    "LabelledStrip",
    "calibration_strips",
    "data_fingerprint",
    "extension_strips",
    "validation_strips",
]

MODEL_CHANNELS = 3
_VALIDATION_SEED = 104729  # differs from training's and the per-epoch validation's seeds
_CALIBRATION_SEED = 130363
_EXTENSION_SEED = 155921


@dataclasses.dataclass
class LabelledStrip:
    """One strip to measure on: (3, H, W) float32 on 0..255, its mask and label."""

    name: str
    category: str
    strip: np.ndarray
    mask: np.ndarray  # (H, W) bool

    @property
    def label(self) -> int:
        return int(self.category != "good")


def _synthesis(config: TrainConfig, p_defective: float):
    """Training's synthesis settings with another share of defective strips."""
    return config.family_config.synthesis_settings(p_defective)


def _fit(strip: np.ndarray, image_size: tuple[int, int], path: pathlib.Path) -> np.ndarray:
    """The strip's model channels cropped to ``image_size`` (top-left); refuses smaller strips."""
    height, width = image_size
    if strip.shape[1] < height or strip.shape[2] < width:
        msg = (
            f"{path}: strip of {strip.shape[1]}x{strip.shape[2]} is smaller than the export size "
            f"{height}x{width}"
        )
        raise InvalidArgumentError(msg)
    return np.ascontiguousarray(strip[:MODEL_CHANNELS, :height, :width], dtype=np.float32)


def _held_out(config: TrainConfig, data: pathlib.Path) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    layout = discover_dataset(data)
    return held_out_paths(layout.train_good, config.family_config.holdout)


def validation_strips(
    config: TrainConfig, data: pathlib.Path, image_size: tuple[int, int], variants: int = 12
) -> list[LabelledStrip]:
    """The validation split as labelled strips of ``image_size``.

    With no ``valid/``, each held-out strip gives ``variants`` strips, half with synthetic
    defects (ground truth: the target-only stamps), half clean but misregistered.
    """
    layout = discover_dataset(data)
    if layout.valid:
        strips = []
        for sample in layout.valid:
            full = read_strip_tifffile(sample.path)
            strip = _fit(full, image_size, sample.path)
            mask = (
                read_mask(sample.mask_path, full.shape[1:], image_path=sample.path)
                if sample.mask_path
                else np.zeros(full.shape[1:], bool)
            )
            strips.append(
                LabelledStrip(
                    sample.path.name, sample.category, strip, mask[: image_size[0], : image_size[1]]
                )
            )
        return strips
    holdout = config.family_config.holdout
    _, held_out = held_out_paths(layout.train_good, holdout)
    if not held_out:
        msg = f"{data}: no valid/ split and no held-out training strips (holdout {holdout})"
        raise InvalidArgumentError(msg)
    return _synthetic_variants(config, held_out, image_size, variants, (_VALIDATION_SEED, config.seed))


def _synthetic_variants(
    config: TrainConfig,
    sources: list[pathlib.Path],
    image_size: tuple[int, int],
    variants: int,
    seed: Sequence[int],
) -> list[LabelledStrip]:
    """``variants`` strips per clean source strip, odd ones with synthetic defects (ground truth:
    the target-only stamps), even ones clean but misregistered."""
    strips = []
    for index, path in enumerate(sources):
        clean = _fit(read_strip_tifffile(path), image_size, path)
        for variant in range(variants):
            defective = variant % 2 == 1
            rng = np.random.default_rng([*seed, index, variant])
            image, mask = synthesize(clean, rng, _synthesis(config, 1.0 if defective else 0.0))
            category = "synthetic" if defective and mask.any() else "good"
            strips.append(LabelledStrip(f"{path.stem}-v{variant}", category, image, mask.astype(bool)))
    return strips


def extension_strips(
    config: TrainConfig, data: pathlib.Path, image_size: tuple[int, int], round_index: int, count: int
) -> list[LabelledStrip]:
    """About ``count`` more validation strips for round ``round_index`` (1, 2, ...) of a decision
    the validation split could not settle: synthetic defects on surfaces training never saw
    (``valid/good``, or the held-out training strips when there is no ``valid/``), from seeds no
    other set uses. Empty when there are no such surfaces."""
    layout = discover_dataset(data)
    if layout.valid:
        sources = [s.path for s in layout.valid if s.category == GOOD_CATEGORY]
    else:
        sources = held_out_paths(layout.train_good, config.family_config.holdout)[1]
    if not sources:
        return []
    variants = 2 * max(1, math.ceil(count / (2 * len(sources))))
    return _synthetic_variants(
        config, sources, image_size, variants, (_EXTENSION_SEED, config.seed, round_index)
    )[: max(count, 2)]


def calibration_strips(
    config: TrainConfig,
    data: pathlib.Path,
    image_size: tuple[int, int],
    count: int = 8,
    folder: pathlib.Path | None = None,
) -> list[np.ndarray]:
    """Strips (3, H, W) on 0..255 for INT8 calibration: ``folder``'s strips, or training strips
    (not the held-out ones) with synthetic defects on half of them.

    Raises:
        InvalidArgumentError: ``folder`` holds no strips.
    """
    if folder is not None:
        paths = sorted(p for p in pathlib.Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            msg = f"{folder}: calibration folder holds no strips (*.tif, *.tiff)"
            raise InvalidArgumentError(msg)
        return [_fit(read_strip_tifffile(p), image_size, p) for p in paths[:count]]
    train, _ = _held_out(config, data)
    picked = [train[int(i)] for i in np.linspace(0, len(train) - 1, num=min(count, len(train))).round()]
    strips = []
    for index, path in enumerate(picked):
        rng = np.random.default_rng([_CALIBRATION_SEED, config.seed, index])
        image, _ = synthesize(_fit(read_strip_tifffile(path), image_size, path), rng, _synthesis(config, 0.5))
        strips.append(image)
    return strips


def data_fingerprint(data: pathlib.Path) -> str:
    """SHA-256 over the training strips' relative paths and bytes: which data trained the model."""
    digest = hashlib.sha256()
    for path in discover_dataset(data).train_good:
        digest.update(str(path.relative_to(data)).encode())
        digest.update(path.read_bytes())
    return f"sha256:{digest.hexdigest()}"
