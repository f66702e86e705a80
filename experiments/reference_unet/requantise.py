"""A demo's shipped strip INT8, quantised again with this checkout's export code (#18).

Same graph, calibration method and float islands as the shipped artifact (its export report says
which), 7-bit weights (export's default), so that a change to how export quantises is timed on
trained models without retraining or a new gate decision. ``--quantised-score`` quantises the
score's box filter too, as export did before ``score_filter`` kept it float.

    .venv/bin/python experiments/reference_unet/requantise.py demo_out/reference_unet \
        bench_out/requantised/draem_float_score.onnx

Then ``artifacts_paired.py`` times the files against each other, each in its own process.
"""

from __future__ import annotations

import argparse
import json
import pathlib


def requantise(folder: pathlib.Path, target: pathlib.Path, quantised_score: bool) -> dict:
    import onnx

    from defectkit.artifact import read_metadata, write_metadata
    from defectkit.export.pipeline import ExportOptions, _Exporter

    report = json.loads((folder / "artifact" / "export_report.json").read_text())["int8"]
    shipped = read_metadata(folder / "artifact" / "model_int8.onnx")
    options = ExportOptions(run=folder / "run", out=target.parent, int8=True, data=folder / "data")
    exporter = _Exporter(options)
    try:
        if quantised_score:
            exporter.plan.fixed_float = lambda model: []
        fp32 = exporter.fp32_candidate(report["graph"])
        islands = tuple(report["float_islands"])
        candidate = exporter.int8_candidate(fp32, report["method"], islands)
    finally:
        exporter.close()
    shipped.int8_weight_bits = exporter.options.int8_weight_bits
    write_metadata(candidate.model, shipped)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(candidate.model, target)
    return {"graph": report["graph"], "method": report["method"], "islands": list(islands),
            "float_nodes": candidate.float_nodes, "quantised_score": quantised_score}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=pathlib.Path, help="a demo's family folder (run/, data/, artifact/)")
    parser.add_argument("target", type=pathlib.Path, help="the .onnx to write")
    parser.add_argument("--quantised-score", action="store_true", help="the box filter in INT8 (as before)")
    args = parser.parse_args()
    print(
        json.dumps({"target": str(args.target), **requantise(args.folder, args.target, args.quantised_score)})
    )


if __name__ == "__main__":
    main()
