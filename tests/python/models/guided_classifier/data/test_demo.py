"""The demo image generator: the layout it writes, determinism, small subtle defects, speed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from defectkit.errors import InvalidArgumentError
from defectkit.models.guided_classifier.data.check import check_dataset
from defectkit.models.guided_classifier.data.demo import DEMO_COUNTS, make_demo_images
from defectkit.models.guided_classifier.data.demo_surfaces import (
    DEFECT_CONTRAST,
    DEFECT_KINDS,
    DEFECT_SIZE,
    paint_defect,
)
from defectkit.models.guided_classifier.data.images import read_image
from defectkit.models.guided_classifier.data.layout import discover

SMALL = {"num_defect": 4, "num_normal": 3, "val": (2, 1), "test": (1, 2), "size": 48, "progress": False}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_layout_names_and_counts(tmp_path: Path) -> None:
    root = make_demo_images(tmp_path / "demo", **SMALL)
    layout = discover(root)
    assert [(r.name, r.label) for r in layout.train] == [
        *((f"defect_{i:03d}.png", 1) for i in range(1, 5)),
        *((f"normal_{i:03d}.png", 0) for i in range(1, 4)),
    ]
    assert [r.name for r in layout.val] == ["defect_005.png", "defect_006.png", "normal_004.png"]
    assert [r.name for r in layout.test] == ["defect_007.png", "normal_005.png", "normal_006.png"]
    assert all((r.mask_path is not None) == r.is_defect for r in layout.train + layout.val + layout.test)
    description = json.loads((root / "dataset.json").read_text())
    assert description["counts"]["train"] == {"defect": 4, "normal": 3, "masks": 4}
    assert description["seed"] == 0 and description["size"] == 48
    assert sum(description["defect_kinds"].values()) == 7
    report = check_dataset(root)
    assert report.ok and report.warnings == [] and report.image_sizes == {(48, 48): 13}


def test_the_same_seed_writes_the_same_files(tmp_path: Path) -> None:
    first = _files(make_demo_images(tmp_path / "a", **SMALL))
    assert first == _files(make_demo_images(tmp_path / "b", **SMALL))
    other = _files(make_demo_images(tmp_path / "c", **SMALL, seed=1))
    assert other.keys() == first.keys()
    assert other["images/defect_001.png"] != first["images/defect_001.png"]


def test_one_splits_counts_leave_the_other_splits_pixels(tmp_path: Path) -> None:
    base = make_demo_images(tmp_path / "a", **SMALL)
    more = make_demo_images(tmp_path / "b", **(SMALL | {"num_normal": 5}))
    # val's first defect is defect_005 in both (defects number before normals); its pixels match
    np.testing.assert_array_equal(
        read_image(base / "images" / "defect_005.png"), read_image(more / "images" / "defect_005.png")
    )


def test_masks_fraction_drops_training_masks_only(tmp_path: Path) -> None:
    root = make_demo_images(tmp_path / "demo", **(SMALL | {"masks_fraction": 0.5}))
    layout = discover(root)
    assert sum(r.mask_path is not None for r in layout.train if r.is_defect) == 2
    assert all(r.mask_path is not None for r in layout.val + layout.test if r.is_defect)
    assert json.loads((root / "dataset.json").read_text())["counts"]["train"]["masks"] == 2
    none = make_demo_images(tmp_path / "none", **(SMALL | {"masks_fraction": 0.0}))
    assert all(r.mask_path is None for r in discover(none).train)


@pytest.mark.parametrize("fmt", ["jpg", "tif"])
def test_other_formats_are_written_and_read(tmp_path: Path, fmt: str) -> None:
    root = make_demo_images(tmp_path / "demo", **(SMALL | {"fmt": fmt}))
    layout = discover(root)
    assert all(r.path.suffix == f".{fmt}" for r in layout.train)
    assert all(r.mask_path.suffix == ".png" for r in layout.train if r.is_defect)
    assert check_dataset(root).ok


def test_images_come_grey_and_colour(tmp_path: Path) -> None:
    root = make_demo_images(tmp_path / "demo", **(SMALL | {"num_normal": 12}))
    channels = {cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim for p in (root / "images").glob("*.png")}
    assert channels == {2, 3}


def test_a_demo_folder_is_not_overwritten_unless_asked(tmp_path: Path) -> None:
    root = make_demo_images(tmp_path / "demo", **SMALL)
    with pytest.raises(InvalidArgumentError, match="folder is not empty"):
        make_demo_images(root, **SMALL)
    make_demo_images(root, **(SMALL | {"num_defect": 1, "overwrite": True}))
    assert len(discover(root).train) == 4 and not (root / "images" / "defect_007.png").exists()


@pytest.mark.parametrize(
    "change",
    [{"num_defect": -1}, {"val": (1,)}, {"size": 16}, {"fmt": "gif"}, {"masks_fraction": 1.5}],
)
def test_bad_arguments_are_refused(tmp_path: Path, change: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        make_demo_images(tmp_path / "demo", **(SMALL | change))


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_defects_are_small_and_subtle(kind: str) -> None:
    for seed in range(20):
        surface = np.full((128, 128), 128.0, np.float32)
        mask, painted = paint_defect(np.random.default_rng(seed), surface, kind)
        assert painted == kind
        rows, cols = np.nonzero(mask)
        extent = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
        assert DEFECT_SIZE[0] - 1 <= extent <= DEFECT_SIZE[1] + 2, (seed, extent)
        change = np.abs(surface - 128.0)
        assert DEFECT_CONTRAST[0] - 0.01 <= change[mask].max() <= DEFECT_CONTRAST[1] + 0.01
        assert change[~mask].max() <= change[mask].max()  # the softened edge fades outwards


def test_the_default_demo_is_quick_and_its_defects_are_small(tmp_path: Path) -> None:
    start = time.perf_counter()
    root = make_demo_images(tmp_path / "demo", progress=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"the default demo took {elapsed:.1f} s"
    report = check_dataset(root)
    assert report.ok
    for split, (defect, normal) in DEMO_COUNTS.items():
        summary = report.splits[split]
        assert (summary.defect, summary.normal, summary.masks_present) == (defect, normal, defect)
    assert DEMO_COUNTS == {"train": (120, 120), "val": (40, 40), "test": (100, 100)}
    areas = [
        cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(bool).mean() for p in (root / "masks").glob("*.png")
    ]
    # a defect covers a few of 64 patches of 16 x 16 at most: mean pooling dilutes it, mask pooling does not
    assert max(areas) < 0.04 and np.mean(areas) < 0.01
