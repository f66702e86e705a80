"""``defectkit export`` end to end on a tiny trained run: files, metadata, parity across backends,
the accuracy gate, and refusals that leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np
import onnxruntime as ort
import pytest

import defectkit
from defectkit.cli.main import main
from defectkit.data.layout import discover_dataset
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.evaluation.sliding_window import image_score, sliding_window_heatmap
from defectkit.export import pipeline
from defectkit.export.measure import GraphRunner
from defectkit.export.metadata import ArtifactMetadata, read_metadata
from defectkit.export.pipeline import AccuracyGateError, ExportOptions, export_run
from defectkit.training import load_model, train
from tiny_training import tiny_config, write_tiny_dataset


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    root = tmp_path_factory.mktemp("export")
    data = write_tiny_dataset(root / "data")
    train(tiny_config(data, root / "run"), progress=False)
    return data, root / "run"


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> tuple[pathlib.Path, dict]:
    _, run = tiny_run
    out = tmp_path_factory.mktemp("artifact")
    # A width-2 model trained for seconds: INT8 may or may not pass the gate, which is tested apart.
    report = export_run(ExportOptions(run=run, out=out, int8=True, allow_accuracy_drop=True))
    return out, report


def test_writes_both_artifacts_and_a_report_with_checksums(exported) -> None:
    out, _ = exported
    assert sorted(p.name for p in out.iterdir()) == [
        "export_report.json",
        "model_fp32.onnx",
        "model_int8.onnx",
    ]
    written = json.loads((out / "export_report.json").read_text())
    for name, entry in written["files"].items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    for graph in written["graphs"].values():
        assert graph["nodes_simplified"]["total"] <= graph["nodes_traced"]["total"]
    assert set(written["graphs"]) == {"tiled", "full_frame", "patch"}
    assert written["int8"]["method"] in ("minmax", "entropy", "percentile")
    assert set(written["int8"]["gate"]) == {"limit", "passed"}


def test_artifacts_run_in_plain_onnxruntime(exported, tiny_run) -> None:
    out, _ = exported
    data, _ = tiny_run
    strip = read_strip_tifffile(discover_dataset(data).test[0].path)  # (4, H, W): ROI channel ignored
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        session = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
        heatmap, score = session.run(None, {"strip": strip[None]})
        assert heatmap.shape == (1, 1, *strip.shape[1:])
        assert score.shape == (1,)
        assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_metadata_reads_back_as_written(exported) -> None:
    out, report = exported
    fp32 = read_metadata(out / "model_fp32.onnx")
    assert ArtifactMetadata.from_props(fp32.to_props()) == fp32
    assert fp32.format_version == 1 and fp32.family == "reference_unet"
    assert fp32.graph == report["graph"] and fp32.precision == "fp32"
    assert fp32.thresholds == {
        k: report["files"]["model_fp32.onnx"]["thresholds"][k] for k in ("image", "pixel")
    }
    assert fp32.provenance["defectkit_version"] == defectkit.__version__
    assert fp32.provenance["data_fingerprint"].startswith("sha256:")
    int8 = read_metadata(out / "model_int8.onnx")
    assert int8.precision == "int8" and int8.provenance["calibration"]["method"] == report["int8"]["method"]


def test_fp32_matches_pytorch_sliding_window_in_every_backend(exported, tiny_run) -> None:
    """PyTorch (defectkit eval's path), ONNX Runtime from Python and the C++ runtime agree."""
    out, _ = exported
    data, run = tiny_run
    assert_fp32_backends_agree(out, data, run)


def assert_fp32_backends_agree(out: pathlib.Path, data: pathlib.Path, run: pathlib.Path) -> None:
    model, info = load_model(run)
    session = ort.InferenceSession(str(out / "model_fp32.onnx"), providers=["CPUExecutionProvider"])
    native = defectkit.Inspector(out / "model_fp32.onnx")
    for sample in discover_dataset(data).test:
        strip = read_strip_tifffile(sample.path)
        expected = sliding_window_heatmap(model, strip[:3] / 255.0, patch=info["patch_size"])
        heatmap, score = session.run(None, {"strip": strip[None]})
        np.testing.assert_allclose(heatmap[0, 0], expected, atol=1e-4)
        assert score[0] == pytest.approx(image_score(expected), abs=1e-4)
        inspection = native.inspect(sample.path)
        np.testing.assert_allclose(inspection.heatmap, heatmap[0, 0], atol=1e-5)
        assert inspection.score == pytest.approx(float(score[0]), abs=1e-5)


def test_int8_stays_close_to_fp32_and_native_agrees(exported, tiny_run) -> None:
    out, report = exported
    data, _ = tiny_run
    session = ort.InferenceSession(str(out / "model_int8.onnx"), providers=["CPUExecutionProvider"])
    fp32 = ort.InferenceSession(str(out / "model_fp32.onnx"), providers=["CPUExecutionProvider"])
    native = defectkit.Inspector(out / "model_int8.onnx")
    for sample in discover_dataset(data).test:
        strip = read_strip_tifffile(sample.path)[None]
        (q, _), (f, _) = session.run(None, {"strip": strip}), fp32.run(None, {"strip": strip})
        assert np.abs(q - f).mean() < 0.05  # INT8 noise, not a different model
        np.testing.assert_allclose(native.inspect(sample.path).heatmap, q[0, 0], atol=1e-5)
    assert report["int8"]["heatmap_mae_vs_fp32"] < 0.05


def test_compare_fusion_exports_and_agrees_across_backends(tiny_run, tmp_path) -> None:
    """The shared-encoder model's per-scale |target - reference| minimum survives tracing,
    simplification and INT8: PyTorch, ONNX Runtime and the C++ runtime agree on it too."""
    data, _ = tiny_run
    run = tmp_path / "run"
    train(tiny_config(data, run, fusion="compare", epochs=1), progress=False)
    out = tmp_path / "artifact"
    report = export_run(ExportOptions(run=run, out=out, int8=True, allow_accuracy_drop=True))
    assert load_model(run)[1]["model_config"]["fusion"] == "compare"
    assert_fp32_backends_agree(out, data, run)
    fp32 = ort.InferenceSession(str(out / "model_fp32.onnx"), providers=["CPUExecutionProvider"])
    native = defectkit.Inspector(out / "model_int8.onnx")
    for sample in discover_dataset(data).test:
        (heatmap, _) = fp32.run(None, {"strip": read_strip_tifffile(sample.path)[None]})
        assert np.abs(native.inspect(sample.path).heatmap - heatmap[0, 0]).mean() < 0.05
    assert report["int8"]["heatmap_mae_vs_fp32"] < 0.05


def test_patch_graph_serves_strips_of_any_size_through_the_native_runtime(tiny_run, tmp_path) -> None:
    data, run = tiny_run
    export_run(ExportOptions(run=run, out=tmp_path, graph="patch"))
    model, info = load_model(run)
    inspector = defectkit.Inspector(tmp_path / "model_fp32.onnx")
    strip = read_strip_tifffile(discover_dataset(data).test[0].path)[:, :150, :]  # not the training size
    expected = sliding_window_heatmap(model, strip[:3] / 255.0, patch=info["patch_size"])
    inspection = inspector.inspect(np.ascontiguousarray(strip))
    np.testing.assert_allclose(inspection.heatmap, expected, atol=1e-4)


def test_patch_artifacts_native_tiling_equals_onnxruntime_from_python(tiny_run, tmp_path) -> None:
    """FP32 and INT8 patch artifacts: C++ tiling, batching and stitching vs ORT from Python with
    the Python tiling and stitching, on the same strips."""
    data, run = tiny_run
    export_run(ExportOptions(run=run, out=tmp_path, graph="patch", int8=True, allow_accuracy_drop=True))
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        meta = read_metadata(tmp_path / name)
        python = GraphRunner(str(tmp_path / name), "patch", meta.tiling["patch"], meta.tiling["min_overlap"])
        native = defectkit.Inspector(tmp_path / name)
        for sample in discover_dataset(data).test:
            strip = read_strip_tifffile(sample.path)
            heatmap, score = python.run(strip)
            inspection = native.inspect(sample.path)
            np.testing.assert_allclose(inspection.heatmap, heatmap, atol=1e-5)
            assert inspection.score == pytest.approx(score, abs=1e-5)


def test_seed3ch_artifact_has_the_seed_layout(tiny_run, tmp_path) -> None:
    data, run = tiny_run
    raw_dir, seed_dir = tmp_path / "raw", tmp_path / "seed"
    export_run(ExportOptions(run=run, out=raw_dir, graph="tiled"))
    export_run(ExportOptions(run=run, out=seed_dir, graph="tiled", output_format="seed3ch"))
    strip = read_strip_tifffile(discover_dataset(data).test[0].path)[None]
    (raw, _) = ort.InferenceSession(str(raw_dir / "model_fp32.onnx")).run(None, {"strip": strip})
    (three, _) = ort.InferenceSession(str(seed_dir / "model_fp32.onnx")).run(None, {"strip": strip})
    by_hand = np.zeros((1, 3, *strip.shape[2:]), np.float32)
    by_hand[:, 0] = raw[:, 0]
    np.testing.assert_array_equal(three, by_hand)
    assert read_metadata(seed_dir / "model_fp32.onnx").outputs["format"] == "seed3ch"


def test_accuracy_gate_refuses_and_writes_nothing(tiny_run, tmp_path, monkeypatch) -> None:
    _, run = tiny_run
    monkeypatch.setattr(pipeline, "GATE", -1.0)  # no INT8 model can pass: the refusal path runs
    options = ExportOptions(run=run, out=tmp_path / "gated", int8=True, graph="tiled", methods=("minmax",))
    with pytest.raises(AccuracyGateError, match="allow-accuracy-drop"):
        export_run(options)
    assert not (tmp_path / "gated").exists()
    options.allow_accuracy_drop = True
    report = export_run(options)
    assert report["int8"]["gate"]["passed"] is False
    assert (tmp_path / "gated" / "model_int8.onnx").is_file()


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
def test_refusals_name_the_problem_and_leave_nothing(tiny_run, tmp_path, make_case, error, message) -> None:
    _, run = tiny_run
    options = make_case(run, tmp_path)
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


def test_cli_export_then_eval_of_the_artifact(tiny_run, tmp_path, capsys) -> None:
    data, run = tiny_run
    assert main(["export", str(run), "--out", str(tmp_path / "a"), "--graph", "tiled"]) == 0
    result = tmp_path / "eval.json"
    assert main(["eval", str(tmp_path / "a" / "model_fp32.onnx"), str(data), "--json", str(result)]) == 0
    metrics = json.loads(result.read_text())
    assert {"image_auroc", "pixel_auroc", "per_category", "thresholds"} <= set(metrics)
