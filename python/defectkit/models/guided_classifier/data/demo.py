"""A procedural image dataset in the ``guided_classifier`` layout, for demos, tests and smoke training.

Written under ``root``::

    images/defect_001.png ...   defect images, numbered across train, val and test in that order
    images/normal_001.png ...   normal images, numbered the same way
    masks/defect_001.png ...    uint8 0/255 masks of the defect images that have one
    train_labels.txt            ``name,label`` lines; val_labels.txt, test_labels.txt likewise
    dataset.json                the generator's parameters and counts

Images are textured surfaces, half of them grey (saved with one channel) and half tinted
colour (RGB), each defect image with one small, subtle defect
(:mod:`defectkit.models.guided_classifier.data.demo_surfaces`). Every image draws from its
own stream ``(seed, split, label, index)``: the same arguments give the same files, and
changing one split's counts leaves the other splits' pixels as they were.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from defectkit.errors import InvalidArgumentError
from defectkit.models.guided_classifier.data import demo_surfaces
from defectkit.models.guided_classifier.data.demo_surfaces import TEXTURE_KINDS, make_surface, paint_defect
from defectkit.models.guided_classifier.data.layout import DEFECT, LABEL_FILES, NORMAL, SPLITS

__all__ = ["DEMO_COUNTS", "DEMO_FORMAT_VERSION", "IMAGE_FORMATS", "make_demo_images"]

logger = logging.getLogger("defectkit")

StrPath = str | os.PathLike[str]
DEMO_FORMAT_VERSION = 2  # 2: larger, stronger defects and 2-3 px lines
# (defect, normal) images per split. The test split is the largest so model comparisons rank
# reliably (10,000 defect/normal pairs: one misordered pair moves image AUROC by 1e-4).
DEMO_COUNTS = {"train": (120, 120), "val": (40, 40), "test": (100, 100)}
IMAGE_FORMATS = {"png": ".png", "jpg": ".jpg", "tif": ".tif"}
COLOUR_PROBABILITY = 0.5  # of an image being tinted colour rather than grey
_GENERATED = ("images", "masks", *LABEL_FILES.values(), "dataset.json")
_MASK_STREAM = 1  # spawn key of the draw of which train defect images keep their mask


def _prepare(root: Path, overwrite: bool) -> None:
    """Makes ``root`` ready: created, empty, or (``overwrite``) cleared of what this wrote."""
    if root.exists() and not root.is_dir():
        msg = f"{root}: exists and is not a folder"
        raise InvalidArgumentError(msg)
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            msg = f"{root}: folder is not empty (overwrite=True replaces a demo dataset there)"
            raise InvalidArgumentError(msg)
        for name in _GENERATED:
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)


def _make_image(
    rng: np.random.Generator, size: int, defect: bool
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """One image, ``(S, S)`` grey or ``(S, S, 3)`` RGB uint8, its mask (defects) and defect kind."""
    surface, _ = make_surface(rng, size)
    mask, kind = paint_defect(rng, surface) if defect else (None, "")
    if rng.random() < COLOUR_PROBABILITY:
        tint = rng.uniform(0.75, 1.25, 3).astype(np.float32)
        surface = surface[:, :, None] * tint
    return np.clip(np.round(surface), 0, 255).astype(np.uint8), mask, kind


def _write_image(path: Path, image: np.ndarray) -> None:
    bgr = image if image.ndim == 2 else np.ascontiguousarray(image[:, :, ::-1])
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), bgr, params):
        msg = f"{path}: OpenCV could not write the image"
        raise OSError(msg)


def _masked_defects(seed: int, count: int, masks_fraction: float) -> set[int]:
    """Which of ``count`` training defect images keep their mask: ``round(fraction * count)`` of them."""
    keep = round(masks_fraction * count)
    rng = np.random.default_rng(np.random.SeedSequence([seed], spawn_key=(_MASK_STREAM,)))
    return {int(i) for i in rng.permutation(count)[:keep]}


def make_demo_images(
    root: StrPath,
    *,
    num_defect: int = DEMO_COUNTS["train"][0],
    num_normal: int = DEMO_COUNTS["train"][1],
    val: tuple[int, int] = DEMO_COUNTS["val"],
    test: tuple[int, int] = DEMO_COUNTS["test"],
    size: int = 128,
    seed: int = 0,
    fmt: str = "png",
    masks_fraction: float = 1.0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Writes a procedural image dataset in the ``guided_classifier`` layout.

    Args:
        root: Dataset folder; created if missing, must be empty unless ``overwrite``.
        num_defect: Training defect images.
        num_normal: Training normal images.
        val: ``(defect, normal)`` validation images (``val_labels.txt`` is written even when
            both are 0).
        test: ``(defect, normal)`` test images; both 0: no ``test_labels.txt``.
        size: Image side in pixels (at least 32).
        seed: Seed of every random draw.
        fmt: Image format: ``png``, ``jpg`` (quality 95) or ``tif``; masks are always PNG.
        masks_fraction: Share of the *training* defect images that get a mask (the others
            train the classifier only: mixed supervision); validation and test defect images
            always have one, so pixel metrics stay measurable.
        overwrite: Replace what an earlier call wrote in ``root``.
        progress: Show a tqdm progress bar.

    Returns:
        The dataset root.

    Raises:
        InvalidArgumentError: A negative count, ``size < 32``, an unknown ``fmt``,
            ``masks_fraction`` outside [0, 1], or a non-empty ``root`` without ``overwrite``.
    """
    from tqdm.auto import tqdm

    counts = {"train": (num_defect, num_normal), "val": tuple(val), "test": tuple(test)}
    if any(len(c) != 2 or min(c) < 0 for c in counts.values()) or size < 32:
        msg = f"demo images need counts >= 0 as (defect, normal) and size >= 32, got {counts} and {size}"
        raise InvalidArgumentError(msg)
    if fmt not in IMAGE_FORMATS or not 0.0 <= masks_fraction <= 1.0:
        msg = (
            f"fmt must be one of {', '.join(IMAGE_FORMATS)} and masks_fraction in [0, 1], "
            f"got {fmt!r} and {masks_fraction}"
        )
        raise InvalidArgumentError(msg)
    root = Path(root)
    _prepare(root, overwrite)
    width = max(3, len(str(max(sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())))))
    masked = _masked_defects(seed, num_defect, masks_fraction)
    plan = [
        (split, label, index)
        for split in SPLITS
        for label, count in ((DEFECT, counts[split][0]), (NORMAL, counts[split][1]))
        for index in range(count)
    ]
    numbers: Counter = Counter()
    lines: dict[str, list[str]] = {split: [] for split in SPLITS}
    kinds: Counter = Counter()
    masks_written: Counter = Counter()
    for split, label, index in tqdm(plan, desc="demo images", unit="image", disable=not progress):
        rng = np.random.default_rng([seed, SPLITS.index(split), label, index])
        image, mask, kind = _make_image(rng, size, defect=label == DEFECT)
        prefix = "defect" if label == DEFECT else "normal"
        numbers[prefix] += 1
        stem = f"{prefix}_{numbers[prefix]:0{width}d}"
        name = stem + IMAGE_FORMATS[fmt]
        _write_image(root / "images" / name, image)
        if mask is not None:
            kinds[kind] += 1
            if split != "train" or index in masked:
                _write_image(root / "masks" / f"{stem}.png", mask.astype(np.uint8) * np.uint8(255))
                masks_written[split] += 1
        lines[split].append(f"{name},{label}")
    for split in SPLITS:
        if split != "test" or any(counts["test"]):
            (root / LABEL_FILES[split]).write_text("".join(line + "\n" for line in lines[split]))
    description = {
        "generator": "defectkit.models.guided_classifier.data.demo",
        "format_version": DEMO_FORMAT_VERSION,
        "seed": seed,
        "size": size,
        "format": fmt,
        "masks_fraction": masks_fraction,
        "counts": {
            split: {"defect": counts[split][0], "normal": counts[split][1], "masks": masks_written[split]}
            for split in SPLITS
        },
        "defect_kinds": dict(sorted(kinds.items())),
        "defect_size_px": list(demo_surfaces.DEFECT_SIZE),  # read now: experiments may change them
        "defect_contrast_grey_levels": list(demo_surfaces.DEFECT_CONTRAST),
        "line_width_px": list(demo_surfaces.LINE_WIDTH),
        "textures": list(TEXTURE_KINDS),
    }
    (root / "dataset.json").write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    logger.info("wrote %d demo images to %s", len(plan), root)
    return root
