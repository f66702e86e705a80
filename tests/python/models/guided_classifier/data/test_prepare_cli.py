"""``defectkit prepare`` end to end: organize -> check -> the dataset reads it; dummy; check's exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from defectkit.cli import main
from defectkit.cli.prepare import _DEMO_COUNTS
from defectkit.models.guided_classifier.data.dataset import ImageDataset
from defectkit.models.guided_classifier.data.demo import DEMO_COUNTS
from defectkit.models.guided_classifier.data.layout import discover

from .helpers import image_for, square_mask, write_image


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A user's folders: 6 defect images (mixed formats) with masks of mixed naming, 9 normal images."""
    folder = tmp_path / "raw"
    for i in range(6):
        suffix = (".jpg", ".png", ".tif")[i % 3]
        write_image(folder / "defects" / f"scan{i:02d}{suffix}", image_for(f"d{i}", (30, 40)))
    write_image(folder / "masks" / "scan00.png", square_mask((30, 40)))  # same size
    write_image(folder / "masks" / "scan01_mask.png", square_mask((15, 20), 2, 3, 4))  # half size, _mask
    tifffile.imwrite(folder / "masks" / "scan02.tif", square_mask((30, 40)))  # TIFF mask
    write_image(folder / "masks" / "scan03.jpg", square_mask((30, 40)))  # JPEG mask
    write_image(folder / "masks" / "orphan.png", square_mask((30, 40)))  # matches nothing
    # scan04 and scan05 have no mask
    for i in range(9):
        write_image(folder / "normals" / f"ok_{i}.PNG", image_for(f"n{i}", (30, 40)))
    (folder / "normals" / "notes.txt").write_text("not an image")
    return folder


def _organize(sources: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "prepare",
            "organize",
            "--defect_images",  # the users' underscore spelling
            str(sources / "defects"),
            "--defect-masks",
            str(sources / "masks"),
            "--normal-images",
            str(sources / "normals"),
            "--output_dir",
            str(out),
            "--no-progress",
            *extra,
        ]
    )


def test_organize_then_check_then_the_dataset_reads_it(sources: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "data"
    code = _organize(
        sources, out, "--val-fraction", "0.34", "--test_fraction", "0.2", "--seed", "3", "--check_data"
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 defect images without a mask (segmentation loss skipped): scan04.png, scan05.tif" in printed
    assert "1 masks that match no defect image (not used): orphan.png" in printed
    assert printed.rstrip().endswith("OK")  # the check ran after organizing
    images = sorted(p.name for p in (out / "images").iterdir())
    assert images == [
        "defect_001.jpg",
        "defect_002.png",
        "defect_003.tif",
        "defect_004.jpg",
        "defect_005.png",
        "defect_006.tif",
        *(f"normal_{i:03d}.png" for i in range(1, 10)),  # extensions kept, lower case
    ]
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"defect_00{i}.png" for i in range(1, 5)]
    for i in range(1, 5):  # binary PNGs at the image's size
        mask = cv2.imread(str(out / "masks" / f"defect_00{i}.png"), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (30, 40) and set(np.unique(mask)) == {0, 255}
    layout = discover(out)
    splits = {name: layout.split(name) for name in ("train", "val", "test")}
    counts = {
        name: (sum(r.is_defect for r in recs), sum(not r.is_defect for r in recs))
        for name, recs in splits.items()
    }
    # per class: test round(n * 0.2), val round(n * 0.34), the rest train
    assert counts == {"train": (3, 4), "val": (2, 3), "test": (1, 2)}
    with (out / "sources.csv").open() as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    assert rows["defect_002.png"]["source_image"].endswith("scan01.png")
    assert rows["defect_002.png"]["source_mask"].endswith("scan01_mask.png")
    assert rows["defect_005.png"]["source_mask"] == ""
    np.testing.assert_array_equal(
        cv2.imread(str(out / "images" / "defect_002.png")),
        cv2.imread(str(sources / "defects" / "scan01.png")),
    )
    dataset = ImageDataset(layout.train, 32, augment="flip+rotate", balanced=True)
    items = [dataset[i] for i in range(len(dataset))]
    assert len(items) == 8 and all(item[0].shape == (3, 32, 32) for item in items)


def test_the_same_seed_splits_the_same_way_and_link_mode_links(sources: Path, tmp_path: Path) -> None:
    assert _organize(sources, tmp_path / "a", "--seed", "1") == 0
    assert _organize(sources, tmp_path / "b", "--seed", "1", "--link") == 0
    for name in ("train_labels.txt", "val_labels.txt"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    assert not (tmp_path / "a" / "test_labels.txt").exists()  # test fraction 0: no test split
    linked = tmp_path / "b" / "images" / "defect_001.jpg"
    assert linked.is_symlink() and linked.resolve() == (sources / "defects" / "scan00.jpg").resolve()


def test_organize_refuses_a_non_empty_output_or_bad_fractions(sources: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert _organize(sources, tmp_path / "full") == 2
    assert "output folder exists and is not empty" in capsys.readouterr().err
    assert _organize(sources, tmp_path / "new", "--val-fraction", "0.6", "--test-fraction", "0.5") == 2
    assert "sum to less than 1" in capsys.readouterr().err


def test_check_exits_1_and_lists_every_problem(tmp_path: Path, capsys) -> None:
    root = tmp_path / "demo"
    counts = ["--num-defect", "3", "--num_normal", "2", "--val", "1", "1", "--test", "0", "0"]
    assert (
        main(["prepare", "dummy", *counts, "--size", "40", "--output-dir", str(root), "--no-progress"]) == 0
    )
    assert main(["prepare", "check", str(root), "--json", str(tmp_path / "report.json")]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["ok"] is True
    with (root / "train_labels.txt").open("a") as handle:
        handle.write("missing.png,1\nnormal_001.png,3\n")
    (root / "images" / "defect_002.png").write_bytes(b"")
    capsys.readouterr()
    assert main(["prepare", "check_data", str(root), "--no-progress"]) == 1
    printed = capsys.readouterr().out
    train = root / "train_labels.txt"
    assert f"{train}:2: {root / 'images' / 'defect_002.png'}: empty file" in printed
    assert f"{train}:6: image {root / 'images' / 'missing.png'} not found" in printed
    assert f"{train}:7: unknown label '3'" in printed
    assert printed.rstrip().endswith("3 problems")


def test_dummy_writes_the_demo_and_its_defaults_are_the_demo_counts(tmp_path: Path, capsys) -> None:
    assert _DEMO_COUNTS == DEMO_COUNTS
    out = tmp_path / "demo"
    args = ["prepare", "dummy", "--num-defect", "2", "--num-normal", "2", "--output-dir", str(out)]
    assert main([*args, "--size", "32", "--seed", "4", "--format", "jpg", "--masks_fraction", "0.5"]) == 0
    layout = discover(out)
    assert [r.name for r in layout.train] == [
        "defect_001.jpg",
        "defect_002.jpg",
        "normal_001.jpg",
        "normal_002.jpg",
    ]
    assert sum(r.mask_path is not None for r in layout.train) == 1
    assert (len(layout.val), len(layout.test)) == (80, 200)
    assert main([*args, "--size", "32", "--check-data"]) == 2  # not empty without --overwrite
    assert main([*args, "--size", "32", "--overwrite", "--check-data", "--no-progress"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("OK")
