"""A procedural strip dataset in the MVTec AD layout, for demos, tests and smoke training.

Layout written under ``out_dir``::

    train/good/000.tif ...                   defect-free strips
    valid/good/v000.tif ...                  like test/, from their own random streams:
    valid/<category>/v000.tif ...            what training selects its checkpoint by
    test/good/000.tif ...                    defect-free targets; distractors in the references
    test/<category>/000.tif ...              a defect in the target only
    ground_truth/<category>/000_mask.png     uint8 0/255, the defect pixels (v000_mask.png: valid/)
    dataset.json                             the generator parameters

Every strip is in the production format: float32, 0..255, channels-first
``(4, H, W)`` = target, ref1, ref2, ROI mask (255: inspected). The three
captures show one textured surface with sub-pixel misalignment, gain and
noise (:mod:`defectkit.models.reference_unet.data.demo_textures`). Distractors, anomalies that are
*not* defects because they are absent from the target or present in all
three captures, appear in ``train/good`` and ``test/good`` and, more sparsely,
in the defect strips.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from defectkit.data.strip_io import write_strip
from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.data.demo_defects import DEFECT_KINDS, paint_defect
from defectkit.models.reference_unet.data.demo_textures import (
    SURFACE_KINDS,
    CaptureModel,
    capture,
    make_surface,
)

__all__ = ["DEMO_COUNTS", "DEMO_FORMAT_VERSION", "make_demo_dataset"]

logger = logging.getLogger("defectkit")

DEMO_FORMAT_VERSION = 1
ROI_INSPECTED = 255.0
# Where a distractor goes; "all" puts it on the surface, so every capture shows it.
DISTRACTOR_PLACES = ("ref1", "ref2", "both_refs", "all")
# How many distractors a strip carries, per split: (low, high) inclusive.
DISTRACTORS_PER_STRIP = {
    "train": (0, 2),
    "test_good": (1, 3),
    "test_defect": (0, 1),
    "valid_good": (1, 3),
    "valid_defect": (0, 1),
}
# The demo's split sizes. The test split is large enough to rank models (one misordered
# (defect, good) pair moves image AUROC by 1/2400; on 20 strips it moved it by 0.01, more than the
# differences between recipes), valid/ large enough for export's INT8 gate and thresholds (one pair:
# 1/1600 of image AUROC). Each strip is drawn from its own (seed, split, index) stream, so these are
# supersets of the earlier 8 + 12 test and 4 + 6 valid/ strips.
DEMO_COUNTS = {"train": 96, "test_good": 40, "test_defect": 60, "valid_good": 40, "valid_defect": 40}
_SPLIT_SEED = {"train": 0, "test_good": 1, "test_defect": 2, "valid_good": 3, "valid_defect": 4}
_GENERATED = ("train", "valid", "test", "ground_truth", "dataset.json")


def _make_strip(
    rng: np.random.Generator,
    height: int,
    width: int,
    model: CaptureModel,
    *,
    defect_kind: str | None,
    distractors: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One strip ``(4, H, W)`` float32 and, for a defect strip, its bool mask ``(H, W)``."""
    surface = make_surface(rng, height, width)
    ref_deltas = [np.zeros((height, width), np.float32) for _ in range(2)]
    for _ in range(distractors):
        distractor = paint_defect(str(rng.choice(DEFECT_KINDS)), rng, height, width)
        place = str(rng.choice(DISTRACTOR_PLACES))
        if place == "all":
            surface = surface + distractor.delta
        for index, ref in enumerate(("ref1", "ref2")):
            if place in (ref, "both_refs"):
                ref_deltas[index] += distractor.delta
    defect = paint_defect(defect_kind, rng, height, width) if defect_kind else None
    target = capture(surface, rng, model, defect.delta if defect else None)
    ref1 = capture(surface, rng, model, ref_deltas[0])
    ref2 = capture(surface, rng, model, ref_deltas[1])
    roi = np.full((height, width), ROI_INSPECTED, np.float32)
    return np.stack([target, ref1, ref2, roi]), (defect.mask if defect else None)


def _write_mask(path: Path, mask: np.ndarray) -> None:
    import cv2  # demo_defects has already checked that OpenCV is installed

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), mask.astype(np.uint8) * 255):
        msg = f"{path}: OpenCV could not write the mask"
        raise OSError(msg)


def _plan_split(split: str, n_good: int, n_defect: int, categories: Sequence[str], prefix: str) -> list:
    plan = [(f"{split}_good", f"{split}/good", f"{prefix}{i:03d}", i, None) for i in range(n_good)]
    per_category = dict.fromkeys(categories, 0)
    for i in range(n_defect):
        kind = categories[i % len(categories)]  # round robin: every category gets its share
        plan.append((f"{split}_defect", f"{split}/{kind}", f"{prefix}{per_category[kind]:03d}", i, kind))
        per_category[kind] += 1
    return plan


