"""``defectkit export`` end to end on the fixture model (strip_fixture.py): files, metadata, 7-bit
weights, and refusals that leave nothing behind. Parity across backends: test_export_parity.py."""

from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np
import pytest

import defectkit
from defectkit.artifact import ArtifactMetadata, read_metadata
from defectkit.cli.main import main
from defectkit.export.pipeline import ExportOptions, export_run

from .parity import QUICK, export_quick, fixture_strips, ort_heatmap


@pytest.fixture(scope="module")
def auto(fixture_run, tmp_path_factory) -> tuple[pathlib.Path, dict]:
    out = tmp_path_factory.mktemp("auto")
    return out, export_quick(fixture_run.run, out, int8=True)


def test_writes_both_artifacts_and_a_report_of_every_candidate(auto) -> None:
    out, _ = auto
    assert sorted(p.name for p in out.iterdir()) == [
        "export_report.json",
        "model_fp32.onnx",
        "model_int8.onnx",
    ]
    written = json.loads((out / "export_report.json").read_text())
    for name, entry in written["files"].items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    for nodes in written["nodes"].values():
        assert nodes["nodes_simplified"]["total"] <= nodes["nodes_traced"]["total"]
    assert {"fp32 tiled", "fp32 full_frame", "int8 " + written["int8"]["graph"] + " minmax"} <= set(
        written["candidates"]
    )
    for entry in written["candidates"].values():
        comparison = entry["comparison"]
        assert comparison["samples"] == written["decision"]["samples"] == 12
        low, high = comparison["image_auroc"]["interval"]
        assert low <= comparison["image_auroc"]["drop"] <= high
        assert entry["outcome"]
    shipped = [c for c in written["candidates"].values() if c["outcome"].startswith("shipped")]
    assert len(shipped) == 2
    assert written["decision"]["warnings"]  # 12 validation strips cannot resolve the tolerance: said so
    assert set(written["int8"]["gate"]) >= {"limit", "passed", "verdict", "image_auroc", "pixel_auroc"}


def test_artifacts_run_in_plain_onnxruntime(auto, fixture_run) -> None:
    out, _ = auto
    strip = fixture_strips(fixture_run)[0]
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        heatmap, _ = ort_heatmap(out / name, strip)
        assert heatmap.shape == strip.shape[1:]
        assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_the_graph_has_the_channel_counts_int8_kernels_run_well(auto) -> None:
    """The two-class head exports as its folded defect logit (W1 - W0) computed in 16 lanes, one
    kept, and a Sigmoid: no Softmax in either artifact. The first conv reads 4 channels (the
    3 captures and a zero-weight pad): model.py's HEAD_LANES and INPUT_CHANNEL_MULTIPLE."""
    import onnx
    from onnx import numpy_helper

    out, _ = auto
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        ops = [n.op_type for n in onnx.load(out / name).graph.node]
        assert "Softmax" not in ops, name
        assert ops.count("Sigmoid") == 1, name
    fp32 = onnx.load(out / "model_fp32.onnx").graph
    producer = {o: n for n in fp32.node for o in n.output}
    weights = {t.name: numpy_helper.to_array(t) for t in fp32.initializer}
    node = producer[next(n for n in fp32.node if n.op_type == "Sigmoid").input[0]]
    while node.op_type != "Conv":  # the Slice keeping lane 0 (tiled graphs: and the tile stitching)
        node = producer[node.input[0]]
    head = weights[node.input[1]]
    assert head.shape[0] == 16 and np.array_equal(head, np.broadcast_to(head[:1], head.shape))
    first = weights[next(n for n in fp32.node if n.op_type == "Conv").input[1]]
    assert first.shape[1] == 4 and not first[:, 3].any()


