"""defectkit.Inspector against ONNX Runtime from Python on the same artifacts and strips:
tiling, nearest-centre stitching and scoring of patch artifacts, full-image artifacts,
every input form, thresholds, ROI, errors, threads and zero-copy input."""

from __future__ import annotations

import pathlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime
import pytest

import defectkit
from defectkit.data import write_strip
from defectkit.models.reference_unet.data.tiling import positions_along
from defectkit.models.reference_unet.sliding_window import image_score, stitch_nearest_centre

from .artifacts import OVERLAP, PATCH, strip_values, write_artifact


def reference_patch_heatmap(artifact: pathlib.Path, strip: np.ndarray) -> np.ndarray:
    """Tiles cut in numpy, run by onnxruntime's Python API, stitched by the evaluation code."""
    _, h, w = strip.shape
    ys = positions_along(h, PATCH, 1, min_overlap=OVERLAP)
    xs = positions_along(w, PATCH, 1, min_overlap=OVERLAP)
    tiles = np.stack([strip[:3, y : y + PATCH, x : x + PATCH] for y in ys for x in xs])  # (T, 3, p, p)
    session = onnxruntime.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"patch": tiles})  # (T, 1, p, p)
    return stitch_nearest_centre(out, ys, xs, h, w)


@pytest.fixture(scope="module")
def patch_artifact(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return write_artifact(tmp_path_factory.mktemp("artifacts") / "patch.onnx")


@pytest.fixture(scope="module")
def patch_inspector(patch_artifact: pathlib.Path) -> defectkit.Inspector:
    return defectkit.Inspector(patch_artifact, threads=1, max_batch=4)


@pytest.mark.parametrize("size", [(16, 16), (37, 29), (101, 17), (23, 50)])
def test_patch_artifact_equals_onnxruntime_from_python(
    patch_artifact: pathlib.Path, patch_inspector: defectkit.Inspector, size: tuple[int, int]
) -> None:
    strip = strip_values(3, *size, seed=sum(size))
    result = patch_inspector.inspect(strip)
    expected = reference_patch_heatmap(patch_artifact, strip)
    assert result.heatmap.shape == size
    assert result.heatmap.dtype == np.float32
    np.testing.assert_allclose(result.heatmap, expected, atol=1e-5, rtol=0)
    assert result.score == pytest.approx(image_score(expected, box=3), abs=1e-5)
    assert result.is_defective == (result.score >= 0.4)
    assert result.heatmap.flags.owndata or result.heatmap.base is not None  # a buffer numpy keeps alive


def test_tiled_artifact_equals_onnxruntime_from_python(tmp_path: pathlib.Path) -> None:
    artifact = write_artifact(tmp_path / "tiled.onnx", graph="tiled", size=(37, 29))
    strip = strip_values(4, 37, 29)
    result = defectkit.Inspector(artifact).inspect(strip)
    session = onnxruntime.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
    heatmap, score = session.run(None, {"strip": strip[None]})
    np.testing.assert_allclose(result.heatmap, heatmap[0, 0], atol=1e-5, rtol=0)
    assert result.score == pytest.approx(float(score[0]), abs=1e-6)  # the graph's own score output


def test_every_input_form_gives_the_path_result(
    patch_inspector: defectkit.Inspector, tmp_path: pathlib.Path
) -> None:
    strip = strip_values(4, 37, 29, seed=3)
    path = write_strip(tmp_path / "strip.tif", strip)
    expected = patch_inspector.inspect(path).heatmap
    hwc = np.ascontiguousarray(strip.transpose(1, 2, 0))
    forms = {
        "float32 CHW": (strip, "CHW"),
        "float32 HWC": (hwc, "HWC"),
        "uint8 CHW": (strip.astype(np.uint8), "CHW"),
        "uint16 HWC": ((hwc.astype(np.uint32) * 257).astype(np.uint16), "HWC"),
        "float64 CHW": (strip.astype(np.float64), "CHW"),
        "non-contiguous CHW": (np.asfortranarray(strip), "CHW"),
    }
    for name, (array, layout) in forms.items():
        np.testing.assert_array_equal(
            patch_inspector.inspect(array, layout=layout).heatmap, expected, err_msg=name
        )


def test_c_contiguous_arrays_are_read_without_a_copy(patch_inspector: defectkit.Inspector) -> None:
    # The bindings count the arrays they copy or convert; a test may look inside.
    from defectkit import _native

    strip = strip_values(3, 20, 20)
    before = _native.input_copies()
    patch_inspector.inspect(strip)
    patch_inspector.inspect(strip.astype(np.uint8))
    patch_inspector.inspect(np.ascontiguousarray(strip.transpose(1, 2, 0)), layout="HWC")
    assert _native.input_copies() == before
    patch_inspector.inspect(strip.astype(np.float64))
    patch_inspector.inspect(strip[:, ::-1])
    assert _native.input_copies() == before + 2


def test_batch_equals_one_by_one(patch_inspector: defectkit.Inspector, tmp_path: pathlib.Path) -> None:
    a, b = strip_values(3, 37, 29, seed=1), strip_values(4, 20, 40, seed=2)
    path = write_strip(tmp_path / "b.tif", b)
    results = patch_inspector.inspect_batch([a, path])
    assert [r.heatmap.shape for r in results] == [(37, 29), (20, 40)]
    np.testing.assert_array_equal(results[0].heatmap, patch_inspector.inspect(a).heatmap)
    np.testing.assert_array_equal(results[1].heatmap, patch_inspector.inspect(b).heatmap)


def test_thresholds_from_the_artifact_the_inspector_or_the_call(patch_artifact: pathlib.Path) -> None:
    strip = strip_values(3, 37, 29)
    default = defectkit.Inspector(patch_artifact).inspect(strip)
    assert (default.image_threshold, default.pixel_threshold) == pytest.approx((0.4, 0.6))
    assert sum(r.area for r in default.regions) == int((default.heatmap >= np.float32(0.6)).sum())
    strict = defectkit.Inspector(patch_artifact, image_threshold=2.0, pixel_threshold=2.0).inspect(strip)
    assert not strict.is_defective and strict.regions == []
    everything = defectkit.Inspector(patch_artifact, image_threshold=2.0).inspect(strip, pixel_threshold=0.0)
    assert [(r.x, r.y, r.width, r.height, r.area) for r in everything.regions] == [(0, 0, 29, 37, 37 * 29)]
    assert everything.regions[0].peak == pytest.approx(float(everything.heatmap.max()))
    assert isinstance(everything.regions[0], defectkit.Region)


def test_roi_zeroes_the_heatmap_outside_channel_three(
    patch_inspector: defectkit.Inspector, tmp_path: pathlib.Path
) -> None:
    strip = strip_values(4, 37, 29)
    plain = patch_inspector.inspect(strip).heatmap
    masked = patch_inspector.inspect(strip, roi=True)
    np.testing.assert_array_equal(masked.heatmap, np.where(strip[3] != 0, plain, 0))
    assert masked.score == pytest.approx(image_score(masked.heatmap, box=3), abs=1e-6)
    exported_roi = defectkit.Inspector(write_artifact(tmp_path / "roi.onnx", roi=True))
    np.testing.assert_array_equal(exported_roi.inspect(strip).heatmap, masked.heatmap)
    with pytest.raises(defectkit.InvalidArgumentError, match="needs 4-channel strips, this one has 3"):
        exported_roi.inspect(strip[:3])


def test_metadata_is_typed(patch_inspector: defectkit.Inspector) -> None:
    meta = patch_inspector.metadata
    assert meta["format_version"] == 1
    assert meta["graph"] == "patch"
    assert meta["image_size"] == (37, 29)
    assert meta["tiling"]["positions_y"] == positions_along(37, PATCH, 1, min_overlap=OVERLAP)
    assert meta["thresholds"]["image"] == pytest.approx(0.4)
    assert meta["input"]["fourth_channel"] == "ignore"
    assert meta["outputs"] == {"format": "raw", "heatmap": "heatmap", "score": None}
    assert meta["provenance"]["run_config"] == {"width": 16}
    assert patch_inspector.provider == "CPUExecutionProvider"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"format_version": ...}, "not a defectkit artifact: metadata has no 'defectkit.format_version'"),
        ({"format_version": "3"}, "format version 3 is newer than this runtime reads"),
        (
            {"family": "weld_fusion"},
            "a weld_fusion artifact; defectkit::Inspector runs reference_unet artifacts",
        ),
        (
            {
                "input": '{"name": "patch", "layout": "NHWC", "dtype": "float32", "scale": 255, "channels": '
                '["target", "ref1", "ref2"]}'
            },
            "layout 'NHWC'",
        ),
    ],
)
def test_unusable_artifacts_are_refused(tmp_path: pathlib.Path, overrides: dict, message: str) -> None:
    artifact = write_artifact(tmp_path / "bad.onnx", **overrides)
    with pytest.raises(defectkit.ModelError, match=message) as info:
        defectkit.Inspector(artifact)
    assert str(artifact) in str(info.value)


