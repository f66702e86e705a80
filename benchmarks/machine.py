"""What ``make bench`` measures of the machine beside the configurations: the GEMM peaks (FP32 and
INT8), strip preprocessing (native against tifffile + numpy) and ONNX Runtime's per-operator
profile of an artifact. Each runs in a worker process of ``benchmarks.run``."""

from __future__ import annotations

import json
import pathlib
import time
from typing import Any

from defectkit.benchmarking import latency_summary, pin_to_cores


def timed(step, strips: list[pathlib.Path], warmup: int, runs: int) -> tuple[list[float], float]:
    """``step`` over the strips, cycled: per-call seconds of the ``runs`` timed calls, and their wall time."""
    for i in range(warmup):
        step(strips[i % len(strips)])
    seconds = []
    all_start = time.perf_counter()
    for i in range(runs):
        start = time.perf_counter()
        step(strips[i % len(strips)])
        seconds.append(time.perf_counter() - start)
    return seconds, time.perf_counter() - all_start


def gemm_peak(threads: int) -> dict[str, Any]:
    """The machine's measured matrix-multiply peak: FP32 (torch, numpy) and INT8 (torch, ORT)."""
    pin_to_cores(threads)
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    n = 2048
    flop = 2.0 * n**3

    def best(fn, repeats: int = 10) -> float:
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return flop / min(times) / 1e9

    a32, b32 = torch.rand(n, n), torch.rand(n, n)
    result: dict[str, Any] = {"size": n, "threads": threads}
    result["fp32_torch_gflops"] = best(lambda: torch.mm(a32, b32))
    na, nb = a32.numpy(), b32.numpy()
    result["fp32_numpy_gflops"] = best(lambda: na @ nb)
    a8 = torch.randint(-128, 127, (n, n), dtype=torch.int8)
    b8 = torch.randint(-128, 127, (n, n), dtype=torch.int8)
    try:
        result["int8_torch_int_mm_gops"] = best(lambda: torch._int_mm(a8, b8))
    except Exception as error:  # _int_mm's CPU support depends on the build
        result["int8_torch_int_mm_gops"] = None
        result["int8_torch_int_mm_error"] = f"{type(error).__name__}: {error}"
    result["int8_ort_matmulinteger_gops"] = _ort_matmul(n, threads, best, integer=True)
    result["fp32_ort_matmul_gflops"] = _ort_matmul(n, threads, best, integer=False)
    result["fp32_peak_gflops"] = max(v for k, v in result.items() if k.startswith("fp32_"))
    int8 = [v for k, v in result.items() if k.startswith("int8_") and isinstance(v, float)]
    result["int8_peak_gops"] = max(int8) if int8 else None
    del np
    return result