def test_metadata_reads_back_as_written(auto) -> None:
    """Format 2 through the Python schema and the native parser alike (docs/ARTIFACT.md)."""
    out, report = auto
    fp32 = read_metadata(out / "model_fp32.onnx")
    assert ArtifactMetadata.from_props(fp32.to_props()) == fp32
    assert fp32.format_version == 2 and fp32.family == "reference_unet" and fp32.precision == "fp32"
    assert fp32.family_section["graph"] == report["graph"]
    assert [s.name for s in fp32.inputs] == ["strip"] and fp32.inputs[0].shape[1:] == ("channels", 160, 96)
    assert [s.name for s in fp32.outputs] == ["heatmap", "score"]
    assert fp32.thresholds == {
        k: report["files"]["model_fp32.onnx"]["thresholds"][k] for k in ("image", "pixel")
    }
    assert fp32.provenance["defectkit_version"] == defectkit.__version__
    assert fp32.provenance["data_fingerprint"].startswith("sha256:")
    int8 = read_metadata(out / "model_int8.onnx")
    assert int8.precision == "int8" and int8.provenance["calibration"]["method"] == report["int8"]["method"]
    assert int8.family_section["graph"] == report["int8"]["graph"]
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        python, native = read_metadata(out / name), defectkit.read_artifact_metadata(out / name)
        assert (native.family, native.precision, native.format_version) == (
            python.family,
            python.precision,
            2,
        )
        assert [(s.name, s.dtype) for s in native.inputs] == [(s.name, s.dtype) for s in python.inputs]
        assert [(s.name, s.dtype) for s in native.outputs] == [(s.name, s.dtype) for s in python.outputs]
        assert dict(native.thresholds) == pytest.approx(python.thresholds)


def test_int8_weights_are_7_bit_so_every_x86_cpu_computes_the_same(auto, fixture_run, tmp_path) -> None:
    """Without AVX512-VNNI, ONNX Runtime adds pairs of uint8 x int8 products in 16 bits with
    saturation: full-range weights (+-127) then give other answers (docs/experiments/
    int8_portability.md). Export's default keeps them within +-64 and says so in the file; 8 bits
    is a choice, declared as such."""
    import onnx

    from defectkit.export.quantize import largest_int8_weight

    out, report = auto
    assert report["int8"]["weight_bits"] == 7
    assert largest_int8_weight(onnx.load(out / "model_int8.onnx")) == 64  # per channel: each reaches it
    assert largest_int8_weight(onnx.load(out / "model_fp32.onnx")) == 0
    assert read_metadata(out / "model_int8.onnx").int8_weight_bits == 7
    assert defectkit.read_artifact_metadata(out / "model_int8.onnx").int8_weight_bits == 7
    assert read_metadata(out / "model_fp32.onnx").int8_weight_bits is None
    if defectkit._native.cpu_sums_int8_products_exactly():  # elsewhere export refuses 8 (test_options.py)
        eight = dict(graph="full_frame", methods=("minmax",), int8_weight_bits=8)
        export_quick(fixture_run.run, tmp_path, int8=True, **eight)
        assert largest_int8_weight(onnx.load(tmp_path / "model_int8.onnx")) == 127
        assert defectkit.read_artifact_metadata(tmp_path / "model_int8.onnx").int8_weight_bits == 8


def test_int8_weights_beyond_the_declared_range_are_not_written(fixture_run, tmp_path, monkeypatch) -> None:
    """Export checks the weights against the range the file will declare (were ONNX Runtime's
    quantiser to ignore the reduced range, the runtime would trust a false declaration)."""
    from defectkit.errors import Error
    from defectkit.export import pipeline

    monkeypatch.setattr(pipeline, "WEIGHT_LIMITS", {7: 63, 8: 127})
    with pytest.raises(Error, match="INT8 weights reach 64, beyond the 7-bit range it declares"):
        export_quick(fixture_run.run, tmp_path / "out", int8=True, graph="full_frame", methods=("minmax",))
    assert not list((tmp_path / "out").glob("*.onnx"))


