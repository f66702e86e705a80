"""The dataset layout of the ``guided_classifier`` family: images, masks and label files.

::

    data_root/
      images/defect_001.jpg ...   the images (PNG, JPEG or TIFF; grey or colour; 8 or 16 bits)
      masks/defect_001.png ...    binary masks, 255 = defect, any size (resized to the image)
      train_labels.txt            lines ``name,label``: 0 normal, 1 defect
      val_labels.txt              the validation split, same format
      test_labels.txt             optional: the test split, same format

In a labels file, blank lines and lines starting with ``#`` are skipped; a name is a file
name in ``images/``. A defect image's mask is ``masks/<stem>.png``; a defect image without
one is accepted (mixed supervision, Božič et al. 2021: its segmentation loss is skipped).
A normal image needs no mask (it is known to be clean); a mask found for one is ignored,
with a warning.

Refused, with the labels file and line in the message: a line that is not ``name,label``,
a label other than 0 or 1, a listed image that does not exist, a name listed twice in one
split, and an image listed in two splits (a test image seen in training would inflate the
test metrics). A missing ``train_labels.txt`` or ``val_labels.txt`` is refused too; a
missing ``test_labels.txt`` means no test split.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from defectkit.errors import BadFileError, Error, FileMissingError, InvalidArgumentError

__all__ = [
    "CLASS_NAMES",
    "DEFECT",
    "IMAGES_DIR",
    "LABEL_FILES",
    "MASKS_DIR",
    "NORMAL",
    "SPLITS",
    "ImageLayout",
    "ImageRecord",
    "Problem",
    "discover",
    "find_leaks",
    "read_split",
    "scan_split",
]

logger = logging.getLogger("defectkit")

StrPath = str | os.PathLike[str]
NORMAL, DEFECT = 0, 1
CLASS_NAMES = ("normal", "defect")  # indexed by label
SPLITS = ("train", "val", "test")
LABEL_FILES = {"train": "train_labels.txt", "val": "val_labels.txt", "test": "test_labels.txt"}
_OPTIONAL_SPLITS = ("test",)
IMAGES_DIR, MASKS_DIR = "images", "masks"


@dataclass(frozen=True)
class ImageRecord:
    """One listed image.

    Attributes:
        path: The image, ``root/images/<name>``.
        label: 0 normal, 1 defect.
        mask_path: ``root/masks/<stem>.png`` of a defect image that has one, else ``None``
            (always ``None`` for a normal image).
        source: ``(labels file, line number)`` that lists it, counted from 1.
    """

    path: Path
    label: int
    mask_path: Path | None
    source: tuple[Path, int]

    @property
    def name(self) -> str:
        """The name as listed: the file name in ``images/``."""
        return self.path.name

    @property
    def is_defect(self) -> bool:
        return self.label == DEFECT

    @property
    def where(self) -> str:
        """``labels_file:line``, for messages."""
        return f"{self.source[0]}:{self.source[1]}"


@dataclass(frozen=True)
class ImageLayout:
    """The three splits of a dataset (an absent test split is empty)."""

    root: Path
    train: list[ImageRecord]
    val: list[ImageRecord]
    test: list[ImageRecord]

    def split(self, name: str) -> list[ImageRecord]:
        """The records of split ``name`` (``train``, ``val`` or ``test``)."""
        _check_split(name)
        return getattr(self, name)


@dataclass(frozen=True)
class Problem:
    """Something wrong in a dataset, where it is, and the error it raises when reading refuses it.

    Attributes:
        file: The file at fault or that lists it (a labels file, the dataset folder).
        line: The labels-file line (from 1), or ``None`` when the problem is not a line's.
        message: What is wrong.
        error: The :class:`~defectkit.errors.Error` subclass reading raises for it.
        warning: True for what is reported but not refused (a normal image's mask).
    """

    file: Path
    line: int | None
    message: str
    error: type[Error] = BadFileError
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else f"{self.file}"
        return f"{where}: {self.message}"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        msg = f"unknown split {split!r}; choose from {', '.join(SPLITS)}"
        raise InvalidArgumentError(msg)


def _parse_line(text: str) -> tuple[str, int] | str:
    """``(name, label)`` of a ``name,label`` line, or what is wrong with it."""
    parts = text.split(",")
    if len(parts) != 2 or not parts[0].strip():
        return f"malformed line {text!r}: expected 'name,label' (label 0 normal, 1 defect)"
    name, label = parts[0].strip(), parts[1].strip()
    if name in (".", "..") or "/" in name or "\\" in name:
        return f"malformed line {text!r}: the name must be a file name in {IMAGES_DIR}/"
    if label not in ("0", "1"):
        return f"unknown label {label!r} for {name} (0 normal, 1 defect)"
    return name, int(label)


def _read_lines(root: Path, split: str) -> tuple[Path, list[str] | None, list[Problem]]:
    """The labels file of ``split``, its lines (``None`` when it cannot be read) and what is wrong."""
    path = root / LABEL_FILES[split]
    if not path.exists():
        if split in _OPTIONAL_SPLITS:
            return path, [], []
        problem = Problem(path, None, f"labels file not found (the {split} split)", FileMissingError)
        return path, None, [problem]
    try:
        return path, path.read_text(encoding="utf-8-sig").splitlines(), []
    except UnicodeDecodeError as exc:
        return path, None, [Problem(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return path, None, [Problem(path, None, f"cannot read ({exc.strerror or exc})", FileMissingError)]


def scan_split(root: StrPath, split: str) -> tuple[list[ImageRecord], list[Problem]]:
    """Reads a split's labels file, collecting every problem instead of stopping at the first.

    Lines with a problem are left out of the records; a normal image's mask gives a warning
    and is dropped from its record. Files are checked to exist, not decoded.

    Args:
        root: The dataset folder.
        split: ``train``, ``val`` or ``test``.

    Returns:
        ``(records in file order, problems in file order)``.

    Raises:
        InvalidArgumentError: ``split`` is not one of :data:`SPLITS`.
    """
    _check_split(split)
    root = Path(root)
    if not root.is_dir():
        return [], [Problem(root, None, "dataset folder not found", FileMissingError)]
    labels_path, lines, problems = _read_lines(root, split)
    if lines is None:
        return [], problems
    images_dir, masks_dir = root / IMAGES_DIR, root / MASKS_DIR
    have_images = images_dir.is_dir()
    if not have_images and any(line.strip() and not line.strip().startswith("#") for line in lines):
        problems.append(Problem(images_dir, None, "images folder not found", FileMissingError))
    records: list[ImageRecord] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        parsed = _parse_line(text)
        if isinstance(parsed, str):
            problems.append(Problem(labels_path, number, parsed))
            continue
        name, label = parsed
        if name in first_line:
            message = f"{name} is listed twice in this file (first at line {first_line[name]})"
            problems.append(Problem(labels_path, number, message))
            continue
        first_line[name] = number
        image = images_dir / name
        if not have_images:
            continue
        if not image.is_file():
            problems.append(Problem(labels_path, number, f"image {image} not found", FileMissingError))
            continue
        mask: Path | None = masks_dir / f"{Path(name).stem}.png"
        if not mask.is_file():
            mask = None
        elif label == NORMAL:
            message = f"{name} is labelled 0 (normal) but has a mask {mask}; the mask is ignored"
            problems.append(Problem(labels_path, number, message, warning=True))
            mask = None
        records.append(ImageRecord(image, label, mask, (labels_path, number)))
    return records, problems


def find_leaks(splits: dict[str, list[ImageRecord]]) -> list[Problem]:
    """Images listed in more than one split: a problem at each later listing.

    Args:
        splits: Split name -> its records, in the order the splits rank (train first).
    """
    seen: dict[str, ImageRecord] = {}
    seen_in: dict[str, str] = {}
    problems = []
    for split, records in splits.items():
        for record in records:
            first = seen.get(record.name)
            if first is None:
                seen[record.name], seen_in[record.name] = record, split
                continue
            message = (
                f"{record.name} is also in the {seen_in[record.name]} split ({first.where}); "
                "an image in two splits leaks between them"
            )
            problems.append(Problem(record.source[0], record.source[1], message))
    return problems


def _raise_first(problems: list[Problem]) -> None:
    """Logs the warnings; raises the first error, saying how many more there are."""
    for problem in problems:
        if problem.warning:
            logger.warning("%s", problem)
    errors = [p for p in problems if not p.warning]
    if errors:
        more = f" (+{len(errors) - 1} more; `defectkit prepare check` lists all)" if len(errors) > 1 else ""
        raise errors[0].error(f"{errors[0]}{more}")


def read_split(root: StrPath, split: str) -> list[ImageRecord]:
    """The records of one split, refusing the first problem found.

    Args:
        root: The dataset folder.
        split: ``train``, ``val`` (``val_labels.txt``) or ``test`` (``test_labels.txt``; none: ``[]``).

    Returns:
        The records in file order.

    Raises:
        InvalidArgumentError: An unknown split name.
        FileMissingError: The folder, the labels file (train, val) or a listed image is missing.
        BadFileError: A malformed line, an unknown label or a name listed twice (the message
            names the labels file and line).
    """
    records, problems = scan_split(root, split)
    _raise_first(problems)
    return records


def discover(root: StrPath) -> ImageLayout:
    """The three splits of a dataset, checked as :func:`read_split` does and for leakage.

    Raises:
        FileMissingError: As :func:`read_split`.
        BadFileError: As :func:`read_split`, or an image listed in two splits.
    """
    root = Path(root)
    splits: dict[str, list[ImageRecord]] = {}
    problems: list[Problem] = []
    for split in SPLITS:
        records, found = scan_split(root, split)
        splits[split] = records
        problems += found
    _raise_first(problems + find_leaks(splits))
    counts = ", ".join(
        f"{split} {sum(r.is_defect for r in records)}/{sum(not r.is_defect for r in records)}"
        for split, records in splits.items()
    )
    logger.info("%s: defect/normal images: %s", root, counts)
    return ImageLayout(root=root, **splits)
