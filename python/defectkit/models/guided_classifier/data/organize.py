"""Building the ``guided_classifier`` layout from folders of defect images, their masks and normal images.

The images are copied (or linked) to ``images/`` as ``defect_###`` and ``normal_###`` in
the sorted order of their original names, keeping their extensions; each defect image's
mask, found by stem (``<stem>.*`` or ``<stem>_mask.*`` among PNG/JPEG/TIFF/BMP files), is
decoded, resized to its image and written as a binary PNG ``masks/<new stem>.png``. The
split is stratified and seeded: each class is shuffled on its own and cut into test, val
and train by the fractions. ``sources.csv`` records where every file came from.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from defectkit.errors import FileMissingError, InvalidArgumentError
from defectkit.models.guided_classifier.data.images import IMAGE_SUFFIXES, read_image, read_mask
from defectkit.models.guided_classifier.data.layout import DEFECT, LABEL_FILES, NORMAL, SPLITS

__all__ = ["LINK_MODES", "OrganizeSummary", "organize_dataset", "stratified_split"]

logger = logging.getLogger("defectkit")

StrPath = str | os.PathLike[str]
LINK_MODES = ("copy", "link")
SOURCES_FILE = "sources.csv"


@dataclass
class OrganizeSummary:
    """What :func:`organize_dataset` wrote.

    Attributes:
        root: The new dataset folder.
        counts: Split -> ``{"defect": n, "normal": n}``.
        without_mask: Original paths of defect images for which no mask was found.
        unused_masks: Original paths of masks that matched no defect image.
        empty_masks: Original paths of masks without a defect pixel.
    """

    root: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    without_mask: list[Path] = field(default_factory=list)
    unused_masks: list[Path] = field(default_factory=list)
    empty_masks: list[Path] = field(default_factory=list)


def _images_in(folder: Path, role: str) -> list[Path]:
    if not folder.is_dir():
        msg = f"{folder}: {role} folder not found"
        raise FileMissingError(msg)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _match_masks(images: list[Path], mask_dir: Path | None) -> tuple[dict[Path, Path], list[Path]]:
    """Each defect image's mask by stem (``<stem>.*`` first, then ``<stem>_mask.*``) and the unused masks.

    Raises:
        InvalidArgumentError: Two defect images share a stem, or a stem matches several masks.
    """
    stems: dict[str, Path] = {}
    for image in images:
        if image.stem in stems:
            msg = f"{image}: shares its stem with {stems[image.stem]}; their masks could not be told apart"
            raise InvalidArgumentError(msg)
        stems[image.stem] = image
    if mask_dir is None:
        return {}, []
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for mask in _images_in(mask_dir, "mask"):
        by_stem[mask.stem].append(mask)
    matched: dict[Path, Path] = {}
    for stem, image in stems.items():
        for candidates in (by_stem.get(stem, []), by_stem.get(f"{stem}_mask", [])):
            if len(candidates) > 1:
                msg = f"{image}: several masks match it: {', '.join(str(c) for c in candidates)}"
                raise InvalidArgumentError(msg)
            if candidates:
                matched[image] = candidates[0]
                break
    used = set(matched.values())
    unused = [mask for masks in by_stem.values() for mask in masks if mask not in used]
    return matched, sorted(unused)


def stratified_split(labels: list[int], val_fraction: float, test_fraction: float, seed: int) -> list[str]:
    """A split name per item: each class shuffled with its own seeded stream, then cut.

    ``round(n * test_fraction)`` of a class's ``n`` items go to test, ``round(n * val_fraction)``
    to val, the rest to train.

    Raises:
        InvalidArgumentError: A negative fraction, or fractions summing to 1 or more.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        msg = (
            "val and test fractions must be >= 0 and sum to less than 1, "
            f"got {val_fraction} and {test_fraction}"
        )
        raise InvalidArgumentError(msg)
    splits = ["train"] * len(labels)
    for label in (NORMAL, DEFECT):
        members = [i for i, value in enumerate(labels) if value == label]
        order = np.random.default_rng([seed, label]).permutation(len(members))
        n_test = round(len(members) * test_fraction)
        n_val = round(len(members) * val_fraction)
        for rank, position in enumerate(order):
            if rank < n_test:
                splits[members[position]] = "test"
            elif rank < n_test + n_val:
                splits[members[position]] = "val"
    return splits


