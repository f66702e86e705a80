"""The guided_classifier layout: reading label files, and every refusal naming its file and line."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from defectkit.errors import BadFileError, FileMissingError, InvalidArgumentError
from defectkit.models.guided_classifier.data.layout import discover, read_split

from .helpers import image_for, small_dataset, square_mask, write_image


def test_read_split_lists_images_labels_masks_and_their_lines(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    records = read_split(root, "train")
    assert [(r.name, r.label) for r in records] == [
        ("defect_001.png", 1),
        ("defect_002.png", 1),
        ("normal_001.png", 0),
        ("normal_002.png", 0),
        ("normal_003.png", 0),
    ]
    assert records[0].path == root / "images" / "defect_001.png"
    assert records[0].mask_path == root / "masks" / "defect_001.png"
    assert records[1].mask_path is None  # a defect image without a mask is accepted
    assert all(r.mask_path is None for r in records[2:])
    assert [r.source for r in records] == [(root / "train_labels.txt", n) for n in range(1, 6)]
    assert records[0].is_defect and not records[2].is_defect
    assert records[3].where == f"{root / 'train_labels.txt'}:4"
    assert [r.name for r in read_split(root, "val")] == ["defect_003.png", "normal_004.png"]


def test_a_missing_test_labels_file_is_an_empty_test_split(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    assert read_split(root, "test") == []
    layout = discover(root)
    assert (len(layout.train), len(layout.val), layout.test) == (5, 2, [])
    assert layout.split("val") == layout.val


def test_test_labels_file_is_read_when_present(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    write_image(root / "images" / "normal_009.jpg", image_for("n9"))
    (root / "test_labels.txt").write_text("normal_009.jpg,0\n")
    assert [r.name for r in discover(root).test] == ["normal_009.jpg"]


def test_blank_lines_comments_spaces_and_a_byte_order_mark_are_allowed(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    text = "\ufeff# name,label\n\n  defect_001.png , 1  \n\t\n# another comment\nnormal_001.png,0\n"
    (root / "train_labels.txt").write_text(text, encoding="utf-8")
    records = read_split(root, "train")
    assert [(r.name, r.label, r.source[1]) for r in records] == [
        ("defect_001.png", 1, 3),
        ("normal_001.png", 0, 6),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("defect_001.png", "malformed line 'defect_001.png'"),
        ("defect_001.png,1,extra", "malformed line"),
        (",1", "malformed line"),
        ("defect_001.png;1", "malformed line"),
        ("sub/defect_001.png,1", "must be a file name in images/"),
        ("..,1", "must be a file name in images/"),
        ("defect_001.png,2", "unknown label '2' for defect_001.png"),
        ("defect_001.png,1.0", "unknown label '1.0'"),
        ("defect_001.png,defect", "unknown label 'defect'"),
        ("defect_001.png,", "unknown label ''"),
    ],
)
def test_a_bad_line_is_refused_naming_the_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    root = small_dataset(tmp_path)
    (root / "train_labels.txt").write_text(f"normal_001.png,0\n# comment\n{line}\n")
    with pytest.raises(
        BadFileError, match=re.escape(f"{root / 'train_labels.txt'}:3: ") + ".*" + re.escape(expected)
    ):
        read_split(root, "train")


def test_a_listed_image_that_is_missing_is_refused(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    (root / "val_labels.txt").write_text("normal_004.png,0\nghost.png,1\n")
    with pytest.raises(
        FileMissingError, match=re.escape(f"{root / 'val_labels.txt'}:2: image ") + ".*ghost.png"
    ):
        read_split(root, "val")


def test_a_name_listed_twice_in_a_split_is_refused(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    (root / "train_labels.txt").write_text("normal_001.png,0\ndefect_001.png,1\nnormal_001.png,0\n")
    expected = f"{root / 'train_labels.txt'}:3: normal_001.png is listed twice in this file (first at line 1)"
    with pytest.raises(BadFileError, match=re.escape(expected)):
        read_split(root, "train")


def test_an_image_in_two_splits_is_refused_as_leakage(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    (root / "test_labels.txt").write_text("normal_004.png,0\n\ndefect_001.png,1\n")
    with pytest.raises(BadFileError) as refused:
        discover(root)
    message = str(refused.value)
    assert message.startswith(f"{root / 'test_labels.txt'}:1: normal_004.png is also in the val split")
    assert f"{root / 'val_labels.txt'}:2" in message
    assert (
        "(+1 more; `defectkit prepare check` lists all)" in message
    )  # defect_001.png, also in train, is the second


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_missing_train_or_val_labels_file_is_refused_by_name(tmp_path: Path, split: str) -> None:
    root = small_dataset(tmp_path)
    (root / f"{split}_labels.txt").unlink()
    with pytest.raises(
        FileMissingError, match=re.escape(f"{root / f'{split}_labels.txt'}: labels file not found")
    ):
        read_split(root, split)
    with pytest.raises(FileMissingError, match=f"{split}_labels.txt"):
        discover(root)


def test_a_missing_dataset_or_images_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError, match="dataset folder not found"):
        read_split(tmp_path / "nowhere", "train")
    (tmp_path / "train_labels.txt").write_text("a.png,0\n")
    with pytest.raises(FileMissingError, match=re.escape(f"{tmp_path / 'images'}: images folder not found")):
        read_split(tmp_path, "train")


def test_a_labels_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    root = small_dataset(tmp_path)
    (root / "train_labels.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BadFileError, match=re.escape(f"{root / 'train_labels.txt'}: not UTF-8 text")):
        read_split(root, "train")


def test_a_mask_of_a_normal_image_is_ignored_with_a_warning(tmp_path: Path, caplog) -> None:
    root = small_dataset(tmp_path)
    write_image(root / "masks" / "normal_002.png", square_mask((24, 32)))
    with caplog.at_level(logging.WARNING, logger="defectkit"):
        records = read_split(root, "train")
    normal = next(r for r in records if r.name == "normal_002.png")
    assert normal.mask_path is None
    expected = f"{root / 'train_labels.txt'}:4: normal_002.png is labelled 0 (normal) but has a mask"
    assert any(expected in message for message in caplog.messages)


def test_an_unknown_split_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown split 'valid'"):
        read_split(small_dataset(tmp_path), "valid")
