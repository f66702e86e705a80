"""How much INT8 strip time do the UNet's full-resolution parts cost? Speed before training (#18).

DRAEM's network runs a full-resolution level in the encoder (block1) and in the decoder (up4,
db4 and the classifier); the INT8 full-frame graph spent about half its kernel time there. This
writes the full-frame strip graph of width-16 networks with random weights for each
``input_stride,head_stride[,readout]`` (``UNetConfig``): 1,1 DRAEM; 1,2 the decoder stops at half
resolution and the logit is upsampled (1,2,1 and 1,2,3: plus a 1x1 or 3x3 readout of block1's
features); 2,2 the captures also enter at half resolution (pixel unshuffle, no block1). FP32
and INT8 (static QDQ, MinMax on a few real strips, exactly as export quantises, no float island;
a variant with the score's box filter in float too), so that the
paired session study can time them on the same strips:

    .venv/bin/python experiments/reference_unet/full_resolution_speed.py \
        --strips bench_out/amd_seed1/reference_unet/data/test --out /tmp/stride
    .venv/bin/python experiments/reference_unet/session_options.py --default-only \
        --artifact /tmp/stride/in1_head2_int8.onnx \
        --baseline /tmp/stride/in1_head1_int8.onnx /tmp/stride/in2_head2_int8.onnx \
        /tmp/stride/in1_head2_fp32.onnx /tmp/stride/in1_head1_fp32.onnx \
        --strips bench_out/amd_seed1/reference_unet/data/test --rounds 30 --out /tmp/stride/timing

That harness holds every session in one process and understates the differences; with
``--metadata-from`` a trained strip artifact (``.../artifact/model_int8.onnx``) each variant is
also written as ``*_int8_artifact.onnx`` (its float-pool INT8 with that metadata), which
``artifacts_paired.py`` times one process each (the readout study of 2026-12-02):

    .venv/bin/python experiments/reference_unet/full_resolution_speed.py \
        --strips bench_out/amd_seed1_7bit/reference_unet/data/test --out /tmp/ro \
        --variants 1,1 1,2 1,2,1 1,2,3 \
        --metadata-from bench_out/amd_seed1_7bit/reference_unet/artifact/model_int8.onnx
    .venv/bin/python experiments/reference_unet/artifacts_paired.py \
        --strips bench_out/amd_seed1_7bit/reference_unet/data --rounds 30 \
        --artifact draem=/tmp/ro/in1_head1_int8_artifact.onnx \
        --artifact head2=/tmp/ro/in1_head2_int8_artifact.onnx \
        --artifact ro1=/tmp/ro/in1_head2_readout1_int8_artifact.onnx \
        --artifact ro3=/tmp/ro/in1_head2_readout3_int8_artifact.onnx

Weights do not change the kernels' work, so random ones time what a trained network would;
accuracy needs training over seeds (``demo_seeds.py``, with the variant as the default).
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import onnx
import torch

from defectkit.artifact import read_metadata, write_metadata
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.export.onnx_graph import export_onnx
from defectkit.export.quantize import Calibration, prepare
from defectkit.models.family import GraphBuild
from defectkit.models.reference_unet import ReferenceUNet, UNetConfig
from defectkit.models.reference_unet.export.graphs import GraphSpec, build_graph
from defectkit.models.reference_unet.export.plan import score_filter

STRIP = (976, 176)


def network(strides: tuple[int, ...], width: int, seed: int) -> ReferenceUNet:
    torch.manual_seed(seed)
    readout = strides[2] if len(strides) > 2 else 0
    model = ReferenceUNet(
        UNetConfig(width=width, input_stride=strides[0], head_stride=strides[1], readout=readout)
    )
    with torch.no_grad():  # BN statistics of real-looking activations, not the identity
        model.train()
        for _ in range(3):
            model(torch.rand(2, 3, 128, 128))
    return model.eval()


def write(
    strides: tuple[int, ...], width: int, strips: list[np.ndarray], out: pathlib.Path, metadata: object
) -> None:
    name = f"in{strides[0]}_head{strides[1]}" + (f"_readout{strides[2]}" if len(strides) > 2 else "")
    spec = GraphSpec(kind="full_frame", image_size=STRIP, patch=128, min_overlap=16)
    module = build_graph(network(strides, width, seed=0), spec)
    axes = {"strip": {0: "batch", 1: "channels"}, "heatmap": {0: "batch"}, "score": {0: "batch"}}
    build = GraphBuild(module, (torch.zeros(1, 3, *STRIP),), ["strip"], axes)
    model, _ = export_onnx(build, name)
    model = prepare(model)
    onnx.save(model, out / f"{name}_fp32.onnx")
    calibration = Calibration(model, [{"strip": s[None, :3].astype(np.float32)} for s in strips], "minmax")
    try:
        onnx.save(calibration.quantize(), out / f"{name}_int8.onnx")
        # The image score's box filter (a one-channel AveragePool at full resolution) left in float.
        float_pool = calibration.quantize(score_filter(model))
        onnx.save(float_pool, out / f"{name}_int8_float_pool.onnx")
        if metadata is not None:  # the same graph as an artifact defectkit.Inspector reads
            write_metadata(float_pool, metadata)
            onnx.save(float_pool, out / f"{name}_int8_artifact.onnx")
    finally:
        calibration.close()
    print(f"{name}: {out}/{name}_fp32.onnx, {name}_int8.onnx", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strips", type=pathlib.Path, required=True, help="a folder of .tif strips")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--calibration-strips", type=int, default=8)
    parser.add_argument(
        "--metadata-from", type=pathlib.Path, help="a strip artifact whose metadata *_int8_artifact.onnx copy"
    )
    parser.add_argument(
        "--variants", nargs="+", default=["1,1", "1,2", "2,2"], help="input_stride,head_stride[,readout]"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = sorted(args.strips.rglob("*.tif"))[: args.calibration_strips]
    strips = [read_strip_tifffile(p) for p in paths]
    metadata = read_metadata(args.metadata_from) if args.metadata_from else None
    for variant in args.variants:
        write(tuple(int(v) for v in variant.split(",")), args.width, strips, args.out, metadata)


if __name__ == "__main__":
    main()
