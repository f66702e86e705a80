"""``defectkit eval RUN DATA --json OUT``: image and pixel AUROC on the test split."""

from __future__ import annotations

import argparse
import json
import pathlib

from defectkit.errors import InvalidArgumentError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=pathlib.Path, help="run folder (uses best.pt) or checkpoint file")
    parser.add_argument("data", type=pathlib.Path, help="dataset folder with test/ and ground_truth/")
    parser.add_argument("--json", type=pathlib.Path, help="write the metrics here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.run.suffix == ".onnx":
        msg = f"{args.run}: evaluating ONNX artifacts needs the export and runtime issues; pass a run folder"
        raise InvalidArgumentError(msg)
    from defectkit.evaluation.dataset_eval import evaluate_run
    from defectkit.training import load_model

    model, info = load_model(args.run)
    patch = info["patch_size"]
    result = evaluate_run(model, args.data, patch, progress=not args.no_progress)
    print(
        f"image AUROC {result['image_auroc']:.4f}  pixel AUROC {result['pixel_auroc']:.4f}  "
        f"({result['count']} strips)"
    )
    for category, values in sorted(result["per_category"].items()):
        image, pixel = values["image_auroc"], values["pixel_auroc"]
        print(f"  {category:>12}: image AUROC {image:.4f}  pixel AUROC {pixel:.4f}")
    t = result["thresholds"]
    print(
        f"F1-optimal thresholds: image {t['image']:.4f} (F1 {t['image_f1']:.3f}), "
        f"pixel {t['pixel']:.4f} (F1 {t['pixel_f1']:.3f})"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
