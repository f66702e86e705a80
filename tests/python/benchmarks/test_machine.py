"""benchmarks/machine.py: the per-operator profile counts its kernels per timed run.

No speed is asserted: only that the kernel time it reports per run is that of one run, which
for a graph of one large MatMul is nearly all of the same run's wall time (it reported half
when the warm-up run was counted in the divisor but not in the sum).
"""

from __future__ import annotations

import importlib
import pathlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.machine")


def test_kernel_time_is_per_timed_run(machine, tmp_path: pathlib.Path) -> None:
    n = 768
    weights = numpy_helper.from_array(np.random.default_rng(0).random((n, n), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        [weights],
    )
    path = tmp_path / "matmul.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)

    result = machine.ort_profile(str(path), threads=1, runs=1)

    assert (result["runs"], result["warmup"]) == (1, 1)
    assert result["kernel_ms_per_run"] == pytest.approx(sum(o["ms_per_run"] for o in result["ops"]))
    assert result["group_ms_per_run"]["float GEMM/conv"] == pytest.approx(result["kernel_ms_per_run"])
    assert 0.8 * result["wall_ms_per_run"] < result["kernel_ms_per_run"] <= 1.01 * result["wall_ms_per_run"]
    assert not list(tmp_path.glob("*_profile*")), "the profile file was left behind"
