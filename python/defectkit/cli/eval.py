"""``defectkit eval RUN DATA --json OUT``: image and pixel AUROC on the test split."""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Any


def load_for_inspection(path: pathlib.Path, threads: int = 0) -> tuple[Any, int]:
    """A run folder or checkpoint as a torch model, or an ``.onnx`` artifact as a native
    :class:`defectkit.Inspector` (what the line runs), with its patch size."""
    if path.suffix == ".onnx":
        import defectkit

        inspector = defectkit.Inspector(path, threads=threads)
        return inspector, int(inspector.metadata["tiling"]["patch"])
    from defectkit.training import load_model

    model, info = load_model(path)
    return model, info["patch_size"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run", type=pathlib.Path, help="run folder (uses best.pt), checkpoint file, or .onnx artifact"
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads for artifacts")
    parser.add_argument("data", type=pathlib.Path, help="dataset folder with test/ and ground_truth/")
    parser.add_argument("--json", type=pathlib.Path, help="write the metrics here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from defectkit.evaluation.dataset_eval import evaluate_run

    model, patch = load_for_inspection(args.run, args.threads)
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
