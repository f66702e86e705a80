"""Finding the images and masks of a dataset in the MVTec AD layout.

::

    root/
      train/good/*.tif            defect-free training strips (required, not empty)
      valid/<category>/*.tif      optional validation split, structured like test/
      test/good/*.tif             defect-free test strips
      test/<category>/*.tif       defective test strips, one folder per defect category
      ground_truth/<category>/    masks of defective images of test/ and valid/:
                                  <stem>_mask.png|.tif|.tiff, or <stem>.png|.tif|.tiff

Images are ``*.tif``/``*.tiff`` (any case), listed in sorted order so every run sees
one order. A defective image (any category but ``good``) without a mask is an error.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from defectkit.errors import BadFileError, FileMissingError, InvalidArgumentError

__all__ = ["GOOD", "IMAGE_SUFFIXES", "DatasetLayout", "Sample", "discover_dataset", "find_mask", "read_mask"]

logger = logging.getLogger("defectkit")

GOOD = "good"
IMAGE_SUFFIXES = (".tif", ".tiff")
_MASK_NAMES = (
    "{stem}_mask.png",
    "{stem}_mask.tif",
    "{stem}_mask.tiff",
    "{stem}.png",
    "{stem}.tif",
    "{stem}.tiff",
)
_LAYOUT_HINT = "expected MVTec layout: train/good, test/<category>, ground_truth/<category>"


@dataclass(frozen=True)
class Sample:
    """One evaluation image: its path, its category folder and, for a defective one, its mask."""

    path: Path
    category: str
    mask_path: Path | None

    @property
    def is_defective(self) -> bool:
        return self.category != GOOD

    def ground_truth(self, shape: tuple[int, ...]) -> np.ndarray:
        """The ``(H, W)`` bool defect mask: :func:`read_mask` of ``mask_path``, or all False without one."""
        if self.mask_path is None:
            return np.zeros(shape[-2:], bool)
        return read_mask(self.mask_path, shape, image_path=self.path)


@dataclass(frozen=True)
class DatasetLayout:
    """The files of a dataset.

    Attributes:
        root: The dataset folder.
        train_good: Defect-free training images, sorted.
        valid: The ``valid/`` split, or ``None`` when the dataset has none.
        test: The ``test/`` split (empty when the dataset has no ``test/`` folder).
    """

    root: Path
    train_good: list[Path]
    valid: list[Sample] | None
    test: list[Sample]

    @property
    def categories(self) -> list[str]:
        """The test categories, sorted, ``good`` included when present."""
        return sorted({sample.category for sample in self.test})


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def find_mask(root: Path, category: str, image: Path) -> Path | None:
    """Returns the mask of ``image`` under ``root/ground_truth/<category>/``, or ``None``."""
    folder = root / "ground_truth" / category
    for pattern in _MASK_NAMES:
        candidate = folder / pattern.format(stem=image.stem)
        if candidate.is_file():
            return candidate
    return None


def _split(root: Path, folder: Path) -> list[Sample]:
    """Lists ``folder/<category>/*.tif`` with masks for every category but ``good``."""
    samples = []
    for category_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        category = category_dir.name
        for image in _images_in(category_dir):
            mask = None
            if category != GOOD:
                mask = find_mask(root, category, image)
                if mask is None:
                    names = "|".join(pattern.format(stem=image.stem) for pattern in _MASK_NAMES)
                    msg = f"{image}: defect image has no mask (looked for ground_truth/{category}/{names})"
                    raise BadFileError(msg)
            samples.append(Sample(path=image, category=category, mask_path=mask))
    return samples


def discover_dataset(root: str | os.PathLike[str]) -> DatasetLayout:
    """Lists a dataset's images and masks, checking the layout.

    Args:
        root: The dataset folder.

    Returns:
        The :class:`DatasetLayout`.

    Raises:
        FileMissingError: ``root`` does not exist or is not a folder.
        BadFileError: No ``train/good`` folder, no images in it, or a defective image
            without a mask.
    """
    root = Path(root)
    if not root.is_dir():
        msg = f"{root}: dataset folder not found"
        raise FileMissingError(msg)
    train_dir = root / "train" / GOOD
    if not train_dir.is_dir():
        msg = f"{root}: has no train/good folder ({_LAYOUT_HINT})"
        raise BadFileError(msg)
    train_good = _images_in(train_dir)
    if not train_good:
        msg = f"{train_dir}: has no .tif/.tiff images ({_LAYOUT_HINT})"
        raise BadFileError(msg)
    test_dir = root / "test"
    if test_dir.is_dir():
        test = _split(root, test_dir)
    else:
        logger.warning("%s: has no test folder; evaluation will have nothing to run on", root)
        test = []
    valid_dir = root / "valid"
    valid = _split(root, valid_dir) if valid_dir.is_dir() else None
    logger.info(
        "%s: %d training images, %s validation, %d test",
        root,
        len(train_good),
        "no" if valid is None else len(valid),
        len(test),
    )
    return DatasetLayout(root=root, train_good=train_good, valid=valid, test=test)


def _decode_mask(path: Path) -> np.ndarray:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        import tifffile

        try:
            return np.asarray(tifffile.imread(path))
        except Exception as exc:  # tifffile raises many types on damaged input
            msg = f"{path}: cannot read mask ({type(exc).__name__}: {exc})"
            raise BadFileError(msg) from exc
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        msg = f"{path}: cannot read mask (not an image OpenCV can decode)"
        raise BadFileError(msg)
    return data


def read_mask(
    path: str | os.PathLike[str], shape: tuple[int, ...], image_path: str | os.PathLike[str] | None = None
) -> np.ndarray:
    """Reads a ground-truth mask: nonzero pixels are defect.

    Args:
        path: The mask (PNG or anything OpenCV reads; ``.tif/.tiff`` via tifffile).
        shape: The image's shape, ``(H, W)`` or ``(C, H, W)``; the mask must be ``H x W``.
        image_path: The image the mask belongs to, named in the size-mismatch error.

    Returns:
        ``(H, W)`` bool. A multi-channel mask is a defect where any channel is nonzero.

    Raises:
        FileMissingError: The mask does not exist.
        BadFileError: It cannot be decoded, or its size differs from the image's.
    """
    path = Path(path)
    if len(shape) not in (2, 3):
        msg = f"{path}: read_mask needs the image shape as (H, W) or (C, H, W), got {shape}"
        raise InvalidArgumentError(msg)
    if not path.is_file():
        msg = f"{path}: mask file not found"
        raise FileMissingError(msg)
    data = _decode_mask(path)
    height, width = shape[-2:]
    if data.ndim == 3 and data.shape[0] in (1, 3, 4) and data.shape[1:] == (height, width):
        data = data.any(axis=0)  # channels-first TIFF
    elif data.ndim == 3:
        data = data.any(axis=2)  # channels-last (OpenCV's BGR/BGRA, contiguous TIFF)
    if data.shape != (height, width):
        image = f"image {image_path}" if image_path is not None else "the image"
        msg = f"{path}: mask is {'x'.join(map(str, data.shape))} (HxW) but {image} is {height}x{width}"
        raise BadFileError(msg)
    return data != 0
