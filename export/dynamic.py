"""INT8 weight products with activations quantised at run time (ONNX Runtime's dynamic quantisation).

A family asks for it with ``dynamic_op_types`` in ``ExportPlan.quantization``. ONNX Runtime's CPU
provider runs a product whose activation is quantised at run time (``DynamicQuantizeLinear`` +
``MatMulInteger``, fused into ``DynamicQuantizeMatMul``/``MatMulIntegerToFloat``) faster than the
same product quantised statically (``QuantizeLinear`` + ``QGemm``): ViT-S/14 224 1.10x faster
through the C++ runtime, and no calibrated activation range is needed. Its OpenVINO EP reads the
graph (standard ONNX ops) but runs it 3.8x slower than the static one, so guided_classifier, whose
fastest configuration is that EP, stays static (experiments/guided_classifier/dynamic_int8.py,
docs/experiments/guided_classifier.md).

ONNX Runtime's dynamic quantiser handles ``MatMul`` but not ``Gemm``; the tracer writes a linear
layer on a 2-D input as ``Gemm``. :func:`gemms_as_matmuls` rewrites those first (the same function:
``A @ B.T + C`` as ``MatMul`` and ``Add``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

__all__ = ["gemms_as_matmuls", "quantize_weight_products"]


def gemms_as_matmuls(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy where every ``Gemm`` with a constant weight (alpha = beta = 1, A not transposed) is a
    ``MatMul`` of the same name, plus an ``Add`` of its bias named ``<name>_bias``."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    initializers = {i.name: i for i in out.graph.initializer}
    nodes = []
    for node in out.graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = attributes.get("alpha", 1.0) == 1.0 and attributes.get("beta", 1.0) == 1.0
        if (
            node.op_type != "Gemm"
            or node.input[1] not in initializers
            or attributes.get("transA", 0)
            or not plain
        ):
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(initializers[node.input[1]])
        if attributes.get("transB", 0):
            weight = weight.T.copy()
        weight_name = f"{node.input[1]}_as_matmul"
        out.graph.initializer.append(numpy_helper.from_array(weight, weight_name))
        has_bias = len(node.input) > 2 and node.input[2]
        product = f"{node.output[0]}_product" if has_bias else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], weight_name], [product], name=node.name))
        if has_bias:
            nodes.append(
                helper.make_node("Add", [product, node.input[2]], [node.output[0]], name=f"{node.name}_bias")
            )
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    used = {name for node in out.graph.node for name in node.input}
    kept = [i for i in out.graph.initializer if i.name in used]  # the transposed weights replace theirs
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    return out


def quantize_weight_products(
    source: pathlib.Path, target: pathlib.Path, exclude: Sequence[str], weight_bits: int
) -> None:
    """Writes ``source`` to ``target`` with every product of an activation and a constant weight
    (``MatMul``, ``Gemm``) in INT8, per-channel int8 weights of ``weight_bits`` bits, the activation
    quantised to uint8 at run time; products of two activations and the nodes in ``exclude`` stay
    float."""
    model = gemms_as_matmuls(onnx.load(source))
    rewritten = target.with_name(f"{target.stem}_matmuls.onnx")
    onnx.save(model, rewritten)
    quantize_dynamic(
        str(rewritten),
        str(target),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range=weight_bits == 7,  # weights within +-64, as the static path (quantize.py)
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(exclude),
        extra_options={"MatMulConstBOnly": True},
    )
    rewritten.unlink()
