"""Is the half-resolution network (``input_stride`` 2) worth training? Its INT8 speed first (#18).

Before any seed is trained, this writes the full-frame strip graph of two width-16 networks,
DRAEM's (``input_stride`` 1, the demo's default so far) and the one whose captures enter at half
resolution as 4x the channels (``input_stride`` 2), with random weights, FP32 and INT8 (static
QDQ, MinMax on a few real strips, exactly as export quantises, no float island), so that the
paired session study can time them on the same strips:

    .venv/bin/python experiments/reference_unet/input_stride_speed.py \\
        --strips bench_out/amd_seed1/reference_unet/data/test --out /tmp/stride
    .venv/bin/python experiments/reference_unet/session_options.py \\
        --artifact /tmp/stride/stride2_int8.onnx \\
        --baseline /tmp/stride/stride1_int8.onnx /tmp/stride/stride2_fp32.onnx /tmp/stride/stride1_fp32.onnx \\
        --strips bench_out/amd_seed1/reference_unet/data/test --rounds 20 --out /tmp/stride/timing

Weights do not change the kernels' work, so random ones time what a trained network would;
accuracy needs training over seeds (``demo_seeds.py --input-stride``).
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import onnx
import torch

from defectkit.data.strip_io import read_strip_tifffile
from defectkit.export.onnx_graph import export_onnx
from defectkit.export.quantize import Calibration, prepare
from defectkit.models.family import GraphBuild
from defectkit.models.reference_unet import ReferenceUNet, UNetConfig
from defectkit.models.reference_unet.export.graphs import GraphSpec, build_graph

STRIP = (976, 176)


def network(stride: int, width: int, seed: int) -> ReferenceUNet:
    torch.manual_seed(seed)
    model = ReferenceUNet(UNetConfig(width=width, input_stride=stride))
    with torch.no_grad():  # BN statistics of real-looking activations, not the identity
        model.train()
        for _ in range(3):
            model(torch.rand(2, 3, 128, 128))
    return model.eval()


def write(stride: int, width: int, strips: list[np.ndarray], out: pathlib.Path) -> None:
    spec = GraphSpec(kind="full_frame", image_size=STRIP, patch=128, min_overlap=16)
    module = build_graph(network(stride, width, seed=stride), spec)
    axes = {"strip": {0: "batch", 1: "channels"}, "heatmap": {0: "batch"}, "score": {0: "batch"}}
    build = GraphBuild(module, (torch.zeros(1, 3, *STRIP),), ["strip"], axes)
    model, _ = export_onnx(build, f"stride {stride}")
    model = prepare(model)
    onnx.save(model, out / f"stride{stride}_fp32.onnx")
    calibration = Calibration(model, [{"strip": s[None, :3].astype(np.float32)} for s in strips], "minmax")
    try:
        onnx.save(calibration.quantize(), out / f"stride{stride}_int8.onnx")
        # The image score's box filter (a one-channel AveragePool at full resolution) left in float.
        pools = [n.name for n in model.graph.node if n.op_type == "AveragePool"]
        onnx.save(calibration.quantize(pools), out / f"stride{stride}_int8_float_pool.onnx")
    finally:
        calibration.close()
    print(f"stride {stride}: {out}/stride{stride}_fp32.onnx, stride{stride}_int8.onnx", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strips", type=pathlib.Path, required=True, help="a folder of .tif strips (calibration)")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--calibration-strips", type=int, default=8)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = sorted(args.strips.rglob("*.tif"))[: args.calibration_strips]
    strips = [read_strip_tifffile(p) for p in paths]
    for stride in (1, 2):
        write(stride, args.width, strips, args.out)


if __name__ == "__main__":
    main()
