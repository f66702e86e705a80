"""MVTec-layout discovery and ground-truth masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from defectkit.data.layout import discover_dataset, read_mask
from defectkit.errors import BadFileError, FileMissingError


def _image(path: Path, shape: tuple[int, int] = (40, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(
        path, np.zeros((3, *shape), np.float32), photometric="minisblack", planarconfig="separate"
    )
    return path


def _png_mask(path: Path, shape: tuple[int, int] = (40, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros(shape, np.uint8)
    mask[5:9, 3:6] = 255
    cv2.imwrite(str(path), mask)
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    _image(root / "train" / "good" / "b.tif")
    _image(root / "train" / "good" / "a.tiff")
    (root / "train" / "good" / "notes.txt").touch()  # not an image: ignored
    _image(root / "test" / "good" / "g1.tif")
    _image(root / "test" / "scratch" / "s1.tif")
    _png_mask(root / "ground_truth" / "scratch" / "s1_mask.png")
    _image(root / "test" / "dent" / "d1.tif")
    gt = root / "ground_truth" / "dent" / "d1.tif"  # a mask carrying the image's own stem, as TIFF
    gt.parent.mkdir(parents=True)
    tifffile.imwrite(gt, np.ones((40, 20), np.uint8))
    return root


def test_discovers_train_and_test_with_masks(dataset: Path) -> None:
    layout = discover_dataset(dataset)
    assert [p.name for p in layout.train_good] == ["a.tiff", "b.tif"]
    assert layout.valid is None
    by_name = {s.path.name: s for s in layout.test}
    assert [s.path.name for s in layout.test] == ["d1.tif", "g1.tif", "s1.tif"]  # categories sorted
    assert by_name["g1.tif"].mask_path is None and not by_name["g1.tif"].is_defective
    assert by_name["s1.tif"].mask_path == dataset / "ground_truth" / "scratch" / "s1_mask.png"
    assert by_name["d1.tif"].mask_path == dataset / "ground_truth" / "dent" / "d1.tif"
    assert layout.categories == ["dent", "good", "scratch"]


def test_valid_split_has_the_structure_of_test(dataset: Path) -> None:
    _image(dataset / "valid" / "good" / "v1.tif")
    _image(dataset / "valid" / "scratch" / "v2.tif")
    _png_mask(dataset / "ground_truth" / "scratch" / "v2_mask.png")
    layout = discover_dataset(dataset)
    assert layout.valid is not None
    assert [(s.path.name, s.category, s.mask_path is not None) for s in layout.valid] == [
        ("v1.tif", "good", False),
        ("v2.tif", "scratch", True),
    ]


def test_folder_without_train_good_is_refused(tmp_path: Path) -> None:
    (tmp_path / "test" / "good").mkdir(parents=True)
    with pytest.raises(BadFileError, match="has no train/good folder") as info:
        discover_dataset(tmp_path)
    assert str(info.value).startswith(str(tmp_path))
    assert "MVTec" in str(info.value)
    with pytest.raises(FileMissingError):
        discover_dataset(tmp_path / "nowhere")


def test_empty_train_good_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train" / "good").mkdir(parents=True)
    with pytest.raises(BadFileError, match=r"no \.tif/\.tiff images") as info:
        discover_dataset(tmp_path)
    assert str(info.value).startswith(str(tmp_path / "train" / "good"))


def test_defect_image_without_mask_names_the_image(dataset: Path) -> None:
    orphan = _image(dataset / "test" / "scratch" / "s2.tif")
    with pytest.raises(BadFileError, match="has no mask") as info:
        discover_dataset(dataset)
    assert str(info.value).startswith(str(orphan))


def test_read_mask_png_and_tiff(dataset: Path) -> None:
    mask = read_mask(dataset / "ground_truth" / "scratch" / "s1_mask.png", (3, 40, 20))
    assert mask.dtype == bool and mask.shape == (40, 20)
    assert mask.sum() == 12 and mask[5:9, 3:6].all()
    assert read_mask(dataset / "ground_truth" / "dent" / "d1.tif", (40, 20)).all()
    color = dataset / "color_mask.png"
    cv2.imwrite(str(color), np.dstack([np.zeros((40, 20), np.uint8)] * 2 + [np.eye(40, 20, dtype=np.uint8)]))
    assert read_mask(color, (40, 20)).sum() == 20


def test_mask_size_mismatch_names_both_files_and_sizes(tmp_path: Path) -> None:
    mask = _png_mask(tmp_path / "m_mask.png", (30, 20))
    image = tmp_path / "m.tif"
    with pytest.raises(BadFileError) as info:
        read_mask(mask, (3, 40, 20), image_path=image)
    message = str(info.value)
    assert message.startswith(str(mask))
    assert str(image) in message and "30x20" in message and "40x20" in message
    with pytest.raises(FileMissingError):
        read_mask(tmp_path / "absent.png", (40, 20))
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not a png")
    with pytest.raises(BadFileError, match="cannot read mask"):
        read_mask(garbage, (40, 20))
