"""The per-epoch validation pass uses the dataset's valid/ split when there is one."""

from __future__ import annotations

import json
import logging
import pathlib
import shutil

import pytest
import torch

from defectkit.data.layout import discover_dataset
from defectkit.models.reference_unet.evaluation import evaluate_samples
from defectkit.models.reference_unet.validation import held_out_paths
from defectkit.training import load_model, train
from tiny_training import tiny_config


def test_a_valid_split_replaces_the_held_out_strips(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    shutil.copytree(data / "test", data / "valid")  # masks: ground_truth/ serves test/ and valid/
    (data / "valid" / "good" / "001.tif").unlink()  # 3 strips: the held-out fallback gives 4 patches
    layout = discover_dataset(data)
    assert len(layout.valid) == 3 and {s.category for s in layout.valid} == {"good", "blob", "scratch"}
    with caplog.at_level(logging.INFO, logger="defectkit"):
        train(tiny_config(data, tmp_path / "run", epochs=1), progress=False)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    # No train/good strip is held out (holdout is 1 here), and validation ran on valid/'s strips.
    assert f"from {len(layout.train_good)} strips" in caplog.text
    assert "validating on 3 strips from valid/" in caplog.text
    assert row["val_strips"] == 3
    # The AUROCs are the trained model's on valid/'s real strips and masks, computed again here.
    model, info = load_model(tmp_path / "run", "last")
    model = model.to(memory_format=torch.channels_last)  # the layout training validated with
    expected = evaluate_samples(model, layout.valid, info["patch_size"], progress=False)
    assert row["val_image_auroc"] == pytest.approx(expected["image_auroc"], abs=1e-9)
    assert row["val_pixel_auroc"] == pytest.approx(expected["pixel_auroc"], abs=1e-9)


def test_held_out_strips_are_spread_over_train_good() -> None:
    paths = [pathlib.Path(f"{i:03d}.tif") for i in range(10)]
    train, held = held_out_paths(paths, 2)
    assert len(held) == 2 and len(train) == 8 and not set(held) & set(train)
    assert held == [paths[2], paths[7]]  # one from the middle of each half, not the first two
    assert held_out_paths(paths, 0) == (paths, [])
