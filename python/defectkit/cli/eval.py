"""``defectkit eval RUN DATA --json OUT``: the family's test metrics, by a trained model or an artifact."""

from __future__ import annotations

import argparse
import json
import math
import pathlib


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run", type=pathlib.Path, help="run folder (uses best.pt), checkpoint file, or .onnx artifact"
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads for artifacts")
    parser.add_argument("data", type=pathlib.Path, help="dataset folder with a test split")
    parser.add_argument("--json", type=pathlib.Path, help="write the metrics here")
    parser.add_argument("--out", type=pathlib.Path, help="write the family's plots and per-item files here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _line(values: dict) -> str:
    return "  ".join(
        f"{name.replace('_', ' ')} {value:.4f}"
        for name, value in values.items()
        if isinstance(value, float) and math.isfinite(value)
    )


def run(args: argparse.Namespace) -> int:
    from defectkit.families import open_predictor

    family, predictor = open_predictor(args.run, args.threads)
    result = family.evaluate(predictor, args.data, out=args.out, progress=not args.no_progress)
    print(f"{_line(result)}  ({result['count']} test items)")
    for category, values in sorted(result.get("per_category", {}).items()):
        print(f"  {category:>12}: {_line(values)}")
    thresholds = result.get("thresholds", {})
    if thresholds:
        print("F1-optimal thresholds: " + _line(thresholds))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
