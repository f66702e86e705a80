"""Small datasets in the guided_classifier layout, written for the data tests."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np

DEFAULT_SHAPE = (24, 32)  # (H, W) of the images the helpers write


def write_image(path: Path, image: np.ndarray) -> Path:
    """Writes ``image`` (grey ``(H, W)`` or RGB ``(H, W, 3)``) with OpenCV, which wants BGR."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = image if image.ndim == 2 else np.ascontiguousarray(image[:, :, ::-1])
    assert cv2.imwrite(str(path), data), path
    return path


def image_for(name: str, shape: tuple[int, int] = DEFAULT_SHAPE) -> np.ndarray:
    """A random RGB uint8 image, the same for the same name."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def square_mask(shape: tuple[int, int], top: int = 4, left: int = 6, side: int = 8) -> np.ndarray:
    """uint8 0/255 mask with one square of defect."""
    mask = np.zeros(shape, np.uint8)
    mask[top : top + side, left : left + side] = 255
    return mask


def write_dataset(
    root: Path,
    splits: dict[str, list[tuple[str, int, bool]]],
    shape: tuple[int, int] = DEFAULT_SHAPE,
) -> Path:
    """Writes ``root/images``, ``root/masks`` and a labels file per split.

    Args:
        root: The dataset folder.
        splits: Split name (``train``, ``val``, ``test``) -> ``(name, label, has mask)`` per line.
        shape: ``(H, W)`` of every image and mask.
    """
    files = {"train": "train_labels.txt", "val": "val_labels.txt", "test": "test_labels.txt"}
    for split, entries in splits.items():
        for name, _, has_mask in entries:
            write_image(root / "images" / name, image_for(name, shape))
            if has_mask:
                write_image(root / "masks" / f"{Path(name).stem}.png", square_mask(shape))
        text = "".join(f"{name},{label}\n" for name, label, _ in entries)
        (root / files[split]).write_text(text)
    return root


def small_dataset(root: Path) -> Path:
    """train: 2 defect (one without mask) + 3 normal; val: 1 + 1; no test split."""
    return write_dataset(
        root,
        {
            "train": [
                ("defect_001.png", 1, True),
                ("defect_002.png", 1, False),
                ("normal_001.png", 0, False),
                ("normal_002.png", 0, False),
                ("normal_003.png", 0, False),
            ],
            "val": [("defect_003.png", 1, True), ("normal_004.png", 0, False)],
        },
    )
