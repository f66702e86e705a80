"""Why guided_classifier's INT8 is slow, and which quantisation settings would make it fast.

    .venv/bin/python -m benchmarks.guided_int8                        # ViT-S/14 224, from bench_out/
    .venv/bin/python -m benchmarks.guided_int8 --model demo_128 --runs 6 --rounds 2

Starts from the FP32 artifact ``make bench`` exports (built here when missing, with the same
helpers), calibrates it once as export does (minmax on the demo training images), and builds
INT8 variants with ONNX Runtime's quantiser that differ from export's setting (QDQ, per-channel
int8 weights, uint8 activations, every op type the quantiser knows) in one respect each:

- ``export``: every node quantised, the output heads included (export's setting before the
  plan kept the heads float);
- ``export_heads``: the output heads (softmax and sigmoid onward, ``fixed_float``) in float:
  what export writes now, and ``model_int8.onnx`` in ``make bench``;
- ``no_softmax``: export's setting, the attention Softmax nodes left in float;
- ``gemm``: only MatMul, Gemm and Conv quantised (LayerNorm, GELU, Softmax, Add, Mul in float);
- ``gemm_weights``: ``gemm`` with the attention's activation x activation MatMuls (Q K^T,
  weights x V) excluded by name, so only weight GEMMs are INT8 (``MatMulConstBOnly`` would say
  that, but the QDQ quantiser ignores it);
- ``gemm_per_tensor``: ``gemm`` with one scale per weight tensor;
- ``gemm_qoperator``: ``gemm`` in QOperator format (QLinearMatMul/QLinearConv nodes in the file);
- ``pre_gemm``: ``quant_pre_process`` (ONNX shape inference + ORT's basic fusions; its symbolic
  shape inference fails on the symbolic channel axis) first, recalibrated, then ``gemm``;
- ``gemm_float_out``: ``gemm`` with ``OpTypesToExcludeOutputQuantization`` MatMul/Gemm: no
  Quantize/Dequantize after a GEMM, whose output ONNX Runtime then computes in float
  (MatMulIntegerToFloat, QGemm with float output);
- ``weights_float_out``: ``gemm_float_out`` and ``gemm_weights`` together;
- ``weights_float_out_per_tensor``: the same with one scale per weight tensor;
- ``dynamic``: ``quantize_dynamic`` of MatMul/Gemm (activation scales computed per run).

Each variant is timed with ONNX Runtime from Python (the same harness as the FP32 baseline) and
through the C++ runtime (``defectkit.ImageClassifier.classify`` of a decoded image), in
interleaved rounds, pinned to ``--threads`` cores; profiled (kernel time per op, grouped:
INT8 GEMMs, float GEMMs, Q/DQ, the rest); and compared with FP32 on the validation images (max
difference of the defect probability and mean difference of the mask: random weights, so a
fidelity check, not accuracy). Writes benchmarks/results/guided_int8-<date>-<host>.{json,md}.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import os
import pathlib
import socket
import statistics
import sys
import tempfile
import time
from typing import Any

from benchmarks import guided
from defectkit.benchmarking import fresh_stem, latency_summary, machine_info, pin_to_cores

ROOT = pathlib.Path(__file__).resolve().parent.parent
GEMM_OPS = ["MatMul", "Gemm", "Conv"]
VARIANTS = (
    "fp32", "export", "export_heads", "no_softmax", "gemm", "gemm_weights", "gemm_per_tensor",
    "gemm_qoperator", "pre_gemm", "gemm_float_out", "weights_float_out", "weights_float_out_per_tensor",
    "dynamic",
)  # fmt: skip


def _log(message: str) -> None:
    print(f"[guided_int8 {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _static(source: pathlib.Path, cache: pathlib.Path, target: pathlib.Path, **settings: Any) -> None:
    """export's quantize_static call (export/quantize.py) with ``settings`` overriding it."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    arguments = {
        "quant_format": QuantFormat.QDQ,
        "per_channel": True,
        "weight_type": QuantType.QInt8,
        "activation_type": QuantType.QUInt8,
        "calibrate_method": CalibrationMethod.MinMax,
        "calibration_cache_path": str(cache),
        **settings,
    }
    quantize_static(str(source), str(target), None, **arguments)


