"""C++ programs built against the installed package's CMake config open the onnxruntime wheel
beside it by themselves: no DEFECTKIT_ORT_LIBRARY needed (cmake/defectkitConfig.cmake.in)."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import defectkit

REPO = pathlib.Path(__file__).resolve().parents[3]
V1 = REPO / "tests" / "data" / "artifacts_v1"
CMAKE = pathlib.Path(sys.prefix) / "bin" / "cmake"
if not CMAKE.exists():
    CMAKE = pathlib.Path(shutil.which("cmake") or "cmake")

pytestmark = pytest.mark.skipif(shutil.which(str(CMAKE)) is None, reason="needs cmake")


def build(source: pathlib.Path, build_dir: pathlib.Path) -> None:
    subprocess.run(
        [CMAKE, "-S", source, "-B", build_dir, f"-Ddefectkit_DIR={defectkit.cmake_dir()}"],
        check=True,
        capture_output=True,
    )
    subprocess.run([CMAKE, "--build", build_dir], check=True, capture_output=True)


def environment_without_ort_library() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DEFECTKIT_ORT_LIBRARY"}


def wheel_capi() -> pathlib.Path:
    spec = importlib.util.find_spec("onnxruntime")
    assert spec is not None and spec.origin is not None, "the onnxruntime wheel is a runtime dependency"
    return pathlib.Path(spec.origin).resolve().parent / "capi"


def loaded_from(output: str) -> tuple[pathlib.Path, str]:
    found = re.search(r"ONNX Runtime \S+ from (\S+) \(([a-z ]+)\)", output)
    assert found, output
    return pathlib.Path(found.group(1)), found.group(2)


def test_a_consumer_finds_the_wheels_onnxruntime_by_itself(tmp_path: pathlib.Path) -> None:
    build(REPO / "tests/cpp/find_package_consumer", tmp_path)
    result = subprocess.run(
        [tmp_path / "consumer"], capture_output=True, text=True, env=environment_without_ort_library()
    )
    assert result.returncode == 0, result.stderr
    library, source = loaded_from(result.stdout)
    assert source == "package"
    assert library.parent == wheel_capi()
    assert library.name.startswith("libonnxruntime.so")
    # The environment variable still comes first.
    env = environment_without_ort_library() | {"DEFECTKIT_ORT_LIBRARY": str(library)}
    result = subprocess.run([tmp_path / "consumer"], capture_output=True, text=True, env=env)
    assert loaded_from(result.stdout) == (library, "environment")


def test_the_line_controller_inspects_without_the_variable(tmp_path: pathlib.Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    build(REPO / "cpp/examples/line_controller", tmp_path / "build")
    strip = np.load(V1 / "strip.npy")
    tifffile.imwrite(tmp_path / "strip.tif", strip, photometric="minisblack", planarconfig="separate")
    (tmp_path / "strips.txt").write_text(f"{tmp_path / 'strip.tif'}\n")
    result = subprocess.run(
        [tmp_path / "build/line_controller", V1 / "tiled_fp32.onnx", "--list", tmp_path / "strips.txt"],
        capture_output=True,
        text=True,
        env=environment_without_ort_library(),
    )
    assert result.returncode == 0, result.stderr
    library, source = loaded_from(result.stdout)
    assert (library.parent, source) == (wheel_capi(), "package")
    decision = re.search(r"(PASS|REJECT) score=([0-9.]+) regions=\d+ ms=[0-9.]+ .*strip\.tif", result.stdout)
    assert decision, result.stdout
    expected = defectkit.Inspector(V1 / "tiled_fp32.onnx").inspect(strip)
    assert float(decision.group(2)) == pytest.approx(expected.score, abs=1e-4)
    assert decision.group(1) == ("REJECT" if expected.is_defective else "PASS")