def _plan(
    n_train: int, valid: tuple[int, int], test: tuple[int, int], categories: Sequence[str]
) -> list[tuple]:
    """(split, folder, stem, per-split index, defect kind) for every strip, in writing order.

    valid/ stems start with "v": the two splits share ground_truth/<category>/.
    """
    plan = [("train", "train/good", f"{i:03d}", i, None) for i in range(n_train)]
    plan += _plan_split("test", *test, categories, prefix="")
    return plan + _plan_split("valid", *valid, categories, prefix="v")


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            msg = f"{out_dir}: not empty; pass overwrite=True to replace a generated dataset"
            raise InvalidArgumentError(msg)
        for name in _GENERATED:  # remove only what this generator writes
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def make_demo_dataset(
    out_dir: str | os.PathLike[str],
    *,
    n_train: int = DEMO_COUNTS["train"],
    n_test_good: int = DEMO_COUNTS["test_good"],
    n_test_defect: int = DEMO_COUNTS["test_defect"],
    n_valid_good: int = DEMO_COUNTS["valid_good"],
    n_valid_defect: int = DEMO_COUNTS["valid_defect"],
    height: int = 976,
    width: int = 176,
    seed: int = 0,
    categories: Sequence[str] = ("scratch", "blob", "pit", "smudge", "cluster"),
    compression: str | None = "adobe_deflate",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Writes a procedural strip dataset in the MVTec AD layout.

    The same arguments give byte-identical files. Each strip draws from its own
    generator seeded by ``(seed, split, index)``, so changing ``n_train`` does not
    change the test strips.

    Args:
        out_dir: Dataset root; created if missing, must be empty unless ``overwrite``.
        n_train: Defect-free training strips (``train/good``). 96 rather than a couple of
            dozen: the same training budget spread over more surfaces generalised better to the
            test split's new surfaces (docs/experiments/reference_unet.md, "Seed spread, and
            what 20 test strips can say" and "What limits it").
        n_test_good: Defect-free test strips, each with 1-3 distractors (``test/good``).
        n_test_defect: Defect strips, shared round-robin among ``categories``.
        n_valid_good: Defect-free ``valid/`` strips, distractors like ``test/good``; with
            ``n_valid_defect`` both 0 the dataset has no ``valid/`` and training holds
            strips out of ``train/good`` instead.
        n_valid_defect: Defective ``valid/`` strips, like ``test/``'s but other draws.
        height: Strip rows (production: 976).
        width: Strip columns (production: 176).
        seed: Seed of every random draw.
        categories: Defect kinds, from ``scratch``, ``blob``, ``pit``, ``smudge``, ``cluster``.
        compression: TIFF compression passed to :func:`~defectkit.data.strip_io.write_strip`.
            Deflate with the floating-point predictor keeps the default dataset near 30 MB
            instead of 120 MB (the captures are quantised like a 12-bit sensor); ``None``
            writes uncompressed strips.
        overwrite: Replace the generated folders of an existing dataset in ``out_dir``.
        progress: Show a tqdm progress bar.

    Returns:
        The dataset root.

    Raises:
        InvalidArgumentError: Unknown category, negative count, a strip smaller than
            32 x 32, or a non-empty ``out_dir`` without ``overwrite``.
    """
    from tqdm.auto import tqdm

    unknown = sorted(set(categories) - set(DEFECT_KINDS))
    if unknown or not categories:
        msg = f"unknown defect categories {unknown or list(categories)}; choose from {list(DEFECT_KINDS)}"
        raise InvalidArgumentError(msg)
    counts = (n_train, n_test_good, n_test_defect, n_valid_good, n_valid_defect)
    if min(counts) < 0 or height < 32 or width < 32:
        msg = f"counts must be >= 0 and strips at least 32 x 32, got {height} x {width}"
        raise InvalidArgumentError(msg)
    root = Path(out_dir)
    _prepare(root, overwrite)
    model = CaptureModel()
    plan = _plan(n_train, (n_valid_good, n_valid_defect), (n_test_good, n_test_defect), list(categories))
    for split, folder, stem, index, kind in tqdm(
        plan, desc="demo strips", unit="strip", disable=not progress
    ):
        rng = np.random.default_rng([seed, _SPLIT_SEED[split], index])
        low, high = DISTRACTORS_PER_STRIP[split]
        strip, mask = _make_strip(
            rng, height, width, model, defect_kind=kind, distractors=int(rng.integers(low, high + 1))
        )
        (root / folder).mkdir(parents=True, exist_ok=True)
        write_strip(root / folder / f"{stem}.tif", strip, compression=compression)
        if mask is not None:
            _write_mask(root / "ground_truth" / kind / f"{stem}_mask.png", mask)
    description = {
        "generator": "defectkit.models.reference_unet.data.demo",
        "format_version": DEMO_FORMAT_VERSION,
        "seed": seed,
        "height": height,
        "width": width,
        "channels": ["target", "ref1", "ref2", "roi"],
        "dtype": "float32",
        "scale": "0..255",
        "layout": "channels-first (TIFF planar configuration separate)",
        "compression": compression or "none",
        "counts": {
            "train/good": n_train,
            "valid/good": n_valid_good,
            "valid/defect": n_valid_defect,
            "test/good": n_test_good,
            "test/defect": n_test_defect,
        },
        "categories": {
            kind: sum(1 for p in plan if p[4] == kind and p[0] == "test_defect") for kind in categories
        },
        "surface_kinds": list(SURFACE_KINDS),
        "capture": asdict(model),
        "distractors_per_strip": {split: list(bounds) for split, bounds in DISTRACTORS_PER_STRIP.items()},
        "distractor_places": list(DISTRACTOR_PLACES),
    }
    (root / "dataset.json").write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    logger.info("wrote %d demo strips to %s", len(plan), root)
    return root
