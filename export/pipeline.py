"""``defectkit export``: a trained run -> model_fp32.onnx [+ model_int8.onnx] + export_report.json.

Every decision is measured on the validation split: which graph kind is the
default (the fastest that loses no accuracy against the tiled graph), which
calibration method and which float islands INT8 gets, and whether INT8 passes
the accuracy gate. Files are staged in a temporary folder and moved into place
only when everything passed, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import pathlib
import shutil
import tempfile
from typing import Any

import numpy as np
import onnx

from defectkit._version import __version__
from defectkit.data.training_set import read_strip_shape
from defectkit.errors import Error, InvalidArgumentError
from defectkit.export.graphs import GRAPH_KINDS, GraphSpec, build_graph
from defectkit.export.measure import GraphRunner, accuracy, graph_feed
from defectkit.export.metadata import ArtifactMetadata, write_metadata
from defectkit.export.onnx_graph import export_onnx
from defectkit.export.parity import parity
from defectkit.export.quantize import CALIBRATION_METHODS, Calibration, node_groups, prepare
from defectkit.export.strip_sets import calibration_strips, data_fingerprint, validation_strips
from defectkit.training import load_model
from defectkit.training.config import TrainConfig

__all__ = ["AccuracyGateError", "ExportOptions", "export_run"]

logger = logging.getLogger("defectkit")

GATE = 0.005  # largest INT8 drop in image or pixel AUROC below FP32 on the validation split
NO_LOSS = 0.002  # a graph kind "loses no accuracy" when neither AUROC is lower than tiled's by more
# Keep a part of the graph in float when that cuts the INT8 error (heatmap MAE + image score MAE,
# both against FP32) by 10%. Both terms matter: a clipped range in the head barely moves the heatmap
# MAE (background dominates it) yet flattens every strong peak, hence every high image score.
FLOAT_ISLAND_GAIN = 0.10
PARITY_STRIPS = 4
_TRIAL_KEYS = ("image_drop", "pixel_drop", "heatmap_mae", "score_mae", "ms_per_strip")
OUTPUT_FORMATS = ("raw", "seed3ch")


class AccuracyGateError(Error):
    """INT8 lost more accuracy than the gate allows."""


@dataclasses.dataclass
class ExportOptions:
    """What ``defectkit export`` is asked to do; see the CLI for each option's meaning."""

    run: pathlib.Path
    out: pathlib.Path
    int8: bool = False
    calib: pathlib.Path | None = None
    image_size: tuple[int, int] | None = None
    graph: str = "auto"  # "auto" or one of GRAPH_KINDS
    output_format: str = "raw"
    roi: bool = False
    allow_accuracy_drop: bool = False
    data: pathlib.Path | None = None  # the training data, when config.json's path no longer resolves
    validation_variants: int = 16
    calibration_count: int = 8
    methods: tuple[str, ...] = tuple(CALIBRATION_METHODS)

    def validate(self) -> None:
        problems = []
        if self.graph != "auto" and self.graph not in GRAPH_KINDS:
            problems.append(f"graph must be auto or one of {', '.join(GRAPH_KINDS)}, got {self.graph!r}")
        if self.output_format not in OUTPUT_FORMATS:
            problems.append(f"output format must be raw or seed3ch, got {self.output_format!r}")
        if self.graph == "patch" and (self.roi or self.output_format != "raw"):
            problems.append("a patch graph has raw outputs and no ROI input (the runtime applies both)")
        unknown = sorted(set(self.methods) - set(CALIBRATION_METHODS))
        if unknown:
            problems.append(f"unknown calibration methods {unknown}; known: {sorted(CALIBRATION_METHODS)}")
        if self.calib is not None and not self.calib.is_dir():
            problems.append(f"{self.calib}: calibration folder not found")
        if problems:
            raise InvalidArgumentError("export: " + "; ".join(problems))


def _training_data(options: ExportOptions, config: TrainConfig) -> pathlib.Path:
    data = options.data or pathlib.Path(config.data)
    if not (data / "train" / "good").is_dir():
        msg = f"{data}: the run's training data is not there (no train/good); pass --data"
        raise InvalidArgumentError(msg)
    return data