def _calibrate(model_path: pathlib.Path, feeds: list, folder: pathlib.Path) -> pathlib.Path:
    """Activation ranges of ``model_path`` (minmax, as export computes them) -> a cache file."""
    import onnx

    from defectkit.export.quantize import Calibration

    calibration = Calibration(onnx.load(model_path), feeds, "minmax")
    cache = folder / f"{model_path.stem}_ranges.json"
    cache.write_bytes(calibration.cache_path.read_bytes())
    calibration.close()
    return cache


def build_variants(fp32: pathlib.Path, data: pathlib.Path, folder: pathlib.Path, names) -> dict:
    """Every INT8 variant of ``fp32`` in ``folder``: name -> {path, build_s}."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quant_pre_process, quantize_dynamic

    from defectkit.export.quantize import _quiet, prepare
    from defectkit.models.guided_classifier.data.images import read_image
    from defectkit.models.guided_classifier.data.layout import read_split
    from defectkit.models.guided_classifier.export_plan import output_heads

    named = folder / "fp32_named.onnx"
    model = prepare(onnx.load(fp32))  # unique node names, as export quantises it
    onnx.save(model, named)
    feeds = [{"image": read_image(r.path)[None]} for r in read_split(data, "train")]
    cache = _calibrate(named, feeds, folder)
    softmax = [n.name for n in model.graph.node if n.op_type == "Softmax"]
    heads = output_heads(model)  # what export keeps float in every INT8 candidate
    gemm = {"op_types_to_quantize": GEMM_OPS}
    # Conv keeps its output Quantize: ONNX Runtime has no INT8 Conv with float output (QLinearConv
    # needs the Q after it; without one the Conv runs in float on dequantised weights).
    float_out = {"OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"]}
    initializers = {i.name for i in model.graph.initializer}
    # The attention's activation x activation MatMuls (Q K^T, weights x V). MatMulConstBOnly would
    # name them, but the QDQ quantiser ignores it (QDQMatMul has no such check): exclude by name.
    attention = [
        n.name for n in model.graph.node if n.op_type == "MatMul" and not set(n.input) & initializers
    ]
    plans = {
        "export": {},
        "export_heads": {"nodes_to_exclude": heads},
        "no_softmax": {"nodes_to_exclude": softmax[:-1]},  # the last Softmax is the output's
        "gemm": gemm,
        "gemm_weights": {**gemm, "nodes_to_exclude": attention},
        "gemm_per_tensor": {**gemm, "per_channel": False},
        "gemm_qoperator": {**gemm, "quant_format": QuantFormat.QOperator},
        "gemm_float_out": {**gemm, "extra_options": float_out},
        "weights_float_out": {**gemm, "extra_options": float_out, "nodes_to_exclude": attention},
        "weights_float_out_per_tensor": {
            **gemm,
            "per_channel": False,
            "extra_options": float_out,
            "nodes_to_exclude": attention,
        },
    }
    out = {"fp32": {"path": str(fp32), "build_s": 0.0}}
    for name in names:
        if name == "fp32":
            continue
        target = folder / f"{name}.onnx"
        start = time.perf_counter()
        with _quiet():
            if name in plans:
                _static(named, cache, target, **plans[name])
            elif name == "pre_gemm":
                pre = folder / "fp32_pre.onnx"
                # Its symbolic shape inference stops at the graph's symbolic channel axis
                # ("unsupported broadcast between channels 3"): ONNX shape inference + fusions only.
                quant_pre_process(str(named), str(pre), skip_symbolic_shape=True)
                _static(pre, _calibrate(pre, feeds, folder), target, **gemm)
            elif name == "dynamic":
                quantize_dynamic(
                    str(named), str(target), op_types_to_quantize=["MatMul", "Gemm"],
                    per_channel=True, weight_type=QuantType.QInt8,
                )  # fmt: skip
        out[name] = {"path": str(target), "build_s": time.perf_counter() - start}
        _log(f"built {name} in {out[name]['build_s']:.0f} s")
    return out


def graph_facts(path: str) -> dict[str, Any]:
    """Size, and how many GEMM-like nodes take dequantised (INT8) inputs, of one ONNX file."""
    import onnx

    model = onnx.load(path)
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    initializers = {i.name: i for i in model.graph.initializer}
    quantised = total = 0
    for node in model.graph.node:
        if node.op_type in ("QLinearMatMul", "QLinearConv", "MatMulInteger", "ConvInteger", "QGemm"):
            quantised, total = quantised + 1, total + 1
        elif node.op_type in ("MatMul", "Gemm", "Conv"):
            total += 1
            inputs = node.input[:2]
            quantised += all(producers.get(i) == "DequantizeLinear" for i in inputs)
    int8_bytes = sum(len(i.raw_data) for i in initializers.values() if i.data_type in (2, 3))
    ops = collections.Counter(n.op_type for n in model.graph.node)
    return {
        "mib": pathlib.Path(path).stat().st_size / 2**20,
        "int8_weight_mib": int8_bytes / 2**20,
        "gemm_nodes": total,
        "gemm_nodes_int8": quantised,
        "quantize_nodes": ops["QuantizeLinear"] + ops["DynamicQuantizeLinear"],
        "dequantize_nodes": ops["DequantizeLinear"],
    }


def with_metadata(path: str, fp32: pathlib.Path, folder: pathlib.Path) -> str:
    """A copy of ``path`` carrying the FP32 artifact's metadata (precision int8), for the runtime."""
    import onnx

    from defectkit.artifact import read_metadata, write_metadata

    model = onnx.load(path)
    metadata = read_metadata(fp32)
    if pathlib.Path(path) != fp32:
        metadata = dataclasses.replace(metadata, precision="int8")
    target = folder / f"{pathlib.Path(path).stem}_artifact.onnx"
    write_metadata(model, metadata)
    onnx.save(model, target)
    return str(target)


