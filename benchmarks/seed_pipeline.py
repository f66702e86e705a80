"""The seed pipeline, rebuilt as users run it today: the baseline every configuration is compared to.

- Model: the width-64 UNet (:class:`ReferenceUNet` with ``UNetConfig(width=64)``), random weights
  from a fixed seed (the seed's trained weights are not available; the cost is the same).
- Export, the seed's way: a traced Python loop of 9 x 2 single-patch passes (128 x 128) over a
  976 x 176 strip, a softmax per patch, centre-crop stitching (each output pixel from the tile
  whose centre is nearest, by concatenating crops), output ``(1, 3, H, W)`` (heatmap in channel
  0, zeros in 1 and 2), opset 11, no simplification, no batching, no quantisation.
- Inference: onnxruntime from Python; each strip read by tifffile, then transposed, sliced and
  scaled by numpy (``(C, H, W)`` file -> ``(H, W, C)`` image -> first three channels / 255 ->
  ``(1, 3, H, W)``), as the seed's script did.

    .venv/bin/python -m benchmarks.seed_pipeline --out bench_out/seed --strips DIR --runs 5

prints the seed pipeline's per-strip latency on the strips in DIR (uncompressed TIFFs of 976 x 176).
"""

from __future__ import annotations

import argparse
import pathlib
import time
import warnings

import numpy as np
import torch
from torch import nn

from defectkit.models.reference_unet import ReferenceUNet, UNetConfig
from defectkit.models.reference_unet.data.tiling import positions_along
from defectkit.models.reference_unet.sliding_window import nearest_centre_index

SEED_WIDTH = 64
SEED_PATCH = 128
SEED_SIZE = (976, 176)  # H x W
SEED_OPSET = 11
WEIGHT_SEED = 0


def seed_positions(height: int = SEED_SIZE[0], width: int = SEED_SIZE[1]) -> tuple[list[int], list[int]]:
    """Tile starts along each axis: 9 rows x 2 columns of 128 x 128 for a 976 x 176 strip."""
    overlap = SEED_PATCH // 8
    return (
        positions_along(height, SEED_PATCH, 1, min_overlap=overlap),
        positions_along(width, SEED_PATCH, 1, min_overlap=overlap),
    )


def _crops(starts: list[int], length: int) -> list[tuple[int, int, int]]:
    """Per tile along one axis: (tile, first, end) of the output rows it owns (centre crop)."""
    tile, _ = nearest_centre_index(starts, SEED_PATCH, length)
    return [
        (t, int((tile == t).nonzero()[0][0]), int((tile == t).nonzero()[0][-1]) + 1)
        for t in range(len(starts))
        if (tile == t).any()
    ]


class SeedStripGraph(nn.Module):
    """(1, 3, H, W) in [0, 1] -> (1, 3, H, W): the seed's per-patch loop, softmax, centre-crop stitching."""

    def __init__(self, network: nn.Module, height: int = SEED_SIZE[0], width: int = SEED_SIZE[1]) -> None:
        super().__init__()
        self.network = network
        self.height, self.width = height, width
        self.ys, self.xs = seed_positions(height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = SEED_PATCH
        rows = []
        for r, y0, y1 in _crops(self.ys, self.height):
            band = []
            for c, x0, x1 in _crops(self.xs, self.width):
                y, xx = self.ys[r], self.xs[c]
                # one patch per pass, as the seed (the network's eval output: softmax of class 1)
                probability = self.network(x[:, :, y : y + p, xx : xx + p]).heatmap
                band.append(probability[:, :, y0 - y : y1 - y, x0 - xx : x1 - xx])
            rows.append(torch.cat(band, dim=3))
        heatmap = torch.cat(rows, dim=2)  # (1, 1, H, W)
        return torch.cat([heatmap, torch.zeros_like(heatmap), torch.zeros_like(heatmap)], dim=1)


def seed_network(seed: int = WEIGHT_SEED, width: int = SEED_WIDTH) -> ReferenceUNet:
    """The width-64 UNet with random weights drawn from ``seed`` (eval mode)."""
    torch.manual_seed(seed)
    return ReferenceUNet(UNetConfig(width=width)).eval()


def export_seed(path: pathlib.Path, network: nn.Module | None = None) -> pathlib.Path:
    """Traces the seed graph to ONNX opset 11 at ``path`` (unsimplified, as the seed shipped it)."""
    module = SeedStripGraph(network if network is not None else seed_network()).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, *SEED_SIZE),),
            str(path),
            dynamo=False,
            opset_version=SEED_OPSET,
            input_names=["input"],
            output_names=["output"],
        )
    return path


class SeedPipeline:
    """onnxruntime session over the seed graph, fed by tifffile + numpy as the seed's script did."""

    def __init__(self, onnx_path: pathlib.Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    @staticmethod
    def preprocess(path: pathlib.Path) -> np.ndarray:
        """tifffile read, then numpy: (C, H, W) -> (H, W, C), first 3 channels, / 255, -> (1, 3, H, W)."""
        import tifffile

        image = tifffile.imread(path)  # (C, H, W) planar float32, 0..255
        image = np.transpose(image, (1, 2, 0))  # the seed's code worked on (H, W, C) images
        image = image[:, :, :3].astype(np.float32) / 255.0
        return np.ascontiguousarray(np.transpose(image, (2, 0, 1))[None])

    def __call__(self, path: pathlib.Path) -> np.ndarray:
        """One strip file -> (1, 3, H, W) output."""
        return self.session.run(None, {"input": self.preprocess(path)})[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench_out/seed"))
    parser.add_argument("--strips", type=pathlib.Path, required=True, help="folder of 976 x 176 strip TIFFs")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model = args.out / "seed_w64_opset11.onnx"
    if not model.is_file():
        export_seed(model)
    strips = sorted(args.strips.glob("*.tif"))
    pipeline = SeedPipeline(model, args.threads)
    pipeline(strips[0])  # warm-up
    for i in range(args.runs):
        start = time.perf_counter()
        pipeline(strips[i % len(strips)])
        print(f"strip {i}: {(time.perf_counter() - start) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