def _image_size(options: ExportOptions, data: pathlib.Path, patch: int) -> tuple[int, int]:
    if options.image_size is None:
        first = next(
            p for p in sorted((data / "train" / "good").iterdir()) if p.suffix.lower() in (".tif", ".tiff")
        )
        size = read_strip_shape(first)
    else:
        size = tuple(int(v) for v in options.image_size)
    if size[0] < patch or size[1] < patch:
        msg = f"export: image size {size[0]}x{size[1]} is smaller than one {patch}x{patch} patch"
        raise InvalidArgumentError(msg)
    return size


def _heatmap_error(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(x - y).mean() for x, y in zip(a, b, strict=True)]))


class _Exporter:
    """The state one export shares between its steps."""

    def __init__(self, options: ExportOptions) -> None:
        options.validate()
        self.options = options
        self.network, info = load_model(options.run)
        self.config = TrainConfig.from_dict(info["train_config"])
        self.checkpoint = info
        self.patch = int(info["patch_size"])
        self.data = _training_data(options, self.config)
        self.image_size = _image_size(options, self.data, self.patch)
        self.validation = validation_strips(
            self.config, self.data, self.image_size, options.validation_variants
        )
        logger.info(
            "[export] validation: %d strips (%d defective)",
            len(self.validation),
            sum(s.label for s in self.validation),
        )

    def spec(self, kind: str) -> GraphSpec:
        full_image = kind != "patch"
        return GraphSpec(
            kind=kind,
            image_size=self.image_size,
            patch=self.patch,
            min_overlap=self.patch // 8,
            roi=self.options.roi and full_image,
            seed3ch=self.options.output_format == "seed3ch" and full_image,
        )

    def runner(self, model: onnx.ModelProto, spec: GraphSpec) -> GraphRunner:
        return GraphRunner(model, spec.kind, spec.patch, spec.min_overlap, spec.box)

    def measure_graph(self, kind: str) -> dict[str, Any]:
        """Exports one graph kind and measures its accuracy, speed and parity."""
        spec = self.spec(kind)
        module = build_graph(self.network, spec)
        model, nodes = export_onnx(module, spec)
        runner = self.runner(model, spec)
        heatmaps, scores, ms = runner.run_all(self.validation)
        result = {
            "spec": spec,
            "model": prepare(model),
            "heatmaps": heatmaps,
            "scores": scores,
            "accuracy": accuracy(self.validation, heatmaps, scores),
            "ms_per_strip": ms,
            "parity": parity(module, self.network, kind, runner, self.validation[:PARITY_STRIPS]),
            **nodes,
        }
        a = result["accuracy"]
        logger.info(
            "[export] %-10s image AUROC %.4f pixel AUROC %.4f  %.0f ms/strip  nodes %d -> %d",
            kind,
            a["image_auroc"],
            a["pixel_auroc"],
            ms,
            nodes["nodes_traced"]["total"],
            nodes["nodes_simplified"]["total"],
        )
        return result

    def choose_graph(self, graphs: dict[str, dict]) -> tuple[str, str]:
        """The graph kind to ship and why."""
        if self.options.graph != "auto":
            return self.options.graph, "asked for"
        tiled = graphs["tiled"]["accuracy"]
        lossless = [
            kind
            for kind in ("tiled", "full_frame")
            if graphs[kind]["accuracy"]["image_auroc"] >= tiled["image_auroc"] - NO_LOSS
            and graphs[kind]["accuracy"]["pixel_auroc"] >= tiled["pixel_auroc"] - NO_LOSS
        ]
        fastest = min(lossless, key=lambda kind: graphs[kind]["ms_per_strip"])
        return (
            fastest,
            f"fastest full-image graph within {NO_LOSS} AUROC of tiled ({', '.join(lossless)} qualified)",
        )

    def calibration_feeds(self, spec: GraphSpec) -> list[dict[str, np.ndarray]]:
        strips = calibration_strips(
            self.config, self.data, self.image_size, self.options.calibration_count, self.options.calib
        )
        ys, xs = spec.positions
        channels = 4 if spec.roi else 3
        return [graph_feed(strip, spec.kind, channels, spec.patch, ys, xs) for strip in strips]

    def try_int8(self, fp32: dict, calibration: Calibration, exclude: list[str]) -> dict[str, Any]:
        model = calibration.quantize(exclude)
        heatmaps, scores, ms = self.runner(model, fp32["spec"]).run_all(self.validation)
        a = accuracy(self.validation, heatmaps, scores)
        return {
            "model": model,
            "accuracy": a,
            "ms_per_strip": ms,
            "heatmap_mae": _heatmap_error(heatmaps, fp32["heatmaps"]),
            "score_mae": float(np.mean(np.abs(np.subtract(scores, fp32["scores"])))),
            "image_drop": fp32["accuracy"]["image_auroc"] - a["image_auroc"],
            "pixel_drop": fp32["accuracy"]["pixel_auroc"] - a["pixel_auroc"],
        }

    def int8(self, fp32: dict) -> tuple[dict, dict]:
        """Chooses the calibration method, then the float islands, by measurement."""
        feeds = self.calibration_feeds(fp32["spec"])
        trials, calibrations = {}, {}
        for method in self.options.methods:
            calibrations[method] = Calibration(fp32["model"], feeds, method)
            trials[method] = self.try_int8(fp32, calibrations[method], [])
            t = trials[method]
            logger.info(
                "[export] int8 %-10s image drop %+.4f pixel drop %+.4f heatmap MAE %.5f score MAE %.5f",
                method,
                t["image_drop"],
                t["pixel_drop"],
                t["heatmap_mae"],
                t["score_mae"],
            )

        def error(t: dict) -> float:
            return t["heatmap_mae"] + t["score_mae"]

        method = min(trials, key=lambda m: error(trials[m]))
        for other in set(calibrations) - {method}:
            calibrations.pop(other).close()
        best, kept, islands = trials[method], [], {}
        for group, nodes in node_groups(fp32["model"]).items():
            trial = self.try_int8(fp32, calibrations[method], kept + nodes)
            islands[group] = {"nodes": len(nodes), **{k: trial[k] for k in _TRIAL_KEYS}}
            if error(trial) < (1 - FLOAT_ISLAND_GAIN) * error(best):
                best, kept = trial, kept + nodes
                islands[group]["kept_in_float"] = True
                logger.info(
                    "[export] int8 keeping %s in float: heatmap MAE %.5f, score MAE %.5f",
                    group,
                    trial["heatmap_mae"],
                    trial["score_mae"],
                )
        summary = {
            "method": method,
            "methods": {m: {k: t[k] for k in _TRIAL_KEYS} for m, t in trials.items()},
            "float_islands": [g for g, v in islands.items() if v.get("kept_in_float")],
            "island_trials": islands,
            "calibration": str(self.options.calib)
            if self.options.calib
            else "training strips with synthetic defects",
            "calibration_strips": len(feeds),
        }
        calibrations[method].close()
        return best, summary

    def metadata(self, spec: GraphSpec, precision: str, thresholds: dict, extra: dict) -> ArtifactMetadata:
        ys, xs = spec.positions
        return ArtifactMetadata(
            family="reference_unet",
            graph=spec.kind,
            input={
                "name": "patch" if spec.kind == "patch" else "strip",
                "layout": "NCHW",
                "dtype": "float32",
                "scale": 255.0,
                "channels": ["target", "ref1", "ref2"],
                "accepted_channels": [4] if spec.roi else ([3] if spec.kind == "patch" else [3, 4]),
                "fourth_channel": "roi" if spec.roi else "ignore",
            },
            image_size=spec.image_size,
            tiling={
                "patch": spec.patch,
                "min_overlap": spec.min_overlap,
                "positions_y": ys,
                "positions_x": xs,
                "stitch": "nearest_centre",
                "mode": {"tiled": "baked", "full_frame": "none", "patch": "runtime"}[spec.kind],
            },
            score={"reduction": "box_mean_max", "box": spec.box, "border": "reflect"},
            outputs={
                "format": "seed3ch" if spec.seed3ch else "raw",
                "heatmap": "heatmap",
                "score": None if spec.kind == "patch" else "score",
            },
            thresholds={"image": thresholds["image"], "pixel": thresholds["pixel"]},
            precision=precision,
            provenance={
                "run_config": self.config.to_dict(),
                "checkpoint_epoch": self.checkpoint.get("epoch"),
                "data_fingerprint": data_fingerprint(self.data),
                "defectkit_version": __version__,
                "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                **extra,
            },
        )


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _graph_summary(result: dict) -> dict:
    return {k: result[k] for k in ("accuracy", "ms_per_strip", "parity", "nodes_traced", "nodes_simplified")}


