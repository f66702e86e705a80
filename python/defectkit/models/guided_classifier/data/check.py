"""A whole-dataset check: every label line read, every image and mask decoded, every problem listed.

:func:`~defectkit.models.guided_classifier.data.layout.read_split` stops at the first
problem, which is right for training but slow for fixing a dataset one error per run;
:func:`check_dataset` collects them all (``defectkit prepare check`` prints the report).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defectkit.errors import Error
from defectkit.models.guided_classifier.data.images import IMAGE_SUFFIXES, read_image, read_mask
from defectkit.models.guided_classifier.data.layout import (
    IMAGES_DIR,
    MASKS_DIR,
    SPLITS,
    ImageRecord,
    Problem,
    find_leaks,
    scan_split,
)

__all__ = ["CheckReport", "SplitSummary", "check_dataset"]

StrPath = str | os.PathLike[str]
_LISTED_AT_MOST = 10  # names shown per list in the text report (the dict has them all)


@dataclass
class SplitSummary:
    """Counts of one split's readable lines.

    Attributes:
        normal: Images labelled 0.
        defect: Images labelled 1.
        masks_present: Defect images with a mask.
        masks_missing: Names of defect images without a mask (their segmentation loss is skipped).
    """

    normal: int = 0
    defect: int = 0
    masks_present: int = 0
    masks_missing: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """What :func:`check_dataset` found.

    Attributes:
        root: The dataset folder.
        splits: Split name -> its :class:`SplitSummary` (the test split is empty without
            ``test_labels.txt``).
        image_sizes: ``(H, W)`` -> how many decoded images have it.
        masks_resized: Masks whose size differs from their image's (resized when read).
        unlisted_images: Files in ``images/`` that no labels file lists.
        problems: What reading refuses, each naming its file and line.
        warnings: What reading accepts but reports (a normal image's mask, a mask without
            defect pixels, a mask that matches no image).
    """

    root: Path
    splits: dict[str, SplitSummary] = field(default_factory=dict)
    image_sizes: dict[tuple[int, int], int] = field(default_factory=dict)
    masks_resized: int = 0
    unlisted_images: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing would be refused (warnings allowed)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "root": str(self.root),
            "ok": self.ok,
            "splits": {name: vars(summary) for name, summary in self.splits.items()},
            "image_sizes": {f"{h}x{w}": n for (h, w), n in sorted(self.image_sizes.items())},
            "masks_resized": self.masks_resized,
            "unlisted_images": self.unlisted_images,
            "problems": [str(p) for p in self.problems],
            "warnings": [str(p) for p in self.warnings],
        }

    def format(self) -> str:
        """The report as text for a terminal."""
        lines = [
            f"dataset {self.root}",
            f"{'split':<6} {'normal':>7} {'defect':>7} {'masks':>7} {'no mask':>8}",
        ]
        for name, s in self.splits.items():
            row = f"{name:<6} {s.normal:>7} {s.defect:>7} {s.masks_present:>7} {len(s.masks_missing):>8}"
            lines.append(row)
        sizes = ", ".join(
            f"{h}x{w} ({n})" for (h, w), n in sorted(self.image_sizes.items(), key=lambda i: -i[1])
        )
        lines.append(f"image sizes (HxW): {sizes or 'none decoded'}")
        lines.append(f"masks resized to their image: {self.masks_resized}")
        for name, s in self.splits.items():
            if s.masks_missing:
                lines.append(
                    f"{name}: {len(s.masks_missing)} defect images without a mask (segmentation loss "
                    f"skipped): {_some(s.masks_missing)}"
                )
        if self.unlisted_images:
            lines.append(f"{len(self.unlisted_images)} images not listed: {_some(self.unlisted_images)}")
        for title, found in (("warnings", self.warnings), ("problems", self.problems)):
            if found:
                lines.append(f"{title} ({len(found)}):")
                lines.extend(f"  {p}" for p in found)
        lines.append("OK" if self.ok else f"{len(self.problems)} problems")
        return "\n".join(lines)


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED_AT_MOST])
    return shown + (f", ... ({len(names) - _LISTED_AT_MOST} more)" if len(names) > _LISTED_AT_MOST else "")


def _decode_record(record: ImageRecord, report: CheckReport, sizes: Counter) -> None:
    """Decodes a record's image and mask, adding what fails to the report."""
    file, line = record.source
    try:
        image = read_image(record.path)
    except Error as exc:
        report.problems.append(Problem(file, line, str(exc), type(exc)))
        return
    sizes[image.shape[:2]] += 1
    if record.mask_path is None:
        return
    try:
        mask = read_mask(record.mask_path)
    except Error as exc:
        report.problems.append(Problem(file, line, str(exc), type(exc)))
        return
    if mask.shape != image.shape[:2]:
        report.masks_resized += 1
    if not mask.any():
        message = f"{record.mask_path}: mask of defect image {record.name} has no defect pixel (> 127)"
        report.warnings.append(Problem(file, line, message, warning=True))


def _files_in(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def check_dataset(root: StrPath, *, progress: bool = False) -> CheckReport:
    """Checks a whole dataset: labels files, leakage, and every image and mask decoded.

    Never raises for what is in the dataset; everything found goes into the report.

    Args:
        root: The dataset folder.
        progress: Show a tqdm progress bar while decoding.

    Returns:
        The :class:`CheckReport`; ``report.ok`` is False when reading would refuse the dataset.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    report = CheckReport(root=root)
    records: dict[str, list[ImageRecord]] = {}
    for split in SPLITS:
        records[split], found = scan_split(root, split)
        if not root.is_dir() and split != SPLITS[0]:
            found = []  # "dataset folder not found" once is enough
        report.problems += [p for p in found if not p.warning]
        report.warnings += [p for p in found if p.warning]
        summary = report.splits[split] = SplitSummary()
        for record in records[split]:
            if record.is_defect:
                summary.defect += 1
                if record.mask_path is not None:
                    summary.masks_present += 1
                else:
                    summary.masks_missing.append(record.name)
            else:
                summary.normal += 1
    report.problems += find_leaks(records)
    sizes: Counter = Counter()
    every = [record for split in SPLITS for record in records[split]]
    for record in tqdm(every, desc="checking images", unit="image", disable=not progress):
        _decode_record(record, report, sizes)
    report.image_sizes = dict(sizes)
    listed = {record.name for record in every}
    images = _files_in(root / IMAGES_DIR, IMAGE_SUFFIXES)
    report.unlisted_images = [p.name for p in images if p.name not in listed]
    image_stems = {p.stem for p in images} | {Path(name).stem for name in listed}
    for mask in _files_in(root / MASKS_DIR, IMAGE_SUFFIXES):
        if mask.suffix != ".png":
            message = "not used: a mask is masks/<image stem>.png"
        elif mask.stem not in image_stems:
            message = "matches no image in images/ (a mask is masks/<image stem>.png)"
        else:
            continue
        report.warnings.append(Problem(mask, None, message, warning=True))
    report.problems.sort(key=lambda p: (str(p.file), p.line or 0))
    return report