def test_bad_inputs_raise_clear_errors(patch_inspector: defectkit.Inspector, tmp_path: pathlib.Path) -> None:
    with pytest.raises(defectkit.FileMissingError):
        defectkit.Inspector(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx file")
    with pytest.raises(defectkit.ModelError, match=r"garbage\.onnx"):
        defectkit.Inspector(garbage)
    with pytest.raises(defectkit.InvalidArgumentError, match="or 4 \\(\\+ ROI\\), got 2"):
        patch_inspector.inspect(strip_values(3, 20, 20)[:2])
    with pytest.raises(defectkit.InvalidArgumentError, match="smaller than one 16 x 16 patch"):
        patch_inspector.inspect(strip_values(3, 20, 10))
    with pytest.raises(defectkit.InvalidArgumentError, match="dtype int32"):
        patch_inspector.inspect(strip_values(3, 20, 20).astype(np.int32))
    with pytest.raises(defectkit.InvalidArgumentError, match="layout must be 'CHW' or 'HWC'"):
        patch_inspector.inspect(strip_values(3, 20, 20), layout="WHC")  # type: ignore[arg-type]
    nan = strip_values(3, 20, 20)
    nan[1, 2, 3] = np.nan
    with pytest.raises(defectkit.InvalidArgumentError, match="NaN or Inf"):
        patch_inspector.inspect(nan)
    with pytest.raises(defectkit.FileMissingError):
        patch_inspector.inspect(tmp_path / "missing.tif")
    with pytest.raises(defectkit.InvalidArgumentError, match="expected a strip path or a numpy array"):
        patch_inspector.inspect([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(defectkit.BackendError, match="is not in the loaded ONNX Runtime"):
        defectkit.Inspector(garbage, provider="tensorrt")  # checked before the file is parsed


def test_provider_options_for_a_provider_that_takes_none_are_refused(patch_artifact: pathlib.Path) -> None:
    with pytest.raises(defectkit.InvalidArgumentError, match="openvino provider only; CPUExecutionProvider"):
        defectkit.Inspector(patch_artifact, provider_options={"device_type": "CPU"})
    assert defectkit.Inspector(patch_artifact, provider_options={}).provider == "CPUExecutionProvider"


def test_eight_threads_on_one_inspector_match_one_thread(patch_inspector: defectkit.Inspector) -> None:
    strips = [strip_values(3, 30 + 7 * k, 20 + 5 * k, seed=k) for k in range(4)]
    expected = [patch_inspector.inspect(s) for s in strips]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda k: (k % 4, patch_inspector.inspect(strips[k % 4])), range(64)))
    for k, result in results:
        np.testing.assert_array_equal(result.heatmap, expected[k].heatmap)
        assert result.score == expected[k].score
