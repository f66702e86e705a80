"""How ONNX Runtime's INT8 (and FP32) 3x3 convolution time depends on channel counts at strip size.

Each case is a two-conv model, ``Conv(16 -> c_in) -> ReLU -> Conv(c_in -> c_out) -> Slice(channel
0) -> Sigmoid`` over a (1, 16, 992, 192) input (the padded full-frame strip), exported, quantised
the way ``defectkit export`` does (QDQ, per-channel s8 weights, u8 activations, MinMax), and
profiled by ONNX Runtime; the table gives the median kernel time of the second conv, the one
under test. Why model.py pads the first conv's input to 4 channels and computes the head's
one logit in 16 lanes (HEAD_LANES, INPUT_CHANNEL_MULTIPLE).

    .venv/bin/python experiments/reference_unet/conv_channels.py --runs 10
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import statistics
import tempfile

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

SHAPE = (1, 16, 992, 192)
CASES = ((16, 1), (16, 2), (16, 4), (16, 8), (16, 16), (3, 16), (4, 16), (8, 16))


class TwoConvs(torch.nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.pre = torch.nn.Conv2d(SHAPE[1], c_in, 3, padding=1)
        self.conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(torch.relu(self.pre(x)))[:, :1])


class _Calibration(CalibrationDataReader):
    def __init__(self) -> None:
        rng = np.random.default_rng(1)
        self.feeds = iter([{"x": rng.random(SHAPE, dtype=np.float32)} for _ in range(2)])

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


def conv_times(path: pathlib.Path, x: np.ndarray, runs: int, work: pathlib.Path) -> list[float]:
    """Median kernel ms of each Conv/QLinearConv node in graph order."""
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(work / "profile")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(runs + 2):
        session.run(None, {"x": x})
    events = json.loads(pathlib.Path(session.end_profiling()).read_text())
    per_node: dict[str, list[float]] = collections.defaultdict(list)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            if "Conv" in event["args"]["op_name"]:
                per_node[event["name"]].append(event["dur"] / 1e3)
    # Drop the two warm-up runs; nodes keep their first-seen (graph) order.
    return [statistics.median(times[2:]) for times in per_node.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="profiled runs per model")
    args = parser.parse_args()
    x = np.random.default_rng(0).random(SHAPE, dtype=np.float32)
    print(f"ONNX Runtime {ort.__version__}; input {SHAPE}; median kernel ms of the conv under test")
    print("| c_in -> c_out | FP32 ms | INT8 ms |")
    print("| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for c_in, c_out in CASES:
            torch.manual_seed(0)
            model = TwoConvs(c_in, c_out).eval()
            fp32, int8 = work / f"fp32_{c_in}_{c_out}.onnx", work / f"int8_{c_in}_{c_out}.onnx"
            torch.onnx.export(model, torch.from_numpy(x), fp32, input_names=["x"], opset_version=17, dynamo=False)
            quantize_static(
                str(fp32), str(int8), _Calibration(), quant_format=QuantFormat.QDQ, per_channel=True,
                weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
            )  # fmt: skip
            row = [conv_times(path, x, args.runs, work)[-1] for path in (fp32, int8)]
            print(f"| {c_in} -> {c_out} | {row[0]:.2f} | {row[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
