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
        default="auto",
        help="graph kind: auto (the fastest shown within the gate of the trained network) or one of the "
        "family's (reference_unet: tiled, full_frame, patch)",
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
    parser.add_argument(
        "--fp32-if-refused",
        action="store_true",
        help="when the gate refuses INT8, write the FP32 artifact alone (the refusal in the report) "
        "instead of nothing",
    )
    parser.add_argument("--data", type=pathlib.Path, help="training data, if the run's recorded path moved")
    parser.add_argument(
        "--calibration",
        default="minmax,entropy,percentile",
        help="INT8 calibration methods to try, comma-separated (default: all three)",
    )
    parser.add_argument(
        "--int8-weight-bits",
        type=int,
        choices=(7, 8),
        default=7,
        help="7 (default): INT8 weights within +-64, the same answers on every x86-64 CPU; 8: +-127, "
        "only for lines whose CPUs have AVX512-VNNI (without it the runtime refuses the artifact)",
    )
    parser.add_argument(
        "--max-extensions",
        type=int,
        default=None,
        help="times export may synthesise more validation strips when they cannot decide "
        "(default 6: export's MAX_EXTENSIONS)",
    )


def print_summary(report: dict) -> None:
    """One line per candidate (its paired comparison with the trained network), then the choices."""
    log = logging.getLogger("defectkit")
    decision = report["decision"]
    log.info(
        "[export] each candidate against the trained network on up to %d validation samples (%d "
        "synthesised after %d extension(s)); tolerance %.3f AUROC; one-sided bounds at %.1f%% on "
        "the base samples, %.1f%% at the last look (candidates screened on the base samples, the "
        "closest measured on more)",
        decision["samples"],
        decision["samples"] - decision["validation_samples"],
        decision["extensions"],
        decision["tolerance"],
        100 * (1 - decision["first_look_alpha"]),
        100 * (1 - decision["last_look_alpha"]),
    )
    for name, entry in report["candidates"].items():
        c = entry.get("comparison")
        if c is None:
            continue
        drops = "  ".join(
            f"{metric.split('_')[0]} drop {c[metric]['drop']:+.4f} "
            f"[{c[metric]['interval'][0]:+.4f}, {c[metric]['interval'][1]:+.4f}]"
            for metric in ("image_auroc", "pixel_auroc")
            if metric in c
        )
        log.info(
            "[export] %-32s %-9s n=%-4d %s  %6.1f ms/sample  %s",
            name,
            c["verdict"],
            c["samples"],
            drops,
            entry["ms_per_sample"],
            entry["outcome"],
        )
    parity = ", ".join(f"{k.replace('_', ' ')} {v:.2e}" for k, v in report["fp32"]["parity"].items())
    log.info(
        "[export] FP32: %s (%s); parity, max |diff|: %s", report["graph"], report["graph_reason"], parity
    )
    if "refused" in report.get("int8", {}):
        log.warning("[export] INT8: refused by the gate (the closest candidate above); FP32 written alone")
    elif "int8" in report:
        q = report["int8"]
        log.info(
            "[export] INT8: %s, %s calibration, %d-bit weights, float islands: %s; gate %s (image drop "
            "%+.4f, pixel %+.4f against the trained network)",
            q["graph"],
            q["method"],
            q["weight_bits"],
            ", ".join(q["float_islands"]) or "none",
            "passed" if q["gate"]["passed"] else "FAILED, written because --allow-accuracy-drop",
            q["gate"]["image_auroc"]["drop"],
            q["gate"].get("pixel_auroc", {}).get("drop", float("nan")),
        )
    for warning in decision["warnings"]:
        log.warning("[export] %s", warning)


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
        fp32_if_refused=args.fp32_if_refused,
        data=args.data,
        methods=tuple(m.strip() for m in args.calibration.split(",") if m.strip()),
        int8_weight_bits=args.int8_weight_bits,
        **({} if args.max_extensions is None else {"max_extensions": args.max_extensions}),
    )
    report = export_run(options)
    print_summary(report)
    files = ", ".join(str(args.out / name) for name in report["files"])
    logging.getLogger("defectkit").info("[export] wrote %s and %s", files, args.out / "export_report.json")
    return 0
