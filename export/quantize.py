"""INT8 with ONNX Runtime's static quantisation (QDQ, per-channel signed weights).

Which calibration method, and which parts of the graph stay in float (the
family names the parts), is decided by measurement on the validation split
(:mod:`defectkit.export.pipeline`); this module only knows how to quantise.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pathlib
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

from defectkit.export.dynamic import quantize_weight_products

__all__ = [
    "CALIBRATION_METHODS",
    "PORTABLE_WEIGHT_BITS",
    "WEIGHT_BITS",
    "WEIGHT_LIMITS",
    "Calibration",
    "largest_int8_weight",
    "prepare",
]

CALIBRATION_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}

# ONNX Runtime's x86 INT8 kernels multiply uint8 activations by int8 weights. With AVX512-VNNI each
# product is summed in 32 bits; without it (AVX2, AVX-512 without VNNI) pairs of products are first
# added in 16 bits with saturation (vpmaddubsw): 2 x 255 x 127 overflows, 2 x 255 x 64 does not. An
# artifact with full-range weights gave other answers on an emulated Haswell than on the AVX512-VNNI
# machine its gate ran on (demo strip scores up to 0.37 off); with 7-bit weights the two agreed (bit
# for bit where the graph is INT8 end to end), at the same test accuracy within seed noise
# (docs/experiments/int8_portability.md). So 7 by default; 8 only for lines known to have VNNI (the
# runtime refuses an 8-bit artifact on a CPU without).
WEIGHT_BITS = (7, 8)
PORTABLE_WEIGHT_BITS = 7
WEIGHT_LIMITS = {7: 64, 8: 127}  # the largest |weight| of each, as ONNX Runtime quantises them

# ONNX Runtime's Entropy calibrator defaults to 128 histogram bins and 128 quantised bins, which
# leaves its KL search a single candidate, the full range: through quantize_static (which does not
# pass the bin counts on) its scales equal MinMax's exactly (measured). More histogram bins than
# quantised bins gives the search something to choose from.
_CALIBRATION_OPTIONS = {"entropy": {"num_bins": 512, "num_quantized_bins": 128}}


class _DropPreprocessingAdvice(logging.Filter):
    # The advice to pre-process (shape inference, which onnxsim has done), and per-channel
    # quantisation noting that a 1-D weight (a LayerNorm's) has no axis 1: it is quantised per tensor.
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Please consider") or message.startswith("Axis 1 is out-of-range"))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's quantiser prints progress and advises pre-processing (shape inference, which
    onnxsim has done) on the root logger at every call; export reports its own progress instead."""
    advice = _DropPreprocessingAdvice()
    logging.getLogger().addFilter(advice)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.getLogger().removeFilter(advice)


