"""ONNX Runtime reached from Python through the C++ runtime: the library it
loads, sessions on models built here, and the errors a user sees."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

import defectkit


def square_and_twice_model(path: pathlib.Path) -> pathlib.Path:
    """square = x * x, twice = x + x over a dynamic batch of 3-vectors."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    square = helper.make_tensor_value_info("square", TensorProto.FLOAT, ["N", 3])
    twice = helper.make_tensor_value_info("twice", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "x"], ["square"]), helper.make_node("Add", ["x", "x"], ["twice"])],
        "square_and_twice",
        [x],
        [square, twice],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"defectkit.format_version": "1", "defectkit.family": "test"})
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_native_info_reports_the_onnxruntime_the_runtime_loaded() -> None:
    info = defectkit.native_info()
    assert info["defectkit"] == defectkit.__version__
    # By default the runtime opens the library of the installed onnxruntime wheel.
    assert info["onnxruntime"] == onnxruntime.__version__
    assert pathlib.Path(info["onnxruntime_library"]).is_relative_to(pathlib.Path(onnxruntime.__file__).parent)
    assert "CPUExecutionProvider" in info["providers"]
    # The runtime's CPUID check agrees with the kernel's view of the CPU (x86-64 Linux).
    lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
    flags = {flag for line in lines if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    if "avx2" in flags:
        assert info["int8_8bit_weights_exact"] == ({"avx512f", "avx512bw", "avx512_vnni"} <= flags)


def test_model_runs_a_tiny_graph_and_returns_its_values(tmp_path: pathlib.Path) -> None:
    model = defectkit.Model(square_and_twice_model(tmp_path / "m.onnx"), intra_op_threads=1)
    assert model.input_names == ["x"]
    assert model.output_names == ["square", "twice"]
    assert model.metadata == {"defectkit.format_version": "1", "defectkit.family": "test"}

    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]], dtype=np.float32)
    out = model.run([x])
    np.testing.assert_array_equal(out["square"], x * x)
    np.testing.assert_array_equal(out["twice"], x + x)
    # By name, and from a non-contiguous float64 view, converted once.
    y = np.arange(12, dtype=np.float64).reshape(3, 4)[:, :3]
    np.testing.assert_array_equal(model.run({"x": y})["square"], (y * y).astype(np.float32))


def test_model_errors_are_defectkit_errors(tmp_path: pathlib.Path) -> None:
    with pytest.raises(defectkit.FileMissingError, match=r"nope\.onnx"):
        defectkit.Model(tmp_path / "nope.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all")
    with pytest.raises(defectkit.ModelError, match=r"garbage\.onnx"):
        defectkit.Model(garbage)
    model = defectkit.Model(square_and_twice_model(tmp_path / "m.onnx"))
    with pytest.raises(defectkit.InvalidArgumentError, match=r"expects shape \(-1, 3\), got \(2, 4\)"):
        model.run([np.zeros((2, 4), np.float32)])
    with pytest.raises(defectkit.InvalidArgumentError, match="missing inputs"):
        model.run({"y": np.zeros((1, 3), np.float32)})


def test_a_missing_onnxruntime_library_is_a_clear_backend_error() -> None:
    code = (
        "import defectkit\ntry:\n    defectkit.native_info()\n"
        "except defectkit.BackendError as e:\n    print(e)\n"
    )
    env = {**os.environ, "DEFECTKIT_ORT_LIBRARY": "/nonexistent/libonnxruntime.so"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "cannot load the ONNX Runtime library '/nonexistent/libonnxruntime.so'" in result.stdout
