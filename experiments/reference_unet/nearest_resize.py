"""Would nearest-neighbour upsampling make the INT8 strip graph faster? (#18's list: "upsampling
that quantises well (nearest or transposed convolution instead of bilinear Resize)").

Before retraining a network with nearest upsampling (seeds, the 100-strip split), this checks
that there is time to win: it rewrites every Resize of a trained INT8 artifact from bilinear
(align_corners) to nearest (asymmetric, floor: PyTorch's ``nearest``), the weights and
quantisation untouched, so the variant's output is meaningless and only its speed counts. Time
it against the original with the paired session study:

    .venv/bin/python experiments/reference_unet/nearest_resize.py \\
        bench_out/amd_seed1/reference_unet/artifact/model_int8.onnx /tmp/model_int8_nearest.onnx
    .venv/bin/python experiments/reference_unet/session_options.py \\
        --artifact /tmp/model_int8_nearest.onnx \\
        --baseline bench_out/amd_seed1/reference_unet/artifact/model_int8.onnx \\
        --strips bench_out/amd_seed1/reference_unet/data/test --rounds 20 --out /tmp/nearest
"""

from __future__ import annotations

import argparse
import pathlib

import onnx


def nearest(model: onnx.ModelProto) -> int:
    """Rewrites ``model``'s Resize nodes to nearest in place; returns how many."""
    count = 0
    for node in model.graph.node:
        if node.op_type != "Resize":
            continue
        for attribute in node.attribute:
            if attribute.name == "mode":
                attribute.s = b"nearest"
            elif attribute.name == "coordinate_transformation_mode":
                attribute.s = b"asymmetric"
            elif attribute.name == "nearest_mode":
                attribute.s = b"floor"
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=pathlib.Path, help="a trained strip artifact (.onnx)")
    parser.add_argument("out", type=pathlib.Path, help="where the nearest-upsampling variant goes")
    args = parser.parse_args()
    model = onnx.load(args.artifact)
    count = nearest(model)
    if not count:
        raise SystemExit(f"{args.artifact}: no Resize node to rewrite")
    onnx.save(model, args.out)
    print(f"{args.out}: {count} Resize nodes now nearest (output meaningless: time it only)")


if __name__ == "__main__":
    main()
