"""``defectkit export``: a trained run -> model_fp32.onnx [+ model_int8.onnx] + export_report.json.

Written once for every family: the run's family supplies an export plan
(:class:`defectkit.models.family.ExportPlan`: its graphs, how to run one on a
validation sample, its float groups, its metadata); this module traces and
simplifies the graphs, quantises, compares and writes.

Every choice is a paired comparison on the validation samples against one
reference, the trained network (the plan's reference graph, which parity
shows equal to it): a candidate ships only if its image and pixel AUROC are
shown to be within ``GATE`` of the reference's
(:mod:`defectkit.evaluation.evidence`). Which graph kind (the fastest that
passes), which calibration method (of those that pass, the one shown
closest), which float islands (only where the gate needs them), and the INT8
gate itself all follow that one rule; when the samples cannot decide, more are
synthesised (:mod:`defectkit.export.candidates`). Files are staged in a
temporary folder and moved into place only when everything passed, so a failed
export leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
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

from defectkit import families
from defectkit.artifact import write_metadata
from defectkit.errors import Error, InvalidArgumentError
from defectkit.evaluation.evidence import compare, pair_resolution
from defectkit.export.candidates import Candidate, DecisionSet
from defectkit.export.choices import choose_graph, choose_int8
from defectkit.export.onnx_graph import export_onnx
from defectkit.export.quantize import (
    CALIBRATION_METHODS,
    PORTABLE_WEIGHT_BITS,
    WEIGHT_BITS,
    WEIGHT_LIMITS,
    Calibration,
    largest_int8_weight,
    prepare,
)
from defectkit.training import load_model

__all__ = ["GATE", "AccuracyGateError", "ExportOptions", "export_run"]

logger = logging.getLogger("defectkit")

# The tolerance of every decision: the largest drop in image or pixel AUROC a candidate may show
# against the reference, at one-sided 95% confidence over all looks at the data.
GATE = 0.005
ALPHA = 0.05
# Times the validation samples may be extended when they cannot decide. Six batches (of 80 strips
# for the demo: 560 in all) give a real 0.002 pixel-AUROC loss (what every INT8 candidate of the
# demo's seed-0 model showed on the AMD EPYC, 2026-12-01) a fair chance to be shown within the
# 0.005 tolerance at the last look; only two candidates are measured on them.
MAX_EXTENSIONS = 6
PARITY_SAMPLES = 4
ARTIFACT_NAMES = ("model_fp32.onnx", "model_int8.onnx")  # what export writes into its folder
OUTPUT_FORMATS = ("raw", "seed3ch")


class AccuracyGateError(Error):
    """No INT8 candidate was shown to be within the gate of the trained model."""


@dataclasses.dataclass
class ExportOptions:
    """What ``defectkit export`` is asked to do; see the CLI for each option's meaning."""

    run: pathlib.Path
    out: pathlib.Path
    int8: bool = False
    calib: pathlib.Path | None = None
    image_size: tuple[int, int] | None = None  # the input size full-image graphs take
    graph: str = "auto"  # "auto" or one of the family's graph kinds
    output_format: str = "raw"  # reference_unet: "seed3ch" for the seed's heatmap layout
    roi: bool = False  # reference_unet: a fourth input channel masks the heatmap
    allow_accuracy_drop: bool = False
    fp32_if_refused: bool = False  # when the gate refuses INT8: write FP32 alone, the refusal in the report
    data: pathlib.Path | None = None  # the training data, when config.json's path no longer resolves
    validation_variants: int = 16  # per held-out sample, when the data has no valid/
    calibration_count: int = 8
    methods: tuple[str, ...] = tuple(CALIBRATION_METHODS)
    max_extensions: int = MAX_EXTENSIONS
    int8_weight_bits: int = PORTABLE_WEIGHT_BITS  # 7: exact on every x86-64 CPU; 8: AVX512-VNNI only

    def validate(self) -> None:
        problems = []
        if self.output_format not in OUTPUT_FORMATS:
            problems.append(f"output format must be raw or seed3ch, got {self.output_format!r}")
        unknown = sorted(set(self.methods) - set(CALIBRATION_METHODS))
        if unknown:
            problems.append(f"unknown calibration methods {unknown}; known: {sorted(CALIBRATION_METHODS)}")
        if not self.methods:
            problems.append("at least one calibration method is needed")
        if self.int8_weight_bits not in WEIGHT_BITS:
            problems.append(f"INT8 weight bits must be one of {WEIGHT_BITS}, got {self.int8_weight_bits}")
        elif self.int8 and self.int8_weight_bits == 8 and not _cpu_sums_int8_products_exactly():
            problems.append(
                "8-bit INT8 weights need a CPU with AVX512-VNNI: this one adds their products with "
                "16-bit saturation, so the gate would measure, and the runtime refuse, another model; "
                "leave --int8-weight-bits at 7"
            )
        if self.calib is not None and not self.calib.is_dir():
            problems.append(f"{self.calib}: calibration folder not found")
        if problems:
            raise InvalidArgumentError("export: " + "; ".join(problems))


