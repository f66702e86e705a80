"""The install's promises: a runtime that needs neither torch nor the training
stack, and a CMake package that C++ programs can build against."""

from __future__ import annotations

import importlib.metadata
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tifffile

import defectkit
from runtime.test_model import square_and_twice_model

TRAINING_ONLY = ["torch", "tifffile", "imagecodecs", "cv2", "sklearn", "onnx", "onnxsim", "tqdm"]
REPO = pathlib.Path(__file__).parents[2]


def test_runtime_install_requires_only_numpy_and_onnxruntime() -> None:
    requires = importlib.metadata.requires("defectkit") or []
    runtime = sorted(r.split(">")[0].split("=")[0].strip() for r in requires if "extra ==" not in r)
    assert runtime == ["numpy", "onnxruntime"]


def test_native_paths_work_without_torch_or_the_training_stack(tmp_path: pathlib.Path) -> None:
    strip = np.random.default_rng(0).uniform(0, 255, (4, 32, 24)).astype(np.float32)
    tifffile.imwrite(tmp_path / "strip.tif", strip, photometric="minisblack", planarconfig="separate")
    model = square_and_twice_model(tmp_path / "m.onnx")
    # A child interpreter in which importing any training dependency fails,
    # as it would in a `pip install defectkit` environment.
    code = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {TRAINING_ONLY!r}:
                    raise ImportError(f"blocked for this test: {{name}}")
        sys.meta_path.insert(0, Block())
        import numpy as np
        import defectkit
        print(defectkit.native_info()["onnxruntime"])
        strip = defectkit.read_strip({str(tmp_path / "strip.tif")!r})
        np.save({str(tmp_path / "read.npy")!r}, strip)
        out = defectkit.Model({str(model)!r}).run([np.full((1, 3), 3.0, np.float32)])
        assert out["square"].tolist() == [[9.0, 9.0, 9.0]], out
        from defectkit.cli.main import main  # runtime commands parse without the training stack
        assert main(["info"]) == 0
        for help_args in (["bench", "--help"], ["--help"]):  # every command listed, none imported
            try:
                main(help_args)
            except SystemExit as done:
                assert done.code == 0
        assert main(["train", "data", "--out", "run"]) == 3  # says which extra to install
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {TRAINING_ONLY!r})
        assert not loaded, loaded
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "defectkit train needs the 'train' extra" in result.stderr
    assert "export" in result.stdout and "(needs defectkit[train])" in result.stdout  # listed in --help
    np.testing.assert_array_equal(np.load(tmp_path / "read.npy"), strip)


@pytest.mark.skipif(
    shutil.which("cmake") is None and not (pathlib.Path(sys.prefix) / "bin/cmake").exists(),
    reason="needs cmake",
)
def test_a_cpp_program_builds_against_the_installed_package(tmp_path: pathlib.Path) -> None:
    cmake = (
        str(pathlib.Path(sys.prefix) / "bin/cmake")
        if (pathlib.Path(sys.prefix) / "bin/cmake").exists()
        else "cmake"
    )
    config = defectkit.cmake_dir() / "defectkitConfig.cmake"
    assert config.is_file(), f"the installed package has no {config}"
    source = REPO / "tests/cpp/find_package_consumer"
    subprocess.run(
        [cmake, "-S", source, "-B", tmp_path, f"-Ddefectkit_DIR={defectkit.cmake_dir()}"],
        check=True,
        capture_output=True,
    )
    subprocess.run([cmake, "--build", tmp_path], check=True, capture_output=True)
    result = subprocess.run([tmp_path / "consumer"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "missing strip refused" in result.stdout
