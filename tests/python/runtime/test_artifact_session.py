"""defectkit.ArtifactSession and read_artifact_metadata: any artifact, named typed arrays in and out,
the native metadata structs as Python objects."""

from __future__ import annotations

import gc
import json
import pathlib
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import defectkit
from defectkit import _native
from defectkit.runtime import ArtifactMetadata, TensorSpec

V1 = pathlib.Path(__file__).resolve().parents[2] / "data" / "artifacts_v1"

INPUTS = [
    {
        "name": "image",
        "dtype": "uint8",
        "shape": ["batch", "height", "width", 3],
        "layout": "NHWC",
        "scale": 255.0,
        "meaning": "camera image",
    },
    {
        "name": "series",
        "dtype": "float32",
        "shape": ["batch", 8],
        "layout": "NT",
        "scale": None,
        "meaning": "",
    },
]
OUTPUTS = [
    {
        "name": "score",
        "dtype": "float32",
        "shape": ["batch"],
        "layout": "N",
        "scale": None,
        "meaning": "a score",
    },
    {"name": "peak", "dtype": "int64", "shape": ["batch"], "layout": "N", "scale": None, "meaning": "argmax"},
]


def write_fusion_artifact(path: pathlib.Path, **overrides: str) -> pathlib.Path:
    """Two inputs, two outputs: score = mean(image) / 255 + max(series), peak = argmax(series)."""
    nodes = [
        helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["image_f"], ["image_mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["image_mean", "per_255"], ["image_part"]),
        helper.make_node("ReduceMax", ["series"], ["series_max"], axes=[1], keepdims=0),
        helper.make_node("Add", ["image_part", "series_max"], ["score"]),
        helper.make_node("ArgMax", ["series"], ["peak"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "fusion",
        [
            helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", "height", "width", 3]),
            helper.make_tensor_value_info("series", TensorProto.FLOAT, ["batch", 8]),
        ],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info("peak", TensorProto.INT64, ["batch"]),
        ],
        [numpy_helper.from_array(np.array(1 / 255, np.float32), "per_255")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    meta = {
        "format_version": "2",
        "family": "test_fusion",
        "precision": "fp32",
        "inputs": json.dumps(INPUTS),
        "outputs": json.dumps(OUTPUTS),
        "thresholds": json.dumps({"score": 0.5}),
        "family_section": json.dumps({"classes": ["good", "bad"], "bank_size": 4}),
        "provenance": json.dumps({"defectkit_version": "0.1.0"}),
    }
    meta.update(overrides)
    helper.set_model_props(model, {f"defectkit.{k}": v for k, v in meta.items()})
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return write_fusion_artifact(tmp_path_factory.mktemp("session") / "fusion.onnx")


def batch(n: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    return {
        "image": rng.integers(0, 256, (n, 5, 7, 3), dtype=np.uint8),
        "series": rng.normal(size=(n, 8)).astype(np.float32),
    }


def expected(inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    score = inputs["image"].astype(np.float64).mean(axis=(1, 2, 3)) / 255 + inputs["series"].max(axis=1)
    return score, inputs["series"].argmax(axis=1)


def test_metadata_is_the_native_structs(artifact: pathlib.Path) -> None:
    session = defectkit.ArtifactSession(artifact, intra_op_threads=1)
    meta = session.metadata
    assert isinstance(meta, ArtifactMetadata)
    assert (meta.format_version, meta.family, meta.precision) == (2, "test_fusion", "fp32")
    assert meta.graph_checked
    assert all(isinstance(spec, TensorSpec) for spec in meta.inputs + meta.outputs)
    image, series = meta.inputs
    assert (image.name, image.dtype, image.shape, image.layout) == (
        "image",
        "uint8",
        ("batch", "height", "width", 3),
        "NHWC",
    )
    assert image.scale == 255.0 and image.meaning == "camera image"
    assert series.scale is None and series.shape == ("batch", 8)
    assert [(o.name, o.dtype) for o in meta.outputs] == [("score", "float32"), ("peak", "int64")]
    assert meta.thresholds == {"score": 0.5}
    assert meta.family_section == {"classes": ["good", "bad"], "bank_size": 4}
    assert json.loads(meta.family_json) == meta.family_section
    assert meta.provenance == {"defectkit_version": "0.1.0"}
    assert session.input_names == ["image", "series"] and session.output_names == ["score", "peak"]
    assert session.provider == "CPUExecutionProvider"
    assert "TensorSpec(name='image', dtype='uint8'" in repr(image)
    with pytest.raises(AttributeError):
        image.name = "other"  # read-only


def test_runs_named_typed_arrays_without_copying_them(artifact: pathlib.Path) -> None:
    session = defectkit.ArtifactSession(artifact)
    inputs = batch()
    copies = _native.input_copies()
    outputs = session.run({"series": inputs["series"], "image": inputs["image"]})  # any order
    assert _native.input_copies() == copies  # C-contiguous arrays of the spec's dtype: read in place
    assert list(outputs) == ["score", "peak"]
    score, peak = expected(inputs)
    assert outputs["score"].dtype == np.float32 and outputs["peak"].dtype == np.int64
    np.testing.assert_allclose(outputs["score"], score, atol=1e-5)
    np.testing.assert_array_equal(outputs["peak"], peak)
    # The outputs own their buffers: they outlive the session.
    del session
    gc.collect()
    np.testing.assert_array_equal(outputs["peak"], peak)


def test_other_arrays_are_converted_once_within_their_kind(artifact: pathlib.Path) -> None:
    session = defectkit.ArtifactSession(artifact)
    inputs = batch(3)
    wide = np.ascontiguousarray(np.concatenate([inputs["image"], inputs["image"]], axis=2))
    strided = wide[:, :, ::2]  # not C-contiguous
    copies = _native.input_copies()
    outputs = session.run({"image": strided, "series": inputs["series"].astype(np.float64)})
    assert _native.input_copies() == copies + 2
    score, _ = expected({"image": strided, "series": inputs["series"]})
    np.testing.assert_allclose(outputs["score"], score, atol=1e-5)
    with pytest.raises(
        defectkit.InvalidArgumentError, match="input 'image' is float32 but the artifact takes uint8"
    ):
        session.run({"image": inputs["image"].astype(np.float32), "series": inputs["series"]})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x: x.pop("series"), r"input 'series' is missing \(the artifact takes: image, series\)"),
        (lambda x: x.update(audio=np.zeros(3, np.float32)), r"the artifact has no input 'audio'"),
        (lambda x: x.update(series=np.zeros((2, 7), np.float32)), r"input 'series' has shape \(2, 7\)"),
        (lambda x: x.update(image=np.zeros((2, 5, 3), np.uint8)), r"but the artifact takes \(batch, height"),
    ],
)
def test_wrong_inputs_are_refused_by_name(artifact: pathlib.Path, change, message: str) -> None:
    session = defectkit.ArtifactSession(artifact)
    inputs = batch()
    change(inputs)
    with pytest.raises(defectkit.InvalidArgumentError, match=message) as info:
        session.run(inputs)
    assert str(artifact) in str(info.value)


def test_threads_share_one_session(artifact: pathlib.Path) -> None:
    session = defectkit.ArtifactSession(artifact)
    batches = [batch(n) for n in range(1, 5)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda k: (k % 4, session.run(batches[k % 4])), range(32)))
    for k, out in results:
        np.testing.assert_array_equal(out["peak"], expected(batches[k])[1])


def test_metadata_that_disagrees_with_the_graph_is_refused(tmp_path: pathlib.Path) -> None:
    swapped = write_fusion_artifact(tmp_path / "swapped.onnx", outputs=json.dumps(OUTPUTS[::-1]))
    with pytest.raises(
        defectkit.ModelError, match=r"defectkit.outputs\[0\] is 'peak' but the graph's output 0"
    ):
        defectkit.ArtifactSession(swapped)
    newer = write_fusion_artifact(tmp_path / "newer.onnx", format_version="3")
    with pytest.raises(defectkit.ModelError, match="format version 3 is newer than this runtime reads"):
        defectkit.read_artifact_metadata(newer)


def test_the_strip_inspector_refuses_another_family(artifact: pathlib.Path) -> None:
    with pytest.raises(
        defectkit.ModelError, match="a test_fusion artifact; defectkit::Inspector runs reference_unet"
    ):
        defectkit.Inspector(artifact)


def test_format_1_files_read_as_format_2() -> None:
    meta = defectkit.read_artifact_metadata(V1 / "tiled_fp32.onnx")
    assert (meta.format_version, meta.family, meta.precision) == (1, "reference_unet", "fp32")
    (strip,) = meta.inputs
    assert (strip.name, strip.dtype, strip.shape, strip.layout, strip.scale) == (
        "strip",
        "float32",
        ("batch", "channels", 160, 96),
        "NCHW",
        255.0,
    )
    assert [o.name for o in meta.outputs] == ["heatmap", "score"]
    assert meta.family_section["graph"] == "tiled" and meta.family_section["tiling"]["patch"] == 64
    assert set(meta.thresholds) == {"image", "pixel"}
    inspector = defectkit.Inspector(V1 / "patch_fp32.onnx")
    assert inspector.artifact.inputs[0].shape == ("batch", 3, 64, 64)
    assert inspector.artifact.thresholds["image"] == pytest.approx(inspector.metadata["thresholds"]["image"])
    session = defectkit.ArtifactSession(V1 / "patch_fp32.onnx")
    tile = np.load(V1 / "strip.npy")[None, :3, :64, :64]
    assert session.run({"patch": tile})["heatmap"].shape == (1, 1, 64, 64)


def test_reading_metadata_needs_no_onnx_package() -> None:
    code = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("onnx", "torch"):
                    raise ImportError(f"blocked for this test: {{name}}")
        sys.meta_path.insert(0, Block())
        import defectkit
        meta = defectkit.read_artifact_metadata({str(V1 / "patch_fp32.onnx")!r})
        assert meta.precision == "fp32" and meta.inputs[0].name == "patch", meta
        assert not [m for m in sys.modules if m.split(".")[0] in ("onnx", "torch")]
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
