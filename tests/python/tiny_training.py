"""Settings that train a reference_unet in about a second per epoch, for tests."""

from __future__ import annotations

import pathlib

from defectkit.data.demo import make_demo_dataset
from defectkit.training import TrainConfig


def write_tiny_dataset(root: pathlib.Path) -> pathlib.Path:
    make_demo_dataset(
        root, n_train=5, n_test_good=2, n_test_defect=2, height=192, width=64, seed=3, progress=False
    )
    return root


def tiny_config(data: pathlib.Path, out: pathlib.Path, **overrides) -> TrainConfig:
    values = dict(
        data=str(data),
        out=str(out),
        epochs=3,
        batch_size=4,
        lr=1e-3,
        width=2,
        patch_size=64,
        holdout=1,
        threads=1,
        seed=11,
    )
    values.update(overrides)
    return TrainConfig(**values)
