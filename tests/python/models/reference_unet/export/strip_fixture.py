"""The model every export, parity and INT8 test runs: outputs that vary and depend on context.

A width-4 reference UNet with seeded random weights, its batch-norm statistics
fitted on the fixture's training strips (so activations are neither dead nor
exploding) and its classifier scaled so the defect probability spans 0..1: on
each strip the heatmap's standard deviation is about 0.2, and every pixel sees
a neighbourhood of tens of pixels. It was never trained: the tests ask whether
backends compute the same thing, and a constant output, a swapped tile, a
wrong input scale or channel order, or another model's INT8 graph change this
model's heatmap far beyond the tolerances. Strips of 160 x 96 with 64-pixel
patches are tiled 3 x 2, so tiling is exercised along both axes.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import torch

from defectkit.data.layout import discover_dataset
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.models.reference_unet import ReferenceUNet, UNetConfig
from defectkit.models.reference_unet.config import ReferenceUNetConfig
from defectkit.models.reference_unet.data.demo import make_demo_dataset
from defectkit.training import TrainConfig
from defectkit.training.checkpoint import save_model_run

PATCH = 64
# Heatmap max |diff| between two float32 computations of this network that should agree (another
# batch composition, another library): observed up to 1.1e-4, from batch norms over small variances.
TORCH_PARITY = 5e-4
SPREAD = 1.0  # std of the defect-minus-background logit over the training strips
HEIGHT, WIDTH = 160, 96


@dataclasses.dataclass(frozen=True)
class FixtureRun:
    data: pathlib.Path
    run: pathlib.Path

    @property
    def test_paths(self) -> list[pathlib.Path]:
        return [s.path for s in discover_dataset(self.data).test]


def write_fixture_dataset(root: pathlib.Path) -> pathlib.Path:
    return make_demo_dataset(
        root,
        n_train=6,
        n_test_good=2,
        n_test_defect=3,
        n_valid_good=6,
        n_valid_defect=6,
        height=HEIGHT,
        width=WIDTH,
        seed=5,
        progress=False,
    )


def fixture_network(data: pathlib.Path, seed: int = 5, fusion: str = "stack", **shape: int) -> ReferenceUNet:
    """The random network, batch-norm fitted on ``data``'s training strips, logits scaled to std 2;
    ``shape``: other ``UNetConfig`` fields (``input_stride``, ``head_stride``, ``readout``)."""
    torch.manual_seed(seed)
    network = ReferenceUNet(UNetConfig(width=4, fusion=fusion, **shape))
    strips = [read_strip_tifffile(p)[:3] / 255.0 for p in discover_dataset(data).train_good]
    x = torch.from_numpy(np.stack([s[:, : PATCH * 2, :PATCH] for s in strips])).float()  # (6, 3, 128, 64)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the one fitting pass
    network.train()
    with torch.no_grad():
        network(x)
        network.eval()
        logits = network.logits(x)
        spread = (logits[:, 1] - logits[:, 0]).std()
        for classifier in (network.decoder_segment.fin_out[0], getattr(network, "readout", None)):
            if classifier is not None:  # the readout adds to the logits (UNetConfig.readout)
                classifier.weight *= SPREAD / spread
                classifier.bias *= SPREAD / spread
    return network


def write_fixture_run(
    root: pathlib.Path, data: pathlib.Path, seed: int = 5, fusion: str = "stack", **shape: int
) -> FixtureRun:
    network = fixture_network(data, seed, fusion, **shape)
    config = TrainConfig(
        data=str(data),
        out=str(root),
        seed=seed,
        epochs=1,
        family_config=ReferenceUNetConfig(width=4, fusion=fusion, patch_size=PATCH, holdout=1, **shape),
    )
    note = f"random weights (seed {seed}), batch norm fitted, logits scaled"
    save_model_run(root, network, config, {"patch_size": PATCH}, note)
    return FixtureRun(data, root)
