"""Would a heatmap made at half resolution cost accuracy by itself? (#18, before retraining.)

A network whose decoder stops at half resolution (``UNetConfig.head_stride`` 2) upsamples its
defect logit 2x. Before training one, this asks what the coarser output alone costs: it takes
trained full-resolution runs, averages each heatmap's logit over 2 x 2 blocks, upsamples it
back bilinearly, and evaluates the test split both ways (PyTorch sliding window, as
``defectkit eval``). If the half-resolution output loses nothing, a loss of the retrained
network comes from what it computes, not from the resolution of its answer.

    .venv/bin/python experiments/reference_unet/half_resolution_output.py \\
        bench_out/demo_seeds_amd/bf16-seed0/reference_unet bench_out/demo_seeds_amd/bf16-seed1/reference_unet
"""

from __future__ import annotations

import argparse
import json
import pathlib

import torch
import torch.nn.functional as F

from defectkit.models.reference_unet.evaluation import evaluate_run
from defectkit.training import load_model


class HalfResolution(torch.nn.Module):
    """A trained network's heatmap, its logit averaged over 2 x 2 blocks and upsampled back."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def defect_probability(self, x: torch.Tensor) -> torch.Tensor:
        logit = torch.logit(self.network.defect_probability(x).clamp(1e-6, 1 - 1e-6))
        coarse = F.avg_pool2d(logit, 2)
        return torch.sigmoid(F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demos", type=pathlib.Path, nargs="+", help="demo folders holding run/ and data/")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for demo in args.demos:
        model, info = load_model(demo / "run")
        model.eval()
        full = json.loads((demo / "run" / "eval.json").read_text())
        half = evaluate_run(HalfResolution(model), demo / "data", info["patch_size"], progress=False)
        print(
            f"{demo}: full resolution image AUROC {full['image_auroc']:.4f}, "
            f"pixel {full['pixel_auroc']:.4f}; "
            f"half-resolution output image {half['image_auroc']:.4f}, pixel {half['pixel_auroc']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