def _ort_matmul(n: int, threads: int, best, *, integer: bool) -> float:
    """ONNX Runtime's own GEMM (MLAS): MatMulInteger (uint8 x int8) or float MatMul."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    if integer:
        b = rng.integers(-128, 127, (n, n), dtype=np.int8)
        a = rng.integers(0, 255, (n, n), dtype=np.uint8)
        node, a_type, y_type = "MatMulInteger", TensorProto.UINT8, TensorProto.INT32
    else:
        b = rng.random((n, n), dtype=np.float32)
        a = rng.random((n, n), dtype=np.float32)
        node, a_type, y_type = "MatMul", TensorProto.FLOAT, TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node(node, ["a", "b"], ["y"])],
        "gemm",
        [helper.make_tensor_value_info("a", a_type, [n, n])],
        [helper.make_tensor_value_info("y", y_type, [n, n])],
        [onnx.numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return best(lambda: session.run(None, {"a": a}))


def preprocessing(paths: dict[str, Any], threads: int, repeats: int) -> dict[str, Any]:
    """One strip read + normalised: native (libtiff) vs tifffile + numpy (the seed's), uncompressed."""
    pin_to_cores(threads)
    import defectkit
    from benchmarks.seed_pipeline import SeedPipeline

    strips = sorted(pathlib.Path(paths["strips"]).glob("*.tif"))

    def native(path: pathlib.Path) -> None:
        strip = defectkit.read_strip(path)  # (C, H, W) float32, 0..255
        strip[:3] * (1.0 / 255.0)

    def normalise_only(strip) -> None:
        strip[:3] * (1.0 / 255.0)

    loaded = defectkit.read_strip(strips[0])
    out = {}
    steps = (
        ("native", native),
        ("tifffile_numpy", SeedPipeline.preprocess),
        ("native_read_only", defectkit.read_strip),  # what Inspector does: scaling is in the graph
        ("numpy_normalise_only", lambda _path: normalise_only(loaded)),
    )
    for name, step in steps:
        seconds, wall = timed(step, strips, 3, repeats)
        out[name] = latency_summary(seconds, wall_s=wall)
    out["speedup"] = out["tifffile_numpy"]["p50_ms"] / out["native"]["p50_ms"]
    out["strip_bytes"] = strips[0].stat().st_size
    out["compression"] = "none"
    return out


# Kernels of a profile, grouped: is the time in INT8 GEMMs, float GEMMs, (de)quantisation or elsewhere?
OP_GROUPS = {
    "int8 GEMM/conv": {"QGemm", "QLinearMatMul", "MatMulIntegerToFloat", "MatMulInteger", "QLinearConv",
                       "DynamicQuantizeMatMul", "ConvInteger"},
    "float GEMM/conv": {"Gemm", "MatMul", "FusedMatMul", "FusedGemm", "Conv", "FusedConv", "Attention"},
    "quantize/dequantize": {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"},
}  # fmt: skip


def ort_profile(
    artifact: str, threads: int, runs: int, image_size: int | None = None, warmup: int = 1
) -> dict[str, Any]:
    """Per-operator time of one artifact under ONNX Runtime's profiler (Python API, same threads):
    ``warmup`` untimed runs, then ``runs`` whose kernels and wall time are reported per run.

    ``image_size``: a guided_classifier artifact, fed one random uint8 (1, S, S, 3) image.
    """
    pin_to_cores(threads)
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = str(pathlib.Path(artifact).with_suffix("")) + "_profile"
    session = ort.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
    if image_size:
        x = np.random.default_rng(0).integers(0, 256, (1, image_size, image_size, 3), dtype=np.uint8)
    else:
        if len(shape) == 4 and not isinstance(session.get_inputs()[0].shape[1], int):
            shape[1] = 3
        x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    feed = {session.get_inputs()[0].name: x}
    for _ in range(warmup):  # their kernels are left out below
        session.run(None, feed)
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, feed)
    wall_ms = (time.perf_counter() - start) * 1e3 / runs
    profile = pathlib.Path(session.end_profiling())
    events = json.loads(profile.read_text())
    starts = sorted(e["ts"] for e in events if e.get("name") == "model_run")
    first_timed = starts[warmup]
    per_op: dict[str, float] = {}
    for event in events:
        if event.get("ts", 0) < first_timed:
            continue
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            op = event.get("args", {}).get("op_name", "?")
            per_op[op] = per_op.get(op, 0.0) + event["dur"] / 1e3 / runs  # ms per timed run
    profile.unlink()
    total = sum(per_op.values())
    ranked = sorted(per_op.items(), key=lambda kv: -kv[1])
    group_ms = {group: sum(per_op.get(op, 0.0) for op in ops) for group, ops in OP_GROUPS.items()}
    return {
        "artifact": artifact,
        "runs": runs,
        "warmup": warmup,
        "kernel_ms_per_run": total,
        "wall_ms_per_run": wall_ms,
        "ops": [{"op": op, "share": ms / total, "ms_per_run": ms} for op, ms in ranked[:8]],
        "groups": {group: ms / total for group, ms in group_ms.items()},
        "group_ms_per_run": group_ms,
    }
