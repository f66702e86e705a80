"""INT8 weight products with run-time activation scales (export/dynamic.py), and the calibration's
own copy of shared constants (export/quantize.py)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from defectkit.export.dynamic import gemms_as_matmuls
from defectkit.export.quantize import Calibration, largest_int8_weight

RNG = np.random.default_rng(0)


def _model(nodes, initializers, inputs, outputs) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, feeds
    )


def test_gemms_become_matmuls_with_the_same_names_and_results() -> None:
    weights = {"w_t": RNG.normal(size=(6, 8)), "b": RNG.normal(size=6), "w": RNG.normal(size=(6, 5))}
    nodes = [
        helper.make_node("Gemm", ["x", "w_t", "b"], ["y"], name="transposed", transB=1),
        helper.make_node("Gemm", ["y", "w"], ["z"], name="plain"),
        helper.make_node("Gemm", ["z", "z"], ["s"], name="activations", transB=1),  # no constant weight
        helper.make_node("Gemm", ["x", "w_t"], ["t"], name="scaled", transB=1, alpha=0.5),
    ]
    model = _model(nodes, weights, [("x", [3, 8])], [("s", [3, 3]), ("t", [3, 6])])
    rewritten = gemms_as_matmuls(model)
    kinds = {n.name: n.op_type for n in rewritten.graph.node}
    assert kinds == {"transposed": "MatMul", "transposed_bias": "Add", "plain": "MatMul"} | {
        "activations": "Gemm", "scaled": "Gemm"
    }  # fmt: skip
    feeds = {"x": RNG.normal(size=(3, 8)).astype(np.float32)}
    for a, b in zip(_run(model, feeds), _run(rewritten, feeds), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert "w_t" in {i.name for i in rewritten.graph.initializer}  # still used by "scaled"


def _mlp() -> onnx.ModelProto:
    weights = {
        "w1": RNG.normal(size=(16, 32)) / 4,
        "b1": RNG.normal(size=32),
        "w2": RNG.normal(size=(32, 16)) / 6,
    }
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["o"], name="fc2"),
        helper.make_node("Transpose", ["o"], ["ot"], name="t", perm=[1, 0]),
        helper.make_node("MatMul", ["o", "ot"], ["gram"], name="activations"),
    ]
    return _model(nodes, weights, [("x", [4, 16])], [("o", [4, 16]), ("gram", [4, 4])])


@pytest.mark.parametrize("bits", [7, 8])
def test_weight_products_are_int8_with_run_time_activation_scales(bits: int) -> None:
    model = _mlp()
    feeds = [{"x": RNG.normal(size=(4, 16)).astype(np.float32)} for _ in range(4)]
    calibration = Calibration(model, feeds, "minmax")
    try:
        options = {"op_types_to_quantize": [], "dynamic_op_types": ["MatMul", "Gemm"]}
        int8 = calibration.quantize(["fc2"], options, weight_bits=bits)
        kinds = [n.op_type for n in int8.graph.node]
        assert kinds.count("MatMulInteger") == 1 and "DynamicQuantizeLinear" in kinds  # fc1 only
        assert kinds.count("MatMul") == 2  # fc2 (excluded) and the product of two activations
        assert largest_int8_weight(int8) == {7: 64, 8: 127}[bits]
        (o, _), (q, _) = _run(model, feeds[0]), _run(int8, feeds[0])
        assert np.abs(q - o).max() < 0.05 * np.abs(o).max()
        with pytest.raises(ValueError, match="dynamic INT8 is for MatMul and Gemm"):
            calibration.quantize([], {"dynamic_op_types": ["Conv"]})
    finally:
        calibration.close()


def test_a_constant_shared_with_a_quantised_node_stays_float_for_the_others() -> None:
    """onnxsim merges equal constants; quantising the convolution's bias must not turn the Add that
    shares it into an Add of a dequantised int32 tensor (ONNX Runtime does not fold that)."""
    weights = {"w": RNG.normal(size=(4, 4, 3, 3)), "bias": np.zeros(4)}
    nodes = [
        helper.make_node("Conv", ["x", "w", "bias"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "bias"], ["y"], name="add"),
    ]
    model = _model(nodes, weights, [("x", [1, 4, 8, 4])], [("y", [1, 4, 8, 4])])  # bias on the last axis
    feeds = [{"x": RNG.normal(size=(1, 4, 8, 4)).astype(np.float32)} for _ in range(2)]
    calibration = Calibration(model, feeds, "minmax")
    try:
        int8 = calibration.quantize([], {"op_types_to_quantize": ["Conv"]})
    finally:
        calibration.close()
    producers = {o: n for n in int8.graph.node for o in n.output}
    add = next(n for n in int8.graph.node if n.op_type == "Add")
    assert not any(
        producers.get(i) is not None and producers[i].op_type == "DequantizeLinear" for i in add.input[1:]
    )