class _Feeds(CalibrationDataReader):
    """Hands ONNX Runtime's calibrator one input dict per calibration sample."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _named(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose nodes all have unique names (the quantiser excludes nodes by name)."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    used = set()
    for index, node in enumerate(named.graph.node):
        if not node.name or node.name in used:
            node.name = f"{node.op_type}_{index}"
        used.add(node.name)
    return named


def _unshared_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy where no initializer feeds more than one node. onnxsim merges equal constants (a
    random-weight model's zero biases became one tensor shared by a convolution, 48 Adds and 25
    LayerNorms), and the quantiser rewrites every use of a tensor it quantises for one node: the
    Adds then read a dequantised int32 bias, which ONNX Runtime neither folds nor fuses."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    initializers = {i.name: i for i in out.graph.initializer}
    seen: set[str] = set()
    for node in out.graph.node:
        for position, name in enumerate(node.input):
            if name not in initializers:
                continue
            if name in seen:
                copy = onnx.TensorProto()
                copy.CopyFrom(initializers[name])
                copy.name = f"{name}_{node.name}_{position}"
                out.graph.initializer.append(copy)
                node.input[position] = copy.name
            seen.add(name)
    return out


class Calibration:
    """Activation ranges for one model, one calibration method and one set of inputs, computed
    once and reused by every quantisation that differs only in which nodes stay in float."""

    def __init__(self, model: onnx.ModelProto, feeds: Sequence[dict[str, np.ndarray]], method: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="defectkit-quant-")
        folder = pathlib.Path(self._tmp.name)
        self.model_path, self.cache_path, self.method = folder / "fp32.onnx", folder / "ranges.json", method
        onnx.save(_unshared_initializers(model), self.model_path)
        calibrator = create_calibrator(
            self.model_path,
            None,  # calibrate every tensor the quantiser may need
            augmented_model_path=str(folder / "augmented.onnx"),
            calibrate_method=CALIBRATION_METHODS[method],
            extra_options=_CALIBRATION_OPTIONS.get(method, {}),
        )
        with _quiet():
            calibrator.collect_data(_Feeds(feeds))
            save_tensors_data(calibrator.compute_data(), self.cache_path)

    def quantize(
        self,
        exclude: Sequence[str] = (),
        options: dict[str, Any] | None = None,
        weight_bits: int = PORTABLE_WEIGHT_BITS,
    ) -> onnx.ModelProto:
        """QDQ INT8 (uint8 activations, per-channel int8 weights), ``exclude`` left in float;
        ``options`` (``ExportPlan.quantization``): ``op_types_to_quantize`` and ``extra_options`` of
        the static quantisation, and ``dynamic_op_types`` (``MatMul``, ``Gemm``): products of an
        activation and a weight quantised first with run-time activation scales (dynamic.py);
        ``weight_bits`` 7 (weights within +-64: exact on every x86-64 CPU) or 8 (+-127: exact only
        with AVX512-VNNI; see ``PORTABLE_WEIGHT_BITS``)."""
        if weight_bits not in WEIGHT_BITS:
            msg = f"INT8 weight bits must be one of {WEIGHT_BITS}, got {weight_bits}"
            raise ValueError(msg)
        target = pathlib.Path(self._tmp.name) / "int8.onnx"
        with _quiet():
            self._quantize(target, exclude, options or {}, weight_bits)
        return onnx.load(target)

    def _quantize(
        self, target: pathlib.Path, exclude: Sequence[str], options: dict[str, Any], weight_bits: int
    ) -> None:
        source, static_ops = self.model_path, options.get("op_types_to_quantize")
        dynamic_ops = options.get("dynamic_op_types", ())
        if dynamic_ops:  # weight products first, at run-time activation scales (dynamic.py)
            if others := sorted(set(dynamic_ops) - {"MatMul", "Gemm"}):
                msg = f"dynamic INT8 is for MatMul and Gemm, not {others}"
                raise ValueError(msg)
            source = target.with_name("dynamic.onnx")
            quantize_weight_products(self.model_path, source, exclude, weight_bits)
            if not static_ops:
                source.replace(target)
                return
        quantize_static(
            str(source),
            str(target),
            None,  # the ranges come from the cache
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,  # u8 activations x s8 weights: the VNNI fast path
            reduce_range=weight_bits == 7,  # weights only: ONNX Runtime's range for them is -64..64
            calibrate_method=CALIBRATION_METHODS[self.method],
            nodes_to_exclude=list(exclude),
            calibration_cache_path=str(self.cache_path),
            op_types_to_quantize=static_ops,
            extra_options=options.get("extra_options", {}),
        )

    def close(self) -> None:
        self._tmp.cleanup()


def prepare(model: onnx.ModelProto) -> onnx.ModelProto:
    """Gives every node a unique name so groups and exclusions can name them."""
    return _named(model)


def largest_int8_weight(model: onnx.ModelProto) -> int:
    """The largest magnitude among the model's int8 initializers (its quantised weights; activations
    are uint8): at most ``WEIGHT_LIMITS[bits]`` for weights of ``bits`` bits, 0 for a float model."""
    from onnx import numpy_helper

    magnitudes = [
        int(np.abs(numpy_helper.to_array(t).astype(np.int16)).max(initial=0))
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.INT8
    ]
    return max(magnitudes, default=0)