def export_run(options: ExportOptions) -> dict[str, Any]:
    """Exports ``options.run`` into ``options.out``; returns the report (also written as JSON).

    Raises:
        defectkit.Error subclasses: a missing or corrupt run, missing training data, an image
            size below one patch, an empty calibration folder, or INT8 failing the accuracy gate
            (:class:`AccuracyGateError`) unless ``allow_accuracy_drop``. Nothing is written then.
    """
    exporter = _Exporter(options)
    kinds = GRAPH_KINDS if options.graph == "auto" else ("tiled", options.graph)
    graphs = {kind: exporter.measure_graph(kind) for kind in dict.fromkeys(kinds)}
    kind, reason = exporter.choose_graph(graphs)
    chosen = graphs[kind]
    report: dict[str, Any] = {
        "run": str(options.run),
        "image_size": list(exporter.image_size),
        "validation_strips": len(exporter.validation),
        "graphs": {k: _graph_summary(v) for k, v in graphs.items()},
        "graph": kind,
        "graph_reason": reason,
        "fp32": {"accuracy": chosen["accuracy"], "parity": chosen["parity"]},
    }
    artifacts = {"model_fp32.onnx": (chosen["model"], "fp32", chosen["accuracy"]["thresholds"], {})}
    if options.int8:
        int8, summary = exporter.int8(chosen)
        report["int8"] = {
            **summary,
            "accuracy": int8["accuracy"],
            "image_auroc_drop": int8["image_drop"],
            "pixel_auroc_drop": int8["pixel_drop"],
            "heatmap_mae_vs_fp32": int8["heatmap_mae"],
            "score_mae_vs_fp32": int8["score_mae"],
            "ms_per_strip": int8["ms_per_strip"],
            "nodes": len(int8["model"].graph.node),
        }
        worst = max(int8["image_drop"], int8["pixel_drop"])
        report["int8"]["gate"] = {"limit": GATE, "passed": worst <= GATE}
        if worst > GATE and not options.allow_accuracy_drop:
            msg = (
                f"export: INT8 loses image AUROC {int8['image_drop']:+.4f} and pixel AUROC "
                f"{int8['pixel_drop']:+.4f} against FP32 on the validation split; the gate allows "
                f"{GATE}. Nothing was written; pass --allow-accuracy-drop to export anyway"
            )
            raise AccuracyGateError(msg)
        calibration = {"method": summary["method"], "float_islands": summary["float_islands"]}
        artifacts["model_int8.onnx"] = (
            int8["model"],
            "int8",
            int8["accuracy"]["thresholds"],
            {"calibration": calibration},
        )
    _write(options.out, artifacts, exporter, chosen["spec"], report)
    return report


def _write(out: pathlib.Path, artifacts: dict, exporter: _Exporter, spec: GraphSpec, report: dict) -> None:
    """Stages every file in a temporary folder beside ``out``, checks them, then moves them in."""
    out.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        report["files"] = {}
        for name, (model, precision, thresholds, extra) in artifacts.items():
            write_metadata(model, exporter.metadata(spec, precision, thresholds, extra))
            path = staging / name
            onnx.save(model, path)
            onnx.checker.check_model(str(path))  # what was written, not what is in memory
            report["files"][name] = {
                "sha256": _sha256(path),
                "bytes": path.stat().st_size,
                "thresholds": thresholds,
            }
        (staging / "export_report.json").write_text(json.dumps(report, indent=2, default=_json) + "\n")
        for path in staging.iterdir():
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)
