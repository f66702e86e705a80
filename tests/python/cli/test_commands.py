"""The command line as a user runs it: train, eval, infer, and the errors of each."""

from __future__ import annotations

import csv
import json
import pathlib

import numpy as np
import pytest
import tifffile

from defectkit.cli import main

TINY = [
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--width",
    "2",
    "--patch-size",
    "64",
    "--holdout",
    "1",
    "--threads",
    "1",
    "--no-progress",
]


@pytest.fixture(scope="module")
def tiny_run(tiny_dataset: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", str(tiny_dataset), "--out", str(run), *TINY]) == 0
    return run


def test_eval_writes_the_metrics_json(tiny_run: pathlib.Path, tiny_dataset: pathlib.Path, tmp_path) -> None:
    out = tmp_path / "eval.json"
    assert main(["eval", str(tiny_run), str(tiny_dataset), "--json", str(out), "--no-progress"]) == 0
    result = json.loads(out.read_text())
    assert {"image_auroc", "pixel_auroc", "per_category", "thresholds"} <= set(result)
    assert result["count"] == 4
    assert set(result["thresholds"]) >= {"image", "pixel"}


def test_infer_writes_a_panel_per_strip_and_a_csv(
    tiny_run: pathlib.Path, tiny_dataset: pathlib.Path, tmp_path
) -> None:
    strips = sorted((tiny_dataset / "test").rglob("*.tif"))
    assert (
        main(["infer", str(tiny_run), str(tiny_dataset / "test"), "--out", str(tmp_path), "--no-progress"])
        == 0
    )
    panels = sorted(tmp_path.glob("*.png"))
    assert len(panels) == len(strips)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in panels)
    with (tmp_path / "scores.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["path"] for r in rows) == sorted(map(str, strips))
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)


def test_train_without_train_good_names_the_folder(tmp_path: pathlib.Path, capsys) -> None:
    (tmp_path / "test" / "good").mkdir(parents=True)
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "run"), *TINY]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "train/good" in err


def test_a_strip_smaller_than_a_patch_is_refused_by_name(tmp_path: pathlib.Path, capsys) -> None:
    good = tmp_path / "data" / "train" / "good"
    good.mkdir(parents=True)
    for i in range(3):
        tifffile.imwrite(
            good / f"{i}.tif",
            np.full((4, 48, 40), 100, np.float32),
            photometric="minisblack",
            planarconfig="separate",
        )
    assert main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *TINY]) == 2
    err = capsys.readouterr().err
    assert "0.tif" in err and "64" in err


def test_a_mask_of_the_wrong_size_is_refused_by_name(
    tiny_run, tiny_dataset: pathlib.Path, tmp_path, capsys
) -> None:
    import shutil

    import cv2

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    mask = next((data / "ground_truth").rglob("*.png"))
    cv2.imwrite(str(mask), np.zeros((10, 10), np.uint8))
    assert main(["eval", str(tiny_run), str(data), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert mask.name in err and "10" in err


def test_a_patch_the_unet_cannot_pool_is_refused_before_training(
    tiny_dataset: pathlib.Path, tmp_path, capsys
) -> None:
    assert (
        main(["train", str(tiny_dataset), "--out", str(tmp_path / "run"), *TINY, "--patch-size", "100"]) == 2
    )
    assert "multiple of 32" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_synth_writes_a_valid_split_unless_told_not_to(tmp_path: pathlib.Path) -> None:
    counts = ["--train", "1", "--test-good", "0", "--test-defect", "0"]
    assert main(["synth", str(tmp_path / "a"), *counts, "--valid-good", "1", "--valid-defect", "1"]) == 0
    assert sorted(
        p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a" / "valid").rglob("*.tif")
    ) == [
        "valid/good/v000.tif",
        "valid/scratch/v000.tif",
    ]
    assert (tmp_path / "a" / "ground_truth" / "scratch" / "v000_mask.png").is_file()
    assert main(["synth", str(tmp_path / "b"), *counts, "--valid-good", "0", "--valid-defect", "0"]) == 0
    assert not (tmp_path / "b" / "valid").exists()
