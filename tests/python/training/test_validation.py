"""The per-epoch validation pass uses the dataset's valid/ split when there is one."""

from __future__ import annotations

import json
import math
import pathlib
import shutil

from defectkit.data.layout import discover_dataset
from defectkit.training import train
from defectkit.training.validation import held_out_paths
from tiny_training import tiny_config


def test_a_valid_split_replaces_the_held_out_strips(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    shutil.copytree(data / "test", data / "valid")
    assert discover_dataset(data).valid
    train(tiny_config(data, tmp_path / "run", epochs=1), progress=False)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    # Real strips with masks: two defective, two good, so both AUROCs are defined.
    assert math.isfinite(row["val_image_auroc"]) and math.isfinite(row["val_pixel_auroc"])


def test_held_out_strips_are_spread_over_train_good() -> None:
    paths = [pathlib.Path(f"{i:03d}.tif") for i in range(10)]
    train, held = held_out_paths(paths, 2)
    assert len(held) == 2 and len(train) == 8 and not set(held) & set(train)
    assert held == [paths[2], paths[7]]  # one from the middle of each half, not the first two
    assert held_out_paths(paths, 0) == (paths, [])
