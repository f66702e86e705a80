"""``defectkit infer RUN INPUTS... --out DIR``: a picture per input and a CSV of results."""

from __future__ import annotations

import argparse
import pathlib

from defectkit.cli.read import expand


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run", type=pathlib.Path, help="run folder (uses best.pt), checkpoint file, or .onnx artifact"
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads for artifacts")
    parser.add_argument("strips", nargs="+", type=pathlib.Path, help="input files, or folders of them")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder for pictures and scores.csv")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from defectkit.families import open_predictor

    family, predictor = open_predictor(args.run, args.threads)
    images = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")  # strips are TIFFs; images any of these
    rows = family.infer(predictor, expand(args.strips, images), args.out, progress=not args.no_progress)
    print(f"wrote {len(rows)} panels and {args.out / 'scores.csv'}")
    return 0