class _Exporter:
    """The state one export shares between its steps."""

    def __init__(self, options: ExportOptions) -> None:
        options.validate()
        self.options = options
        self.network, self.info = load_model(options.run)
        self.config = self.info["config"]
        self.family = families.get(self.config.family)
        self.plan = self.family.export_plan(self.network, self.info, self.config, options)
        self.validation = list(self.plan.validation())
        self.warnings = self._check_size()
        self.export_nodes: dict[str, dict] = {}
        self.reference = self.fp32_candidate(self.plan.reference_kind)
        base = len(self.validation)
        self.decision = DecisionSet(
            self.validation,
            self.reference.runner.run,
            lambda round_index: self.plan.more_validation(round_index, max(base, 64)),
            tolerance=GATE,
            alpha=ALPHA,
            max_extensions=options.max_extensions,
        )
        self.decision.keep = self.reference
        self.calibrations: dict[tuple[str, str], Calibration] = {}

    def _check_size(self) -> list[str]:
        labels = [s.label for s in self.validation]
        defective = sum(labels)
        logger.info("[export] deciding on %d validation samples (%d defective)", len(labels), defective)
        resolution = pair_resolution(labels)
        if resolution <= GATE / 4:
            return []
        message = (
            f"{len(labels)} validation samples ({defective} defective) are too few to resolve the "
            f"{GATE} tolerance: one misordered (defective, good) pair moves image AUROC by "
            f"{resolution:.4f}; give the dataset a valid/ split of at least 60, half defective"
        )
        logger.warning("[export] %s", message)
        return [message]

    def fp32_candidate(self, kind: str) -> Candidate:
        model, nodes = export_onnx(self.plan.graph(kind), kind)
        self.export_nodes[kind] = nodes
        model = prepare(model)
        return Candidate(
            name=f"fp32 {kind}",
            precision="fp32",
            kind=kind,
            model=model,
            make_runner=lambda: self.plan.runner(kind, model),
        )

    def calibration(self, fp32: Candidate, method: str) -> Calibration:
        key = (fp32.kind, method)
        if key not in self.calibrations:
            self.calibrations[key] = Calibration(fp32.model, self.plan.calibration(fp32.kind), method)
        return self.calibrations[key]

    def int8_candidate(self, fp32: Candidate, method: str, islands: tuple[str, ...]) -> Candidate:
        groups = self.plan.float_groups(fp32.model)
        fixed = self.plan.fixed_float(fp32.model)
        nodes = list(dict.fromkeys([*fixed, *(n for group in islands for n in groups[group])]))
        model = self.calibration(fp32, method).quantize(
            nodes, self.plan.quantization(), self.options.int8_weight_bits
        )
        suffix = "".join(f" +{g}" for g in islands)
        return Candidate(
            name=f"int8 {fp32.kind} {method}{suffix}",
            precision="int8",
            kind=fp32.kind,
            model=model,
            make_runner=lambda: self.plan.runner(fp32.kind, model),
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
            size the family cannot take, an empty calibration folder, or no INT8 candidate shown
            within the gate (:class:`AccuracyGateError`) unless ``allow_accuracy_drop``. Nothing
            is written then.
    """
    exporter = _Exporter(options)
    try:
        return _export(exporter, options)
    finally:
        exporter.close()


def _choose_int8(
    exporter: _Exporter, options: ExportOptions, fp32: Candidate, pool: list, tried: list
) -> dict:
    """Chooses the INT8 candidate (or refuses); returns the report's ``int8`` entry."""
    # The chosen graph first, then any other that passed, fastest first.
    others = sorted(
        (c for c in pool if c is not fp32 and c.comparison.verdict == "pass"), key=lambda c: c.rank
    )
    int8 = choose_int8(
        [fp32, *others],
        options.methods,
        lambda graph: list(exporter.plan.float_groups(graph.model)),
        exporter.int8_candidate,
        exporter.decision,
        tried,
    )
    int8_tried = [c for c in tried if c.precision == "int8"]
    closest = int8 or min(int8_tried, key=lambda c: c.comparison.worst_upper_bound)
    if int8 is None:
        if not options.allow_accuracy_drop:
            reason = (
                f"no INT8 candidate was shown within {GATE} AUROC of the trained network "
                f"({len(int8_tried)} tried); the closest, {closest.name}: {closest.comparison.describe()}"
            )
            if options.fp32_if_refused:
                logger.warning("[export] INT8 refused: %s; writing FP32 alone", reason)
                closest.outcome = "closest INT8 candidate; refused by the gate"
                return {"refused": reason}
            msg = f"export: {reason}. Nothing was written; pass --allow-accuracy-drop to write it anyway"
            raise AccuracyGateError(msg)
        logger.warning("[export] writing %s although it failed the gate", closest.name)
    closest.outcome = "shipped as model_int8.onnx" + ("" if int8 else " (gate failed, --allow-accuracy-drop)")
    own_fp32 = next(c for c in tried if c.precision == "fp32" and c.kind == closest.kind)
    exporter.decision.measure(own_fp32)  # the same samples as the INT8 candidate
    exporter.decision.measure(closest)  # (a candidate out of focus missed the later extensions)
    versus_fp32 = compare(own_fp32.outputs, closest.outputs, GATE, alpha=exporter.decision.look_alpha)
    return {
        "candidate": closest,
        "graph": closest.kind,
        "method": closest.method,
        "float_islands": list(closest.islands),
        "gate": {
            "limit": GATE,
            "passed": int8 is not None,
            "versus": "the trained network (reference)",
            **closest.summary()["comparison"],
        },
        "versus_own_fp32": {m.metric: m.drop for m in versus_fp32.metrics.values()},
        "calibration": str(options.calib) if options.calib else "the family's training samples",
        "calibration_samples": options.calibration_count,
        "quantization": exporter.plan.quantization() or "every op type ONNX Runtime quantises, QDQ",
        "weight_bits": options.int8_weight_bits,
    }


def _export(exporter: _Exporter, options: ExportOptions) -> dict[str, Any]:
    plan, reference = exporter.plan, exporter.reference
    pool = [reference if kind == reference.kind else exporter.fp32_candidate(kind) for kind in plan.kinds]
    if options.graph == "auto":
        fp32, reason = choose_graph(pool, reference, exporter.decision)
        if fp32 is None:  # the reference graph is the trained network: failing it is a bug, not data
            msg = "export: no graph kind matches the trained network, not even the reference graph"
            raise Error(msg)
    else:
        fp32, reason = pool[0], "asked for"
        exporter.decision.measure(fp32)
    fp32.outcome = "shipped as model_fp32.onnx"
    tried: list[Candidate] = list(dict.fromkeys([reference, *pool]))
    artifacts = {"model_fp32.onnx": fp32}
    report: dict[str, Any] = {"run": str(options.run), "family": exporter.family.name}
    if options.int8:
        report["int8"] = _choose_int8(exporter, options, fp32, pool, tried)
        if "refused" not in report["int8"]:
            artifacts["model_int8.onnx"] = report["int8"].pop("candidate")
    for candidate in tried:
        if not candidate.outcome:
            candidate.outcome = _dropped_because(candidate)
    report.update(
        {
            "graph": fp32.kind,
            "graph_reason": reason,
            "decision": {
                "reference": f"the trained network as its {plan.reference_kind} graph",
                "tolerance": GATE,
                "alpha": ALPHA,
                "first_look_alpha": exporter.decision.alpha_for(0),
                "last_look_alpha": exporter.decision.alpha_for(exporter.decision.max_extensions),
                "validation_samples": exporter.decision.base,
                "samples": len(exporter.decision.samples),
                "extensions": exporter.decision.extensions,
                "warnings": exporter.warnings,
            },
            "candidates": {c.name: c.summary() for c in tried},
            "nodes": exporter.export_nodes,
        }
    )
    for candidate in artifacts.values():
        outputs = [candidate.runner.run(sample) for sample in exporter.validation]
        heatmaps, scores = [h for h, _ in outputs], [s for _, s in outputs]
        entry = {"graph": candidate.kind, "accuracy": plan.accuracy(exporter.validation, heatmaps, scores)}
        if candidate.precision == "fp32":
            entry["parity"] = plan.parity(
                candidate.kind, candidate.runner, exporter.validation[:PARITY_SAMPLES]
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
            thresholds = report[candidate.precision]["accuracy"]["thresholds"]
            provenance: dict[str, Any] = {
                "run_config": exporter.config.to_dict(),
                "checkpoint_epoch": exporter.info.get("epoch"),
            }
            if candidate.precision == "int8":
                provenance["calibration"] = {
                    "method": candidate.method,
                    "float_islands": list(candidate.islands),
                }
            metadata = exporter.plan.metadata(
                candidate.kind, candidate.model, candidate.precision, thresholds, provenance
            )
            if candidate.precision == "int8":
                bits = metadata.int8_weight_bits = exporter.options.int8_weight_bits
                largest = largest_int8_weight(candidate.model)
                if largest > WEIGHT_LIMITS[bits]:  # the file would claim a range its weights exceed
                    msg = f"export: INT8 weights reach {largest}, beyond the {bits}-bit range it declares"
                    raise Error(msg)
            write_metadata(candidate.model, metadata)
            path = staging / name
            onnx.save(candidate.model, path)
            onnx.checker.check_model(str(path))  # what was written, not what is in memory
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            report["files"][name] = {"sha256": digest, "bytes": path.stat().st_size, "thresholds": thresholds}
        (staging / "export_report.json").write_text(json.dumps(report, indent=2, default=_json) + "\n")
        for path in staging.iterdir():
            os.replace(path, out / path.name)
        # An artifact an earlier export left here that this one did not write (INT8 refused, or not
        # asked for) would sit beside a report that does not describe it: remove it, and say so.
        for name in ARTIFACT_NAMES:
            stale = out / name
            if name not in artifacts and stale.is_file():
                stale.unlink()
                logger.warning("[export] removed %s, left by an earlier export (this one wrote none)", stale)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _cpu_sums_int8_products_exactly() -> bool:
    """The native runtime's answer (AVX512-VNNI); without the native module, assume not."""
    try:
        from defectkit import _native
    except ImportError:
        return False
    return bool(_native.cpu_sums_int8_products_exactly())


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)
