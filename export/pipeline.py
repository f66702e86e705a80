"""``defectkit export``: a trained run -> model_fp32.onnx [+ model_int8.onnx] + export_report.json.

Every choice is a paired comparison on the validation strips against one
reference, the trained network as ``defectkit eval`` runs it (the tiled FP32
graph, which parity shows equal to eval's sliding window): a candidate ships
only if its image and pixel AUROC are shown to be within ``GATE`` of the
reference's (:mod:`defectkit.export.evidence`). Which graph kind (the fastest
that passes), which calibration method (of those that pass, the one shown
closest), which float islands (only where the gate needs them), and the INT8
gate itself all follow that one rule; when the strips cannot decide, more are
synthesised (:mod:`defectkit.export.candidates`). Files are staged in a
temporary folder and moved into place only when everything passed, so a failed
export leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import shutil
import tempfile
from typing import Any

import numpy as np
import onnx

from defectkit.data.training_set import read_strip_shape
from defectkit.errors import Error, InvalidArgumentError
from defectkit.export.candidates import Candidate, DecisionSet
from defectkit.export.choices import choose_graph, choose_int8
from defectkit.export.describe import sha256, write_artifact_metadata
from defectkit.export.evidence import compare, pair_resolution
from defectkit.export.graphs import GRAPH_KINDS, GraphSpec, build_graph
from defectkit.export.measure import accuracy, graph_feed
from defectkit.export.onnx_graph import export_onnx
from defectkit.export.parity import parity
from defectkit.export.quantize import CALIBRATION_METHODS, Calibration, node_groups, prepare
from defectkit.export.strip_sets import calibration_strips, extension_strips, validation_strips
from defectkit.training import load_model
from defectkit.training.config import TrainConfig

__all__ = ["GATE", "AccuracyGateError", "ExportOptions", "export_run"]

logger = logging.getLogger("defectkit")

# The tolerance of every decision: the largest drop in image or pixel AUROC a candidate may show
# against the reference, at one-sided 95% confidence over all looks at the data.
GATE = 0.005
ALPHA = 0.05
MAX_EXTENSIONS = 2  # times the validation strips may be extended when they cannot decide
PARITY_STRIPS = 4
OUTPUT_FORMATS = ("raw", "seed3ch")
FULL_IMAGE_KINDS = ("tiled", "full_frame")


class AccuracyGateError(Error):
    """No INT8 candidate was shown to be within the gate of the trained model."""


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
    validation_variants: int = 16  # per held-out strip, when the data has no valid/
    calibration_count: int = 8
    methods: tuple[str, ...] = tuple(CALIBRATION_METHODS)
    max_extensions: int = MAX_EXTENSIONS

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
        if not self.methods:
            problems.append("at least one calibration method is needed")
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
        self.warnings = self._check_size()
        self.modules: dict[str, Any] = {}
        self.export_nodes: dict[str, dict] = {}
        reference_kind = "patch" if options.graph == "patch" else "tiled"
        self.reference = self.fp32_candidate(reference_kind)
        self.decision = DecisionSet(
            self.validation,
            self.reference.runner.run,
            lambda round_index: extension_strips(
                self.config, self.data, self.image_size, round_index, max(len(self.validation), 64)
            ),
            tolerance=GATE,
            alpha=ALPHA,
            max_extensions=options.max_extensions,
        )
        self.calibrations: dict[tuple[str, str], Calibration] = {}
        self._calibration_strips: list[np.ndarray] | None = None

    def _check_size(self) -> list[str]:
        labels = [s.label for s in self.validation]
        defective = sum(labels)
        logger.info("[export] deciding on %d validation strips (%d defective)", len(labels), defective)
        resolution = pair_resolution(labels)
        if resolution <= GATE / 4:
            return []
        message = (
            f"{len(labels)} validation strips ({defective} defective) are too few to resolve the "
            f"{GATE} tolerance: one misordered (defective, good) pair moves image AUROC by "
            f"{resolution:.4f}; give the dataset a valid/ split of at least 60 strips, half defective"
        )
        logger.warning("[export] %s", message)
        return [message]

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

    def fp32_candidate(self, kind: str) -> Candidate:
        spec = self.spec(kind)
        self.modules[kind] = build_graph(self.network, spec)
        model, nodes = export_onnx(self.modules[kind], spec)
        self.export_nodes[kind] = nodes
        return Candidate(name=f"fp32 {kind}", precision="fp32", spec=spec, model=prepare(model))

    def calibration(self, fp32: Candidate, method: str) -> Calibration:
        key = (fp32.spec.kind, method)
        if key not in self.calibrations:
            if self._calibration_strips is None:
                self._calibration_strips = calibration_strips(
                    self.config,
                    self.data,
                    self.image_size,
                    self.options.calibration_count,
                    self.options.calib,
                )
            ys, xs = fp32.spec.positions
            channels = 4 if fp32.spec.roi else 3
            feeds = [
                graph_feed(s, fp32.spec.kind, channels, fp32.spec.patch, ys, xs)
                for s in self._calibration_strips
            ]
            self.calibrations[key] = Calibration(fp32.model, feeds, method)
        return self.calibrations[key]

    def int8_candidate(self, fp32: Candidate, method: str, islands: tuple[str, ...]) -> Candidate:
        groups = node_groups(fp32.model)
        nodes = [n for group in islands for n in groups[group]]
        model = self.calibration(fp32, method).quantize(nodes)
        suffix = "".join(f" +{g}" for g in islands)
        return Candidate(
            name=f"int8 {fp32.spec.kind} {method}{suffix}",
            precision="int8",
            spec=fp32.spec,
            model=model,
            method=method,
            islands=islands,
            float_nodes=len(nodes),
        )

    def close(self) -> None:
        for calibration in self.calibrations.values():
            calibration.close()


def export_run(options: ExportOptions) -> dict[str, Any]:
    """Exports ``options.run`` into ``options.out``; returns the report (also written as JSON).

    Raises:
        defectkit.Error subclasses: a missing or corrupt run, missing training data, an image
            size below one patch, an empty calibration folder, or no INT8 candidate shown within
            the gate (:class:`AccuracyGateError`) unless ``allow_accuracy_drop``. Nothing is
            written then.
    """
    exporter = _Exporter(options)
    try:
        return _export(exporter, options)
    finally:
        exporter.close()


def _export(exporter: _Exporter, options: ExportOptions) -> dict[str, Any]:
    kinds = FULL_IMAGE_KINDS if options.graph == "auto" else (options.graph,)
    reference = exporter.reference
    fp32_pool = [
        reference if kind == reference.spec.kind else exporter.fp32_candidate(kind) for kind in kinds
    ]
    if options.graph == "auto":
        fp32, reason = choose_graph(fp32_pool, reference, exporter.decision)
        if fp32 is None:  # the reference graph is the trained network: failing it is a bug, not data
            msg = "export: no graph kind matches the trained network, not even the tiled one"
            raise Error(msg)
    else:
        fp32, reason = fp32_pool[0], "asked for"
        exporter.decision.measure(fp32)
    fp32.outcome = "shipped as model_fp32.onnx"
    tried: list[Candidate] = list(dict.fromkeys([reference, *fp32_pool]))
    artifacts = {"model_fp32.onnx": fp32}
    report: dict[str, Any] = {"run": str(options.run), "image_size": list(exporter.image_size)}
    if options.int8:
        # The chosen graph first, then any other that passed, fastest first.
        others = sorted(
            (c for c in fp32_pool if c is not fp32 and c.comparison.verdict == "pass"), key=lambda c: c.rank
        )
        int8 = choose_int8(
            [fp32, *others],
            options.methods,
            lambda graph: list(node_groups(graph.model)),
            exporter.int8_candidate,
            exporter.decision,
            tried,
        )
        int8_tried = [c for c in tried if c.precision == "int8"]
        closest = int8 or min(int8_tried, key=lambda c: c.comparison.worst_upper_bound)
        if int8 is None:
            report_path = options.out / "export_report.json"
            if not options.allow_accuracy_drop:
                msg = (
                    f"export: no INT8 candidate was shown within {GATE} AUROC of the trained network "
                    f"({len(int8_tried)} tried); the closest, {closest.name}: "
                    f"{closest.comparison.describe()}. Nothing was written; pass --allow-accuracy-drop "
                    f"to write it anyway"
                )
                raise AccuracyGateError(msg)
            logger.warning("[export] writing %s although it failed the gate (%s)", closest.name, report_path)
        closest.outcome = "shipped as model_int8.onnx" + (
            "" if int8 else " (gate failed, --allow-accuracy-drop)"
        )
        artifacts["model_int8.onnx"] = closest
        own_fp32 = next(c for c in tried if c.precision == "fp32" and c.spec.kind == closest.spec.kind)
        exporter.decision.measure(own_fp32)  # the same strips as the INT8 candidate
        versus_fp32 = compare(own_fp32.outputs, closest.outputs, GATE, alpha=exporter.decision.look_alpha)
        report["int8"] = {
            "graph": closest.spec.kind,
            "method": closest.method,
            "float_islands": list(closest.islands),
            "gate": {
                "limit": GATE,
                "passed": int8 is not None,
                "versus": "the trained network (reference)",
                **closest.summary()["comparison"],
            },
            "versus_own_fp32": {m.metric: m.drop for m in versus_fp32.metrics.values()},
            "calibration": str(options.calib) if options.calib else "training strips with synthetic defects",
            "calibration_strips": options.calibration_count,
        }
    for candidate in tried:
        if not candidate.outcome:
            candidate.outcome = _dropped_because(candidate)
    report.update(
        {
            "graph": fp32.spec.kind,
            "graph_reason": reason,
            "decision": {
                "reference": "the trained network as defectkit eval runs it (the tiled FP32 graph)",
                "tolerance": GATE,
                "alpha": ALPHA,
                "per_look_alpha": exporter.decision.look_alpha,
                "validation_strips": exporter.decision.base,
                "strips": len(exporter.decision.strips),
                "extensions": exporter.decision.extensions,
                "warnings": exporter.warnings,
            },
            "candidates": {c.name: c.summary() for c in tried},
            "nodes": exporter.export_nodes,
        }
    )
    for candidate in artifacts.values():
        heatmaps, scores, _ = candidate.runner.run_all(exporter.validation)
        entry = {"graph": candidate.spec.kind, "accuracy": accuracy(exporter.validation, heatmaps, scores)}
        if candidate.precision == "fp32":
            kind = candidate.spec.kind
            entry["parity"] = parity(
                exporter.modules[kind],
                exporter.network,
                kind,
                candidate.runner,
                exporter.validation[:PARITY_STRIPS],
            )
        report[candidate.precision] = {**report.get(candidate.precision, {}), **entry}
    _write(options.out, artifacts, exporter, report)
    return report


def _dropped_because(candidate: Candidate) -> str:
    if candidate.comparison is None:
        return "not measured"
    verdict = candidate.comparison.verdict
    if verdict == "pass":
        return "passed; another passing candidate was preferred (faster, or shown closer)"
    return f"dropped: {verdict} against the gate"


def _write(out: pathlib.Path, artifacts: dict[str, Candidate], exporter: _Exporter, report: dict) -> None:
    """Stages every file in a temporary folder beside ``out``, checks them, then moves them in."""
    out.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        report["files"] = {}
        for name, candidate in artifacts.items():
            model = candidate.model
            thresholds = report[candidate.precision]["accuracy"]["thresholds"]
            extra = {}
            if candidate.precision == "int8":
                extra = {
                    "calibration": {"method": candidate.method, "float_islands": list(candidate.islands)}
                }
            write_artifact_metadata(exporter, model, candidate.spec, candidate.precision, thresholds, extra)
            path = staging / name
            onnx.save(model, path)
            onnx.checker.check_model(str(path))  # what was written, not what is in memory
            report["files"][name] = {
                "sha256": sha256(path),
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