def _place(source: Path, target: Path, mode: str) -> None:
    if mode == "link":
        target.symlink_to(source.resolve())
    else:
        shutil.copy2(source, target)


def _write_mask(source: Path, image: Path, target: Path) -> bool:
    """Writes ``source`` resized to ``image`` as a 0/255 PNG; returns whether it marks any pixel."""
    mask = read_mask(source, read_image(image).shape)
    if not cv2.imwrite(str(target), mask.astype(np.uint8) * np.uint8(255)):
        msg = f"{target}: OpenCV could not write the mask"
        raise OSError(msg)
    return bool(mask.any())


def organize_dataset(
    defect_images: StrPath,
    normal_images: StrPath,
    output_dir: StrPath,
    *,
    defect_masks: StrPath | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 0,
    mode: str = "copy",
    progress: bool = True,
) -> OrganizeSummary:
    """Builds the layout in ``output_dir`` from folders of images and masks.

    Args:
        defect_images: Folder of defect images (PNG, JPEG, TIFF, BMP; not searched recursively).
        normal_images: Folder of normal images.
        output_dir: The new dataset folder; must not exist or be empty.
        defect_masks: Folder of the defect images' masks; ``None``: no masks.
        val_fraction: Share of each class for ``val_labels.txt``.
        test_fraction: Share of each class for ``test_labels.txt`` (written only when > 0).
        seed: Seed of the split.
        mode: ``copy`` the images, or ``link`` them (symbolic links to the absolute sources).
        progress: Show a tqdm progress bar.

    Returns:
        The :class:`OrganizeSummary`.

    Raises:
        FileMissingError: A source folder is missing.
        InvalidArgumentError: No images, an unknown mode, bad fractions, a non-empty
            ``output_dir``, ambiguous mask matches.
        BadFileError: A defect image or mask that cannot be decoded (to write its mask).
    """
    from tqdm.auto import tqdm

    if mode not in LINK_MODES:
        msg = f"mode must be one of {', '.join(LINK_MODES)}, got {mode!r}"
        raise InvalidArgumentError(msg)
    defects = _images_in(Path(defect_images), "defect images")
    normals = _images_in(Path(normal_images), "normal images")
    if not defects or not normals:
        msg = (
            f"need defect and normal images, found {len(defects)} in {defect_images} "
            f"and {len(normals)} in {normal_images}"
        )
        raise InvalidArgumentError(msg)
    masks, unused = _match_masks(defects, Path(defect_masks) if defect_masks is not None else None)
    root = Path(output_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        msg = f"{root}: output folder exists and is not empty"
        raise InvalidArgumentError(msg)
    sources = [(path, DEFECT) for path in defects] + [(path, NORMAL) for path in normals]
    splits = stratified_split([label for _, label in sources], val_fraction, test_fraction, seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    summary = OrganizeSummary(root=root, unused_masks=unused)
    width = max(3, len(str(max(len(defects), len(normals)))))
    numbers = {DEFECT: 0, NORMAL: 0}
    lines: dict[str, list[str]] = {split: [] for split in SPLITS}
    rows = []
    for (source, label), split in tqdm(
        list(zip(sources, splits, strict=True)), desc="organizing", unit="image", disable=not progress
    ):
        numbers[label] += 1
        stem = f"{'defect' if label == DEFECT else 'normal'}_{numbers[label]:0{width}d}"
        name = stem + source.suffix.lower()
        _place(source, root / "images" / name, mode)
        mask = masks.get(source)
        if mask is not None and not _write_mask(mask, source, root / "masks" / f"{stem}.png"):
            summary.empty_masks.append(mask)
        if label == DEFECT and mask is None:
            summary.without_mask.append(source)
        lines[split].append(f"{name},{label}")
        rows.append((name, label, split, str(source), "" if mask is None else str(mask)))
    for split in SPLITS:
        if split != "test" or lines["test"]:
            (root / LABEL_FILES[split]).write_text("".join(line + "\n" for line in lines[split]))
        counts = [int(line.endswith(f",{DEFECT}")) for line in lines[split]]
        summary.counts[split] = {"defect": sum(counts), "normal": len(counts) - sum(counts)}
    with (root / SOURCES_FILE).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "label", "split", "source_image", "source_mask"])
        writer.writerows(rows)
    if summary.without_mask:
        logger.warning("%d defect images have no mask (mixed supervision)", len(summary.without_mask))
    logger.info("organized %d images into %s", len(sources), root)
    return summary
