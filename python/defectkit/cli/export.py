"""``defectkit export RUN --out DIR [--int8]``: the deployable ONNX artifact(s) and a report."""

from __future__ import annotations

import argparse
import logging
import pathlib


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=pathlib.Path, help="run folder (uses best.pt) or checkpoint file")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder for the artifacts and report")
    parser.add_argument("--int8", action="store_true", help="also write model_int8.onnx (static QDQ)")
    parser.add_argument(
        "--calib", type=pathlib.Path, help="folder of strips to calibrate INT8 on (default: training strips)"
    )
    parser.add_argument(
        "--image-size", type=int, nargs=2, metavar=("H", "W"), help="strip size the full-image graph takes"
    )
    parser.add_argument(
        "--graph",
        choices=("auto", "tiled", "full_frame", "patch"),
        default="auto",
        help="graph kind (auto: the fastest full-image graph that loses no validation accuracy)",
    )
    parser.add_argument(
        "--output-format",
        choices=("raw", "seed3ch"),
        default="raw",
        help="seed3ch: heatmap as (N, 3, H, W), channels 1-2 zero, for line software expecting it",
    )
    parser.add_argument("--roi", action="store_true", help="zero the heatmap where input channel 4 is 0")
    parser.add_argument(
        "--allow-accuracy-drop", action="store_true", help="write INT8 even if it fails the accuracy gate"
    )
    parser.add_argument("--data", type=pathlib.Path, help="training data, if the run's recorded path moved")


def print_summary(report: dict) -> None:
    """The report's parity and accuracy lines, as ``make demo`` shows them."""
    log = logging.getLogger("defectkit")
    for kind, graph in report["graphs"].items():
        a, n = graph["accuracy"], graph["nodes_simplified"]["total"]
        log.info(
            "[export] %-10s validation image AUROC %.4f pixel AUROC %.4f  %6.1f ms/strip (ORT, Python)  "
            "%d nodes",
            kind,
            a["image_auroc"],
            a["pixel_auroc"],
            graph["ms_per_strip"],
            n,
        )
    parity = report["fp32"]["parity"]
    log.info(
        "[export] chose %s (%s); FP32 parity: ONNX vs PyTorch max |diff| %.2e, vs eval's sliding window %.2e",
        report["graph"],
        report["graph_reason"],
        parity["onnx_vs_torch"],
        parity["onnx_vs_sliding_window"],
    )
    if "int8" in report:
        q = report["int8"]
        log.info(
            "[export] INT8 (%s calibration, float: %s): image AUROC %+.4f, pixel AUROC %+.4f vs FP32 "
            "(gate %.3f: %s); heatmap mean |diff| %.4f",
            q["method"],
            ", ".join(q["float_islands"]) or "none",
            -q["image_auroc_drop"],
            -q["pixel_auroc_drop"],
            q["gate"]["limit"],
            "passed" if q["gate"]["passed"] else "FAILED, written because --allow-accuracy-drop",
            q["heatmap_mae_vs_fp32"],
        )


def run(args: argparse.Namespace) -> int:
    from defectkit.export.pipeline import ExportOptions, export_run

    options = ExportOptions(
        run=args.run,
        out=args.out,
        int8=args.int8,
        calib=args.calib,
        image_size=tuple(args.image_size) if args.image_size else None,
        graph=args.graph,
        output_format=args.output_format,
        roi=args.roi,
        allow_accuracy_drop=args.allow_accuracy_drop,
        data=args.data,
    )
    report = export_run(options)
    print_summary(report)
    files = ", ".join(str(args.out / name) for name in report["files"])
    logging.getLogger("defectkit").info("[export] wrote %s and %s", files, args.out / "export_report.json")
    return 0
