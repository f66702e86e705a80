"""The data layer of the ``guided_classifier`` family: images, masks and labels.

- :mod:`.layout`: the dataset layout (``images/``, ``masks/``, ``*_labels.txt``),
  :func:`read_split` and :func:`discover`.
- :mod:`.check`: :func:`check_dataset`, every problem of a dataset in one report.
- :mod:`.images`: :func:`read_image` (any PNG/JPEG/TIFF to RGB uint8) and :func:`read_mask`.
- :mod:`.augment`: augmentations of an image and its mask together.
- :mod:`.dataset`: ``ImageDataset``, the torch dataset (imported from there: it needs torch).
- :mod:`.demo`: ``make_demo_images``, a procedural dataset in this layout.
"""

from __future__ import annotations

from defectkit.models.guided_classifier.data.check import CheckReport, SplitSummary, check_dataset
from defectkit.models.guided_classifier.data.images import IMAGE_SUFFIXES, read_image, read_mask
from defectkit.models.guided_classifier.data.layout import (
    CLASS_NAMES,
    DEFECT,
    LABEL_FILES,
    NORMAL,
    SPLITS,
    ImageLayout,
    ImageRecord,
    Problem,
    discover,
    read_split,
)

__all__ = [
    "CLASS_NAMES",
    "DEFECT",
    "IMAGE_SUFFIXES",
    "LABEL_FILES",
    "NORMAL",
    "SPLITS",
    "CheckReport",
    "ImageLayout",
    "ImageRecord",
    "Problem",
    "SplitSummary",
    "check_dataset",
    "discover",
    "read_image",
    "read_mask",
    "read_split",
]