@pytest.mark.parametrize(
    ("make_case", "error", "message"),
    [
        (
            lambda run, tmp: ExportOptions(run=tmp / "missing", out=tmp / "o"),
            defectkit.FileMissingError,
            "no such",
        ),
        (lambda run, tmp: ExportOptions(run=_corrupt(tmp), out=tmp / "o"), defectkit.BadFileError, "best.pt"),
        (
            lambda run, tmp: ExportOptions(run=run, out=tmp / "o", image_size=(32, 400)),
            defectkit.InvalidArgumentError,
            "smaller than one 64x64 patch",
        ),
        (
            lambda run, tmp: ExportOptions(run=run, out=tmp / "o", int8=True, calib=_empty(tmp)),
            defectkit.InvalidArgumentError,
            "holds no strips",
        ),
    ],
)
def test_refusals_name_the_problem_and_leave_nothing(
    fixture_run, tmp_path, make_case, error, message
) -> None:
    options = make_case(fixture_run.run, tmp_path)
    with pytest.raises(error, match=message):
        export_run(options)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def _corrupt(tmp: pathlib.Path) -> pathlib.Path:
    run = tmp / "corrupt"
    run.mkdir()
    (run / "best.pt").write_bytes(b"not a checkpoint")
    return run


def _empty(tmp: pathlib.Path) -> pathlib.Path:
    folder = tmp / "calib"
    folder.mkdir()
    (folder / "notes.txt").write_text("no strips here")
    return folder


def test_cli_export_then_eval_of_the_artifact(fixture_run, tmp_path) -> None:
    args = ["export", str(fixture_run.run), "--out", str(tmp_path / "a"), "--graph", "tiled"]
    assert main(args) == 0
    result = tmp_path / "eval.json"
    assert (
        main(["eval", str(tmp_path / "a" / "model_fp32.onnx"), str(fixture_run.data), "--json", str(result)])
        == 0
    )
    metrics = json.loads(result.read_text())
    assert {"image_auroc", "pixel_auroc", "per_category", "thresholds"} <= set(metrics)


def test_a_failed_gate_writes_nothing_unless_allowed(fixture_run, tmp_path, monkeypatch) -> None:
    """The refusal path: no INT8 candidate can pass a negative tolerance, so export stops, names
    the closest candidate, and leaves the folder empty; --allow-accuracy-drop writes it, flagged."""
    from defectkit.export import pipeline
    from defectkit.export.pipeline import AccuracyGateError

    monkeypatch.setattr(pipeline, "GATE", -1.0)
    options = ExportOptions(run=fixture_run.run, out=tmp_path / "gated", int8=True, graph="tiled", **QUICK)
    options.allow_accuracy_drop = False
    with pytest.raises(AccuracyGateError, match="closest, int8 tiled"):
        export_run(options)
    assert not (tmp_path / "gated").exists() or not any((tmp_path / "gated").iterdir())
    options.fp32_if_refused = True  # what the demo asks: FP32 alone, the refusal in the report
    report = export_run(options)
    refusal = report["int8"]["refused"]
    assert "closest, int8 tiled" in refusal and "Nothing was written" not in refusal
    assert sorted(p.name for p in (tmp_path / "gated").glob("*.onnx")) == ["model_fp32.onnx"]
    assert set(report["files"]) == {"model_fp32.onnx"}
    options.fp32_if_refused = False
    options.out = tmp_path / "allowed"
    options.allow_accuracy_drop = True
    report = export_run(options)
    assert report["int8"]["gate"]["passed"] is False
    assert (tmp_path / "allowed" / "model_int8.onnx").is_file()
    options.allow_accuracy_drop, options.fp32_if_refused = False, True  # refused into the same folder
    export_run(options)
    assert not (tmp_path / "allowed" / "model_int8.onnx").exists()  # not left beside a report without it
    assert (tmp_path / "allowed" / "model_fp32.onnx").is_file()
