"""Artifacts cannot reach outside their folder: an initializer whose external data lies
outside the artifact's folder (a ``../`` path, an absolute path, or a symlink out) is refused
by the native runtime with a ModelError naming the file. ONNX Runtime (>= 1.19) does the
check when it opens the model; these tests pin that, so an ONNX Runtime without it fails
them instead of silently reading any file on the machine. Data inside the folder still loads."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import defectkit


def _external_model(folder: pathlib.Path, location: str) -> pathlib.Path:
    """y = x + w, w (4 float32) stored as external data at ``location``."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "model.onnx"
    onnx.save(model, path)  # the tensor already says EXTERNAL: onnx writes it as it is
    return path


@pytest.fixture
def layout(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    folder = tmp_path / "artifact"
    folder.mkdir()
    outside = tmp_path / "secret.bin"
    outside.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    (folder / "weights.bin").write_bytes(np.full(4, 2, dtype=np.float32).tobytes())
    (folder / "link.bin").symlink_to(outside)
    return folder, outside


def test_external_data_inside_the_folder_loads(layout: tuple[pathlib.Path, pathlib.Path]) -> None:
    folder, _ = layout
    model = defectkit.Model(_external_model(folder, "weights.bin"), intra_op_threads=1)
    out = model.run([np.ones(4, dtype=np.float32)])
    np.testing.assert_array_equal(out["y"], np.full(4, 3, dtype=np.float32))


@pytest.mark.parametrize("how", ["parent", "absolute", "symlink"])
def test_external_data_outside_the_folder_is_refused(
    layout: tuple[pathlib.Path, pathlib.Path], how: str
) -> None:
    folder, outside = layout
    location = {"parent": "../secret.bin", "absolute": os.fspath(outside), "symlink": "link.bin"}[how]
    path = _external_model(folder, location)
    with pytest.raises(
        defectkit.ModelError, match=rf"{path}: ONNX Runtime cannot load this model.*[Ee]xternal data"
    ):
        defectkit.Model(path, intra_op_threads=1)
