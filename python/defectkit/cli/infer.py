"""``defectkit infer RUN STRIPS... --out DIR``: heatmap panels and a CSV of scores."""

from __future__ import annotations

import argparse
import pathlib

from defectkit.cli.eval import load_for_inspection
from defectkit.cli.read import expand


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run", type=pathlib.Path, help="run folder (uses best.pt), checkpoint file, or .onnx artifact"
    )
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads for artifacts")
    parser.add_argument("strips", nargs="+", type=pathlib.Path, help="strip TIFFs, or folders of them")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder for panels and scores.csv")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from defectkit.data.layout import Sample
    from defectkit.evaluation.dataset_eval import inspect_samples
    from defectkit.evaluation.panels import save_panel, write_scores_csv

    model, patch = load_for_inspection(args.run, args.threads)
    strips = expand(args.strips)
    samples = [Sample(path=p, category=p.parent.name, mask_path=None) for p in strips]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for sample, strip, heatmap, score in inspect_samples(
        model, samples, patch, progress=not args.no_progress
    ):
        name = f"{sample.path.parent.name}_{sample.path.stem}"
        panel = save_panel(
            args.out / f"{name}.png", strip[:3], heatmap, title=f"{sample.path}  score {score:.3f}"
        )
        rows.append({"path": str(sample.path), "score": score, "panel": str(panel)})
    csv = write_scores_csv(args.out / "scores.csv", rows)
    print(f"wrote {len(rows)} panels and {csv}")
    return 0
