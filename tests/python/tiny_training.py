"""Settings that train a reference_unet in about a second per epoch, for tests."""

from __future__ import annotations

import dataclasses
import pathlib

from defectkit.models.reference_unet.config import ReferenceUNetConfig
from defectkit.models.reference_unet.data.demo import make_demo_dataset
from defectkit.training import TrainConfig

_SHARED = {f.name for f in dataclasses.fields(TrainConfig)}


def write_tiny_dataset(root: pathlib.Path, *, valid: tuple[int, int] = (0, 0)) -> pathlib.Path:
    """Without valid/ by default: training then holds strips out of train/good."""
    make_demo_dataset(
        root,
        n_train=5,
        n_test_good=2,
        n_test_defect=2,
        n_valid_good=valid[0],
        n_valid_defect=valid[1],
        height=192,
        width=64,
        seed=3,
        progress=False,
    )
    return root


def tiny_config(data: pathlib.Path, out: pathlib.Path, **overrides) -> TrainConfig:
    """TrainConfig for the tiny set; ``overrides`` name shared or reference_unet fields alike."""
    values = dict(
        data=str(data),
        out=str(out),
        epochs=3,
        batch_size=4,
        lr=1e-3,
        threads=1,
        seed=11,
        precision="fp32",  # the same arithmetic on every machine
        best_from=0.0,
    )
    own = dict(width=2, patch_size=64, holdout=1)
    for key, value in overrides.items():
        (values if key in _SHARED else own)[key] = value
    return TrainConfig(**values, family_config=ReferenceUNetConfig(**own))


def cli_args(config: TrainConfig) -> list[str]:
    """``defectkit train`` arguments for the tiny settings of ``config``."""
    args = [str(config.data), "--out", str(config.out), "--no-progress"]
    for key in ("epochs", "batch_size", "lr", "threads", "seed", "precision", "best_from"):
        args += [f"--{key.replace('_', '-')}", str(getattr(config, key))]
    for key in ("width", "patch_size", "holdout"):
        args += [f"--{key.replace('_', '-')}", str(getattr(config.family_config, key))]
    return args