def fidelity(paths: dict[str, dict], data: pathlib.Path) -> dict[str, dict]:
    """Each variant against FP32 on the validation images (random weights: not accuracy)."""
    import numpy as np
    import onnxruntime as ort

    from defectkit.models.guided_classifier.data.images import read_image
    from defectkit.models.guided_classifier.data.layout import read_split

    images = [read_image(r.path)[None] for r in read_split(data, "val")]

    def outputs(path: str) -> list:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return [session.run(None, {"image": image}) for image in images]

    reference = outputs(paths["fp32"]["path"])
    out = {}
    for name, entry in paths.items():
        result = outputs(entry["path"])
        pairs = list(zip(reference, result, strict=True))
        probability = max(abs(float(r[0][0, -1] - o[0][0, -1])) for r, o in pairs)
        mask = float(np.mean([np.abs(r[1] - o[1]).mean() for r, o in pairs]))
        out[name] = {"max_probability_diff": probability, "mean_mask_diff": mask}
    return out


def time_variants(paths: dict, artifacts: dict, images: list[pathlib.Path], args) -> dict[str, dict]:
    """ORT from Python (decode included) and the C++ runtime, interleaved rounds, this process."""
    import onnxruntime as ort

    import defectkit
    from defectkit.models.guided_classifier.data.images import read_image

    decoded = [read_image(p) for p in images]
    steps = {}
    for name, entry in paths.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(entry["path"], options, providers=["CPUExecutionProvider"])
        classifier = defectkit.ImageClassifier(artifacts[name], threads=args.threads)
        steps[(name, "ort_python")] = lambda i, s=session: s.run(None, {"image": decoded[i][None]})
        steps[(name, "runtime")] = lambda i, c=classifier: c.classify(decoded[i])
    rounds: dict[tuple, list[list[float]]] = {key: [] for key in steps}
    for round_index in range(args.rounds):
        _log(f"timing round {round_index + 1}/{args.rounds}, load {os.getloadavg()[0]:.1f}")
        for key, step in steps.items():
            for i in range(args.warmup):
                step(i % len(decoded))
            seconds = []
            for i in range(args.runs):
                start = time.perf_counter()
                step(i % len(decoded))
                seconds.append(time.perf_counter() - start)
            rounds[key].append(seconds)
    out: dict[str, dict] = collections.defaultdict(dict)
    baseline = [statistics.median(r) for r in rounds[("fp32", "ort_python")]]
    for (name, how), values in rounds.items():
        # The load of a shared machine moves between rounds: each round's ratio to the same
        # round's ORT FP32, then their median, is steadier than a ratio of pooled statistics.
        ratios = [b / statistics.median(r) for b, r in zip(baseline, values, strict=True)]
        out[name][how] = {
            **latency_summary([s for r in values for s in r]),
            "x_ort_fp32": statistics.median(ratios),
            "x_ort_fp32_rounds": ratios,
        }
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=guided.TARGET_MODEL, choices=sorted(guided.MODELS))
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "bench_out" / "bench")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=6, help="timed images per variant per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated of {VARIANTS}")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    names = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}")
    names = ["fp32", *[n for n in names if n != "fp32"]]
    pin_to_cores(args.threads)
    started = time.perf_counter()
    machine = machine_info()
    entry = guided.setup(args.work, _log, (args.model,))[args.model]
    fp32 = pathlib.Path(entry["out"]) / "model_fp32.onnx"
    data = pathlib.Path(entry["run"]).parent / f"guided_data_{entry['image_size']}"
    from benchmarks.machine import ort_profile

    with tempfile.TemporaryDirectory(prefix="guided-int8-") as tmp:
        folder = pathlib.Path(tmp)
        paths = build_variants(fp32, data, folder, names)
        artifacts = {name: with_metadata(p["path"], fp32, folder) for name, p in paths.items()}
        images = sorted(pathlib.Path(entry["images"]).glob("*.png"))
        timings = time_variants(paths, artifacts, images, args)
        _log("profiles and fidelity")
        rows = []
        close = fidelity(paths, data)
        for name in names:
            profile = ort_profile(paths[name]["path"], args.threads, 2, entry["image_size"])
            rows.append(
                {
                    "variant": name,
                    **graph_facts(paths[name]["path"]),
                    "build_s": paths[name]["build_s"],
                    **{
                        f"{how}_{k}": v[k]
                        for how, v in timings[name].items()
                        for k in ("p50_ms", "min_ms", "x_ort_fp32", "x_ort_fp32_rounds")
                    },
                    **close[name],
                    "kernel_ms_per_run": profile["kernel_ms_per_run"],
                    "groups": profile["groups"],
                    "ops": profile["ops"][:6],
                }
            )
    machine["load_average_end"] = list(os.getloadavg())
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.guided_int8 " + " ".join(sys.argv[1:]),
        "model": {k: entry[k] for k in ("label", "config", "image_size", "gflop")},
        "machine": machine,
        "threads": args.threads,
        "rounds": args.rounds,
        "runs": args.runs,
        "rows": rows,
        "total_s": time.perf_counter() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = fresh_stem(args.out, f"guided_int8-{args.model}-{datetime.date.today()}-{socket.gethostname()}")
    (args.out / f"{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{stamp}.md").write_text(markdown(result))
    print(markdown(result))


