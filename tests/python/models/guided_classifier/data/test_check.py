"""check_dataset: counts, sizes, masks, and every problem of a dataset in one report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from defectkit.errors import BadFileError, FileMissingError
from defectkit.models.guided_classifier.data.check import check_dataset

from .helpers import image_for, small_dataset, square_mask, write_image


def test_a_clean_dataset_reports_counts_masks_and_sizes(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    write_image(root / "images" / "big.png", image_for("big", (40, 50)))
    (root / "test_labels.txt").write_text("big.png,0\n")
    write_image(root / "masks" / "defect_003.png", square_mask((12, 16)))  # half size: resized when read
    report = check_dataset(root)
    assert report.ok and report.problems == [] and report.warnings == []
    train, val, test = (report.splits[s] for s in ("train", "val", "test"))
    assert (train.normal, train.defect, train.masks_present, train.masks_missing) == (
        3,
        2,
        1,
        ["defect_002.png"],
    )
    assert (val.normal, val.defect, val.masks_present, val.masks_missing) == (1, 1, 1, [])
    assert (test.normal, test.defect) == (1, 0)
    assert report.image_sizes == {(24, 32): 7, (40, 50): 1}
    assert report.masks_resized == 1
    text = report.format()
    assert "train: 1 defect images without a mask" in text and "defect_002.png" in text
    assert "24x32 (7)" in text and text.endswith("OK")
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["ok"] is True and as_json["image_sizes"] == {"24x32": 7, "40x50": 1}


def test_every_problem_is_collected_with_its_file_and_line(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    train = root / "train_labels.txt"
    train.write_text(
        "defect_001.png,1\n"  # 1: fine
        "defect_002.png\n"  # 2: malformed
        "normal_001.png,7\n"  # 3: unknown label
        "ghost.png,0\n"  # 4: missing
        "defect_001.png,1\n"  # 5: duplicate
        "normal_002.png,0\n"  # 6: image that does not decode
        "normal_003.png,0\n"  # 7: in val too
        "defect_009.png,1\n"  # 8: mask that does not decode
    )
    (root / "images" / "normal_002.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    write_image(root / "images" / "defect_009.png", image_for("d9"))
    (root / "masks" / "defect_009.png").write_bytes(b"")
    (root / "val_labels.txt").write_text("normal_003.png,0\n")
    write_image(root / "masks" / "normal_001.png", square_mask((24, 32)))  # a normal image's mask
    write_image(root / "masks" / "stray.png", square_mask((24, 32)))  # matches no image
    write_image(root / "masks" / "defect_001.tif", square_mask((24, 32)))  # not a .png
    write_image(root / "images" / "unlisted.png", image_for("u"))
    report = check_dataset(root)
    assert not report.ok
    found = {(p.line, p.error) for p in report.problems}
    assert found == {
        (2, BadFileError),
        (3, BadFileError),
        (4, FileMissingError),
        (5, BadFileError),
        (6, BadFileError),
        (8, BadFileError),
        (1, BadFileError),  # val_labels.txt:1, the leak
    }
    messages = [str(p) for p in report.problems]
    assert messages[0].startswith(f"{train}:2: malformed line")
    assert any(m.startswith(f"{train}:6: {root / 'images' / 'normal_002.png'}: ") for m in messages)
    assert any(m.startswith(f"{train}:8: {root / 'masks' / 'defect_009.png'}: empty file") for m in messages)
    assert any(
        m.startswith(f"{root / 'val_labels.txt'}:1: normal_003.png is also in the train split")
        for m in messages
    )
    warnings = "\n".join(str(w) for w in report.warnings)
    assert "normal_001.png is labelled 0 (normal) but has a mask" not in warnings  # its line was refused
    assert f"{root / 'masks' / 'stray.png'}: matches no image" in warnings
    assert f"{root / 'masks' / 'defect_001.tif'}: not used" in warnings
    assert "unlisted.png" in report.unlisted_images
    assert report.format().endswith(f"{len(report.problems)} problems")


def test_a_defect_mask_without_defect_pixels_is_a_warning(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    write_image(root / "masks" / "defect_001.png", np.full((24, 32), 100, np.uint8))  # all below 128
    report = check_dataset(root)
    assert report.ok
    assert [w.line for w in report.warnings] == [1]
    assert "has no defect pixel" in str(report.warnings[0])


def test_a_missing_folder_or_labels_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    report = check_dataset(tmp_path / "nowhere")
    assert [str(p) for p in report.problems] == [f"{tmp_path / 'nowhere'}: dataset folder not found"]
    root = small_dataset(tmp_path / "data")
    (root / "val_labels.txt").unlink()
    report = check_dataset(root)
    assert [p.error for p in report.problems] == [FileMissingError]
    assert "val_labels.txt: labels file not found" in str(report.problems[0])
    assert report.splits["train"].normal == 3  # the rest is still counted
