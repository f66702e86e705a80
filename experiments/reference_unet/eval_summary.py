"""One line per ``defectkit eval --json`` file: AUROCs and what the F1-optimal image threshold flags.

    .venv/bin/python experiments/reference_unet/eval_summary.py RUN1/eval.json RUN2/eval.json ...

'good flagged': good strips scoring at or above the threshold; 'defects missed': defective
strips below it. The seed-spread tables of docs/experiments/reference_unet.md come from these lines.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from defectkit.evaluation.metrics import flagged_at


def summary(path: pathlib.Path) -> str:
    result = json.loads(path.read_text())
    n = flagged_at(result["scores"], result["thresholds"]["image"])
    return (
        f"{path}: image AUROC {result['image_auroc']:.3f}, pixel AUROC {result['pixel_auroc']:.3f}, "
        f"good flagged {n['good_flagged']}/{n['good']}, "
        f"defects missed {n['defective'] - n['defective_flagged']}/{n['defective']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=pathlib.Path, help="defectkit eval --json files")
    args = parser.parse_args()
    for path in args.results:
        print(summary(path))


if __name__ == "__main__":
    main()
