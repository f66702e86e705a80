"""Does a trained reference_unet tell *which* capture holds an anomaly, on surfaces it never saw?

    .venv/bin/python experiments/reference_unet/surface_generalisation.py RUN \\
        --seen DATA/train/good --unseen OTHER/train/good [--kinds blob,cluster,smudge] [--strips 12]

For each of ``--strips`` strips of a folder, one demo-generator anomaly of each kind
(``defectkit.models.reference_unet.data.demo_defects``, the test split's shapes) is added once to the target
only (a defect) and once to both references (a good strip), and the heatmap maximum
around it is taken. The report per folder and kind: the median of each, and the share of
(defect, good) pairs ranked right, which is the image AUROC of that sub-problem. Run it
with ``--seen`` = the run's training strips and ``--unseen`` = strips of another dataset
seed (``defectkit synth OTHER --seed 1``): a gap between the two says the network judges
which capture is anomalous from the surfaces it knows, not from what it sees.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import torch

from defectkit.data.strip_io import read_strip_tifffile
from defectkit.models.reference_unet.data.demo_defects import DEFECT_KINDS, paint_defect
from defectkit.models.reference_unet.sliding_window import sliding_window_heatmap
from defectkit.training import load_model

MARGIN_PX = 8  # around the anomaly's mask, where its heatmap maximum is taken


def peak_near(model, patch: int, strip: np.ndarray, delta: np.ndarray, mask: np.ndarray, channels) -> float:
    """The heatmap maximum around ``mask`` after adding ``delta`` to ``channels`` of a (3, H, W) strip."""
    captures = strip.copy()
    for channel in channels:
        captures[channel] += delta
    heatmap = sliding_window_heatmap(model, np.clip(captures, 0, 255) / 255.0, patch=patch)
    ys, xs = np.nonzero(mask)
    top, left = max(ys.min() - MARGIN_PX, 0), max(xs.min() - MARGIN_PX, 0)
    return float(heatmap[top : ys.max() + MARGIN_PX + 1, left : xs.max() + MARGIN_PX + 1].max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=pathlib.Path, help="run folder (best.pt) or checkpoint")
    parser.add_argument("--seen", type=pathlib.Path, required=True, help="the run's training strips")
    parser.add_argument("--unseen", type=pathlib.Path, required=True, help="strips it never trained on")
    parser.add_argument("--kinds", default="blob,cluster,smudge", help=f"from {', '.join(DEFECT_KINDS)}")
    parser.add_argument("--strips", type=int, default=12, help="strips per folder (the first, by name)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, info = load_model(args.run)
    print(f"{args.run}: {args.strips} strips per folder, anomaly k drawn from default_rng([k, 99])")
    for label, folder in (("seen", args.seen), ("unseen", args.unseen)):
        paths = sorted(folder.glob("*.tif"))[: args.strips]
        for kind in args.kinds.split(","):
            defect, good = [], []
            for k, path in enumerate(paths):
                strip = read_strip_tifffile(path)[:3].astype(np.float32)
                anomaly = paint_defect(kind, np.random.default_rng([k, 99]), *strip.shape[1:])
                defect.append(peak_near(model, info["patch_size"], strip, anomaly.delta, anomaly.mask, [0]))
                good.append(peak_near(model, info["patch_size"], strip, anomaly.delta, anomaly.mask, [1, 2]))
            d, g = np.array(defect), np.array(good)
            ranked = np.mean(d[:, None] > g[None, :])
            print(
                f"{label:>7} {kind:>8}: in the target {np.median(d):.3f}, "
                f"in both references {np.median(g):.3f}; pairs ranked right {ranked:.3f}"
            )


if __name__ == "__main__":
    main()
