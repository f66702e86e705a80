"""Exported strip graphs against the PyTorch they replace, the C++ runtime against ONNX Runtime
from Python, INT8 against FP32, with the tolerances in parity.py; and a proof that those tolerances
see real mistakes (``test_the_tolerances_see_each_mistake``)."""

from __future__ import annotations

import pathlib

import numpy as np
import onnxruntime as ort
import pytest
import torch

import defectkit
from defectkit.artifact import read_metadata
from defectkit.export.pipeline import ExportOptions, export_run
from defectkit.models.reference_unet.export.graphs import GraphSpec, build_graph
from defectkit.models.reference_unet.export.runner import GraphRunner
from defectkit.models.reference_unet.sliding_window import (
    image_score,
    sliding_window_heatmap,
    stitch_nearest_centre,
)
from defectkit.training import load_model

from .parity import NATIVE_PARITY, export_quick, fixture_strips, int8_close, ort_heatmap
from .strip_fixture import TORCH_PARITY


@pytest.fixture(scope="module")
def tiled(fixture_run, tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("tiled")
    export_quick(fixture_run.run, out, int8=True, graph="tiled")
    return out


def test_tiled_fp32_is_evals_sliding_window_in_every_backend(tiled, fixture_run) -> None:
    model, info = load_model(fixture_run.run)
    native = defectkit.Inspector(tiled / "model_fp32.onnx")
    for path, strip in zip(fixture_run.test_paths, fixture_strips(fixture_run), strict=True):
        expected = sliding_window_heatmap(model, strip[:3] / 255.0, patch=info["patch_size"])
        heatmap, score = ort_heatmap(tiled / "model_fp32.onnx", strip)
        np.testing.assert_allclose(heatmap, expected, atol=TORCH_PARITY, rtol=0)
        assert score == pytest.approx(image_score(expected), abs=TORCH_PARITY)
        inspection = native.inspect(path)
        np.testing.assert_allclose(inspection.heatmap, heatmap, atol=NATIVE_PARITY, rtol=0)
        assert inspection.score == pytest.approx(score, abs=NATIVE_PARITY)


def test_full_frame_fp32_is_its_own_pytorch_module_in_every_backend(fixture_run, tmp_path) -> None:
    """Full frame is not the sliding window (one pass over the padded strip, no tile borders):
    it is compared with the PyTorch module it was traced from."""
    export_quick(fixture_run.run, tmp_path, graph="full_frame")
    model, info = load_model(fixture_run.run)
    strips = fixture_strips(fixture_run)
    spec = GraphSpec(
        "full_frame", strips[0].shape[1:], patch=info["patch_size"], min_overlap=info["patch_size"] // 8
    )
    module = build_graph(model, spec)
    native = defectkit.Inspector(tmp_path / "model_fp32.onnx")
    for path, strip in zip(fixture_run.test_paths, strips, strict=True):
        with torch.no_grad():
            expected, expected_score = module(torch.from_numpy(strip[None, :3].copy()))
        heatmap, score = ort_heatmap(tmp_path / "model_fp32.onnx", strip)
        np.testing.assert_allclose(heatmap, expected[0, 0].numpy(), atol=TORCH_PARITY, rtol=0)
        assert score == pytest.approx(float(expected_score[0]), abs=TORCH_PARITY)
        np.testing.assert_allclose(native.inspect(path).heatmap, heatmap, atol=NATIVE_PARITY, rtol=0)
        window = sliding_window_heatmap(model, strip[:3] / 255.0, patch=info["patch_size"])
        assert np.abs(heatmap - window).max() > TORCH_PARITY  # truly another computation on this model


def test_int8_is_this_models_int8_and_native_agrees(tiled, fixture_run) -> None:
    native = defectkit.Inspector(tiled / "model_int8.onnx")
    for path, strip in zip(fixture_run.test_paths, fixture_strips(fixture_run), strict=True):
        q, _ = ort_heatmap(tiled / "model_int8.onnx", strip)
        f, _ = ort_heatmap(tiled / "model_fp32.onnx", strip)
        assert int8_close(q, f)
        np.testing.assert_allclose(native.inspect(path).heatmap, q, atol=NATIVE_PARITY, rtol=0)


def test_int8_score_is_the_box_filter_of_the_heatmap_it_returns(fixture_run, tmp_path) -> None:
    """The score a line thresholds is ``image_score`` of the artifact's own heatmap in float, not
    that box mean rounded again to the heatmap's 8-bit scale (a step of ~1/255: the filter ran as
    QLinearAveragePool before ``score_filter`` kept it float). The INT8 candidate with no float
    island, where nothing else keeps the filter float."""
    from defectkit.export.pipeline import _Exporter

    exporter = _Exporter(ExportOptions(run=fixture_run.run, out=tmp_path, int8=True, max_extensions=0))
    try:
        model = exporter.int8_candidate(exporter.fp32_candidate("full_frame"), "minmax", ()).model
    finally:
        exporter.close()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for strip in fixture_strips(fixture_run):
        heatmap, score = session.run(None, {"strip": strip[None]})
        assert float(score[0]) == pytest.approx(image_score(heatmap[0, 0], box=GraphSpec.box), abs=1e-6)


def test_the_tolerances_see_each_mistake(tiled, fixture_run, fixture_data, tmp_path) -> None:
    """Each mistake the parity tests guard against breaks their tolerance on this model."""
    from .strip_fixture import write_fixture_run

    model, info = load_model(fixture_run.run)
    patch = info["patch_size"]
    other = write_fixture_run(tmp_path / "other", fixture_data, seed=6)
    export_quick(other.run, tmp_path / "other_artifact", int8=True, graph="tiled", methods=("minmax",))
    for strip in fixture_strips(fixture_run):
        correct = sliding_window_heatmap(model, strip[:3] / 255.0, patch=patch)
        fp32, _ = ort_heatmap(tiled / "model_fp32.onnx", strip)
        assert not int8_close(np.full_like(fp32, 0.46), fp32)  # a constant heatmap
        assert not int8_close(ort_heatmap(tmp_path / "other_artifact" / "model_int8.onnx", strip)[0], fp32)
        unscaled = sliding_window_heatmap(model, strip[:3], patch=patch)  # 0..255 taken as 0..1
        assert np.abs(unscaled - correct).max() > 100 * TORCH_PARITY
        swapped = sliding_window_heatmap(model, strip[[1, 0, 2]] / 255.0, patch=patch)  # target <-> ref1
        assert np.abs(swapped - correct).max() > 100 * TORCH_PARITY
        ys, xs = GraphSpec("tiled", strip.shape[1:], patch, patch // 8).positions
        tiles = np.stack([correct[y : y + patch, x : x + patch] for y in ys for x in xs])
        # Tiles cut from the stitched map agree where they own pixels; recompute the true tiles:
        with torch.no_grad():
            x = torch.from_numpy(
                np.stack([strip[:3, y : y + patch, c : c + patch] / 255.0 for y in ys for c in xs])
            )
            tiles = model.defect_probability(x.float()).numpy()
        order = list(range(len(tiles)))
        order[0], order[1] = order[1], order[0]  # the first two tiles swapped
        mixed = stitch_nearest_centre(tiles[order], ys, xs, *strip.shape[1:])
        assert np.abs(mixed - correct).max() > 100 * TORCH_PARITY


def test_patch_graph_serves_strips_of_any_size_through_the_native_runtime(fixture_run, tmp_path) -> None:
    export_run(ExportOptions(run=fixture_run.run, out=tmp_path, graph="patch", max_extensions=0))
    model, info = load_model(fixture_run.run)
    inspector = defectkit.Inspector(tmp_path / "model_fp32.onnx")
    strip = fixture_strips(fixture_run)[0][:, :150, :]  # not the training size
    expected = sliding_window_heatmap(model, strip[:3] / 255.0, patch=info["patch_size"])
    inspection = inspector.inspect(np.ascontiguousarray(strip))
    np.testing.assert_allclose(inspection.heatmap, expected, atol=TORCH_PARITY, rtol=0)


def test_patch_artifacts_native_tiling_equals_onnxruntime_from_python(fixture_run, tmp_path) -> None:
    """FP32 and INT8 patch artifacts: C++ tiling, batching and stitching vs ORT from Python with
    the Python tiling and stitching, on the same strips."""
    export_quick(fixture_run.run, tmp_path, graph="patch", int8=True, methods=("minmax",))
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        tiling = read_metadata(tmp_path / name).family_section["tiling"]
        python = GraphRunner(str(tmp_path / name), "patch", tiling["patch"], tiling["min_overlap"])
        native = defectkit.Inspector(tmp_path / name)
        for path, strip in zip(fixture_run.test_paths, fixture_strips(fixture_run), strict=True):
            heatmap, score = python.run(strip)
            inspection = native.inspect(path)
            np.testing.assert_allclose(inspection.heatmap, heatmap, atol=NATIVE_PARITY, rtol=0)
            assert inspection.score == pytest.approx(score, abs=NATIVE_PARITY)


def test_compare_fusion_exports_and_agrees_across_backends(fixture_data, tmp_path) -> None:
    """The shared-encoder model's per-scale |target - reference| minimum survives tracing,
    simplification and INT8: PyTorch, ONNX Runtime and the C++ runtime agree on it too."""
    from .strip_fixture import FixtureRun, write_fixture_run

    run = write_fixture_run(tmp_path / "run", fixture_data, fusion="compare")
    # Percentile: on this random model minmax's ranges are too wide (correlation 0.74-0.87).
    export_quick(run.run, tmp_path / "artifact", int8=True, graph="tiled", methods=("percentile",))
    assert load_model(run.run)[1]["config"].family_config.fusion == "compare"
    model, info = load_model(run.run)
    fixture = FixtureRun(fixture_data, run.run)
    fp32_native = defectkit.Inspector(tmp_path / "artifact" / "model_fp32.onnx")
    int8_native = defectkit.Inspector(tmp_path / "artifact" / "model_int8.onnx")
    for path, strip in zip(fixture.test_paths, fixture_strips(fixture), strict=True):
        expected = sliding_window_heatmap(model, strip[:3] / 255.0, patch=info["patch_size"])
        heatmap, _ = ort_heatmap(tmp_path / "artifact" / "model_fp32.onnx", strip)
        np.testing.assert_allclose(heatmap, expected, atol=TORCH_PARITY, rtol=0)
        np.testing.assert_allclose(fp32_native.inspect(path).heatmap, heatmap, atol=NATIVE_PARITY, rtol=0)
        assert int8_close(int8_native.inspect(path).heatmap, heatmap)


@pytest.mark.parametrize(("input_stride", "head_stride", "readout"), [(1, 2, 0), (2, 2, 0), (1, 2, 1)])
def test_half_resolution_networks_export_and_agree_across_backends(
    fixture_data, tmp_path, input_stride, head_stride, readout
) -> None:
    """The options that leave full resolution early (the folded 6x6 stride-2 first conv, the
    upsampled logit, block1's readout added to it) survive tracing and simplification: PyTorch,
    ONNX Runtime and the C++ runtime agree on them as on DRAEM's network, and so does INT8 for
    ``head_stride`` 2 (input_stride 2, rejected on accuracy, is held to FP32 parity only)."""
    from .strip_fixture import FixtureRun, write_fixture_run

    shape = {"input_stride": input_stride, "head_stride": head_stride, "readout": readout}
    run = write_fixture_run(tmp_path / "run", fixture_data, **shape)
    export_quick(run.run, tmp_path / "artifact", int8=True, graph="full_frame", methods=("percentile",))
    model, info = load_model(run.run)
    assert (model.config.input_stride, model.config.head_stride) == (input_stride, head_stride)
    assert model.config.readout == readout
    fixture = FixtureRun(fixture_data, run.run)
    strips = fixture_strips(fixture)
    spec = GraphSpec(
        "full_frame", strips[0].shape[1:], patch=info["patch_size"], min_overlap=info["patch_size"] // 8
    )
    module = build_graph(model, spec)
    fp32_native = defectkit.Inspector(tmp_path / "artifact" / "model_fp32.onnx")
    int8_native = defectkit.Inspector(tmp_path / "artifact" / "model_int8.onnx")
    for path, strip in zip(fixture.test_paths, strips, strict=True):
        with torch.no_grad():
            expected, _ = module(torch.from_numpy(strip[None, :3].copy()))
        heatmap, _ = ort_heatmap(tmp_path / "artifact" / "model_fp32.onnx", strip)
        np.testing.assert_allclose(heatmap, expected[0, 0].numpy(), atol=TORCH_PARITY, rtol=0)
        np.testing.assert_allclose(fp32_native.inspect(path).heatmap, heatmap, atol=NATIVE_PARITY, rtol=0)
        if input_stride == 1:  # the folded 6x6 conv's INT8 on this random model: correlation 0.77-0.98
            assert int8_close(int8_native.inspect(path).heatmap, heatmap)


def test_seed3ch_artifact_has_the_seed_layout(fixture_run, tmp_path) -> None:
    raw_dir, seed_dir = tmp_path / "raw", tmp_path / "seed"
    export_quick(fixture_run.run, raw_dir, graph="tiled")
    export_quick(fixture_run.run, seed_dir, graph="tiled", output_format="seed3ch")
    strip = fixture_strips(fixture_run)[0][None]
    (raw, _) = ort.InferenceSession(str(raw_dir / "model_fp32.onnx")).run(None, {"strip": strip})
    (three, _) = ort.InferenceSession(str(seed_dir / "model_fp32.onnx")).run(None, {"strip": strip})
    by_hand = np.zeros((1, 3, *strip.shape[2:]), np.float32)
    by_hand[:, 0] = raw[:, 0]
    np.testing.assert_array_equal(three, by_hand)
    assert read_metadata(seed_dir / "model_fp32.onnx").family_section["output_format"] == "seed3ch"