def markdown(result: dict[str, Any]) -> str:
    load = result["machine"]["load_average"]
    end = result["machine"]["load_average_end"]
    lines = [
        f"# guided_classifier INT8 variants, {result['model']['label']}, {result['date']}",
        "",
        f"`{result['command']}`: {result['machine']['cpu']}, {result['threads']} threads, "
        f"{result['rounds']} interleaved rounds x {result['runs']} timed images per variant and harness; "
        f"load average {load[0]:.1f} at the start, {end[0]:.1f} at the end. Random weights: the "
        "probability/mask differences against FP32 check fidelity, not accuracy. p50 in ms (pooled); "
        "x ORT FP32 = the median over rounds of (ORT FP32's p50 / this p50, both in that round). "
        "ORT Python includes nothing but `session.run`; the runtime row is "
        "`ImageClassifier.classify` of a decoded image.",
        "",
        "| variant | ORT Python p50 | runtime p50 | x ORT FP32 (ORT) | x ORT FP32 (runtime) | GEMMs in INT8 "
        "| Q / DQ nodes | MiB | max dprob | mean dmask | kernel time: INT8 GEMM / float GEMM / QDQ / other "
        "| top ops |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        groups = r["groups"]
        other = 1.0 - sum(groups.values())
        split = " / ".join(f"{100 * v:.0f}%" for v in [*groups.values(), other])
        top = ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in r["ops"][:4])
        lines.append(
            f"| {r['variant']} | {r['ort_python_p50_ms']:.0f} | {r['runtime_p50_ms']:.0f} | "
            f"{r['ort_python_x_ort_fp32']:.2f} | {r['runtime_x_ort_fp32']:.2f} | "
            f"{r['gemm_nodes_int8']}/{r['gemm_nodes']} | {r['quantize_nodes']} / {r['dequantize_nodes']} | "
            f"{r['mib']:.0f} | {r['max_probability_diff']:.4f} | {r['mean_mask_diff']:.4f} | {split} "
            f"| {top} |"
        )
    lines += ["", f"Took {result['total_s'] / 60:.1f} min.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if __spec__ is None:
        sys.exit("run it as a module from the repository root: python -m benchmarks.guided_int8")
    main()
