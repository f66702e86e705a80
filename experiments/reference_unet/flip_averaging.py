"""Would averaging a model's heatmaps over flipped inputs (test-time augmentation) rank strips better?

    .venv/bin/python experiments/reference_unet/flip_averaging.py RUN [RUN ...] --data DATA [--threads 2]

Each test strip of ``--data`` goes through the run's model as it is, with its two references
swapped, flipped left-right and flipped upside down (each heatmap turned back); the heatmaps
of a combination are averaged, scored as ``defectkit eval`` scores them, and the image and
pixel AUROC and the good strips above the weakest defect are printed per combination. Every
extra view costs one more inference per strip, so a gain must pay for that.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import torch

from defectkit.data.layout import discover_dataset
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.evaluation.metrics import auroc, pixel_auroc
from defectkit.models.reference_unet.sliding_window import image_score, sliding_window_heatmap
from defectkit.training import load_model

COMBINATIONS = (
    ("plain",),
    ("plain", "swap"),
    ("plain", "hflip"),
    ("plain", "vflip"),
    ("plain", "hflip", "vflip"),
)


def view(strip: np.ndarray, name: str) -> np.ndarray:
    """The strip (C, H, W) as the model sees it in view ``name``; flips are their own inverse."""
    if name == "swap":
        return strip[[0, 2, 1]]
    if name == "hflip":
        return np.ascontiguousarray(strip[..., ::-1])
    if name == "vflip":
        return np.ascontiguousarray(strip[..., ::-1, :])
    return strip


def heatmap_back(heatmap: np.ndarray, name: str) -> np.ndarray:
    """A view's (H, W) heatmap in the strip's own orientation."""
    return view(heatmap[None], name)[0] if name in ("hflip", "vflip") else heatmap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=pathlib.Path, help="run folders (best.pt) or checkpoints")
    parser.add_argument("--data", type=pathlib.Path, required=True, help="MVTec-layout dataset (test split)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    samples = discover_dataset(args.data).test
    strips = [read_strip_tifffile(s.path)[:3] / 255.0 for s in samples]
    labels = np.array([int(s.category != "good") for s in samples])
    masks = [s.ground_truth(strip.shape) for s, strip in zip(samples, strips, strict=True)]
    names = sorted({name for combination in COMBINATIONS for name in combination})
    for run in args.runs:
        model, info = load_model(run)
        model.eval()
        heatmaps = {name: [] for name in names}
        for strip in strips:
            for name in names:
                heatmap = sliding_window_heatmap(model, view(strip, name), patch=info["patch_size"])
                heatmaps[name].append(heatmap_back(heatmap, name))
        for combination in COMBINATIONS:
            averaged = [np.mean([heatmaps[n][i] for n in combination], axis=0) for i in range(len(strips))]
            scores = np.array([image_score(h) for h in averaged])
            pixel = pixel_auroc(masks, averaged)
            above = int((scores[labels == 0] > scores[labels == 1].min()).sum())
            print(
                f"{run} {'+'.join(combination)}: image AUROC {auroc(labels, scores):.4f}, "
                f"pixel AUROC {pixel:.4f}, good above the weakest defect {above}/{int((labels == 0).sum())}",
                flush=True,
            )


if __name__ == "__main__":
    main()
