"""Static or dynamic INT8 for the ViT's linear layers, and merged constants (#17: INT8 >= 2.5x FP32)?

From one FP32 export (default: ``make bench``'s ViT-S/14 224, random weights, under
``bench_out/bench``) builds INT8 artifacts with export's own quantiser
(``defectkit.export.quantize.Calibration``: the same MinMax ranges, 7-bit weights, the output heads
float) that differ only in how the products are quantised:

- ``static``: ``ImageExportPlan.quantization()``: every MatMul/Gemm (the attention's products of
  two activations too) and convolution, activation scales from calibration, the products' outputs
  float (ONNX Runtime's ``QGemm``/``MatMulIntegerToFloat``/``QLinearMatMul``);
- ``static_shared``: the same, quantised as export did before this study, without giving every
  node its own copy of the constants onnxsim merged (the random model's zero biases: one tensor
  for a convolution, 48 Adds and 25 LayerNorms, which then read a dequantised int32 bias);
- ``dynamic``: products of an activation and a weight with the activation quantised at run time
  (``DynamicQuantizeMatMul``/``MatMulIntegerToFloat``), the attention's products float,
  convolutions static (``dynamic_op_types``, export/dynamic.py);
- ``dynamic_attention``: ``dynamic`` with the attention's products static INT8.

Times the FP32 artifact and the INT8 ones through the C++ runtime (``ImageClassifier.classify`` on
the bench's PNGs, decode included, 2 threads), on the CPU provider and, where ``make bench``
installed it, ``static`` and ``dynamic`` on ONNX Runtime's OpenVINO EP; every configuration in a
fresh process per round, in shuffled order. Reports paired time ratios with 95 % bootstrap
intervals, the largest probability and mean mask differences from FP32 on those images, and one
kernel profile of each CPU artifact.

    .venv/bin/python experiments/guided_classifier/dynamic_int8.py --rounds 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import random
import subprocess
import sys
import time
from unittest import mock

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/
BENCH = ROOT / "bench_out" / "bench"
ARTIFACTS = ("static", "static_shared", "dynamic", "dynamic_attention")


def quantization_options() -> dict[str, dict]:
    """Export's quantiser options of each INT8 artifact; ``static`` is the family's own plan."""
    from defectkit.models.guided_classifier.export_plan import ImageExportPlan

    static = ImageExportPlan.quantization(None)
    dynamic = {"dynamic_op_types": ["MatMul", "Gemm"]}
    return {
        "static": static,
        "static_shared": static,
        "dynamic": {**dynamic, "op_types_to_quantize": ["Conv"]},
        "dynamic_attention": {**static, **dynamic, "op_types_to_quantize": ["MatMul", "Conv"]},
    }


PAIRS = [("static", "fp32"), ("static_shared", "fp32"), ("dynamic", "fp32"), ("dynamic_attention", "fp32"),
         ("static", "static_shared"), ("dynamic", "static"), ("dynamic_attention", "dynamic"),
         ("static EP", "fp32"), ("dynamic EP", "fp32"), ("dynamic EP", "static EP")]  # fmt: skip


def build(export: pathlib.Path, data: pathlib.Path, work: pathlib.Path) -> dict[str, pathlib.Path]:
    """The artifacts by name; the INT8 ones carry the export's INT8 metadata (same thresholds)."""
    import onnx

    from defectkit.export import quantize
    from defectkit.models.guided_classifier.data.images import read_image
    from defectkit.models.guided_classifier.data.layout import read_split
    from defectkit.models.guided_classifier.export_plan import output_heads

    work.mkdir(parents=True, exist_ok=True)
    fp32 = onnx.load(export / "model_fp32.onnx")
    metadata = onnx.load(export / "model_int8.onnx", load_external_data=False).metadata_props
    feeds = [{"image": read_image(r.path)[None]} for r in read_split(data, "train")]
    paths = {"fp32": export / "model_fp32.onnx"}
    for name, options in quantization_options().items():
        shared = mock.patch.object(quantize, "_unshared_initializers", lambda m: m)
        with shared if name == "static_shared" else contextlib.nullcontext():
            calibration = quantize.Calibration(fp32, feeds, "minmax")
        try:
            model = calibration.quantize(output_heads(fp32), options, weight_bits=7)
        finally:
            calibration.close()
        del model.metadata_props[:]
        model.metadata_props.extend(metadata)
        paths[name] = work / f"model_{name}.onnx"
        onnx.save(model, paths[name])
    return paths


def time_classifier(
    artifact: pathlib.Path, images: list[pathlib.Path], threads: int, runs: int, ep: bool
) -> float:
    """Median ms of ``ImageClassifier.classify`` over ``runs`` passes of ``images`` (this process)."""
    from benchmarks.guided import openvino_ep_library
    from benchmarks.machine import pin_to_cores

    import defectkit

    pin_to_cores(threads)
    extra = {"provider": "openvino", "onnxruntime_library": openvino_ep_library()} if ep else {}
    classifier = defectkit.ImageClassifier(str(artifact), threads=threads, **extra)
    for path in images:  # warm-up
        classifier.classify(str(path))
    times = []
    for _ in range(runs):
        for path in images:
            start = time.perf_counter()
            classifier.classify(str(path))
            times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def in_fresh_process(artifact: pathlib.Path, args: argparse.Namespace, ep: bool) -> float:
    command = [sys.executable, __file__, "--worker", str(artifact), "--images", str(args.images)]
    command += ["--threads", str(args.threads), "--runs", str(args.runs)] + (["--ep"] if ep else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def agreement(paths: dict[str, pathlib.Path], images: list[pathlib.Path]) -> dict[str, dict[str, float]]:
    """Largest |probability - FP32's| and mean |mask - FP32's| per INT8 artifact (CPU provider)."""
    import numpy as np

    import defectkit

    results = {
        k: [defectkit.ImageClassifier(str(p), threads=2).classify(str(i)) for i in images]
        for k, p in paths.items()
    }
    out = {}
    for name in ARTIFACTS:
        pairs = list(zip(results[name], results["fp32"], strict=True))
        out[name] = {
            "max_probability_diff": max(
                float(np.abs(a.probabilities - b.probabilities).max()) for a, b in pairs
            ),
            "mean_mask_diff": float(np.mean([np.abs(a.mask - b.mask).mean() for a, b in pairs])),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--export", type=pathlib.Path, default=BENCH / "export_guided_vits14_224")
    parser.add_argument(
        "--data", type=pathlib.Path, default=BENCH / "guided_data_224", help="calibration images"
    )
    parser.add_argument("--images", type=pathlib.Path, default=BENCH / "guided_images_224", help="timed PNGs")
    parser.add_argument("--work", type=pathlib.Path, default=BENCH / "dynamic_int8")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--runs", type=int, default=8, help="passes over the images per process")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=pathlib.Path, help="write the rounds and the summary as JSON")
    parser.add_argument("--worker", type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--ep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    images = sorted(args.images.glob("*.png"))
    if args.worker:
        print(time_classifier(args.worker, images, args.threads, args.runs, args.ep))
        return
    if not (args.export / "model_fp32.onnx").is_file() or not images:
        parser.error(f"{args.export}/model_fp32.onnx or {args.images}/*.png missing: run `make bench` first")
    from benchmarks.guided import openvino_ep_library
    from benchmarks.machine import ort_profile

    from defectkit.evaluation.evidence import paired_time_ratio

    paths = build(args.export, args.data, args.work)
    configs = {name: (path, False) for name, path in paths.items()}
    if openvino_ep_library():
        configs |= {f"{name} EP": (paths[name], True) for name in ("static", "dynamic")}
    rng = random.Random(0)
    rounds = []
    for index in range(args.rounds):
        order = rng.sample(sorted(configs), len(configs))
        rounds.append({c: in_fresh_process(configs[c][0], args, configs[c][1]) for c in order})
        times = ", ".join(f"{c} {rounds[-1][c]:.1f} ms" for c in configs)
        print(f"round {index + 1}/{args.rounds}: {times}", file=sys.stderr)
    summary: dict = {"time ratios": {}}
    for a, b in (p for p in PAIRS if p[0] in configs):
        value, (low, high) = paired_time_ratio([r[a] for r in rounds], [r[b] for r in rounds], alpha=0.025)
        summary["time ratios"][f"{a} / {b}"] = {"median": value, "interval": [low, high]}
        print(f"{a} / {b} time: {value:.3f} ({low:.3f}-{high:.3f}); speed-up {1 / value:.2f}x")
    summary["median ms"] = {c: sorted(r[c] for r in rounds)[len(rounds) // 2] for c in configs}
    print("median ms per image: " + ", ".join(f"{c} {v:.1f}" for c, v in summary["median ms"].items()))
    summary["agreement"] = agreement(paths, images)
    for name, value in summary["agreement"].items():
        print(f"{name} vs fp32: " + ", ".join(f"{k} {v:.2e}" for k, v in value.items()))
    summary["profiles"] = {
        n: ort_profile(str(p), args.threads, 20, image_size=224, warmup=3) for n, p in paths.items()
    }
    for name, profile in summary["profiles"].items():
        ops = ", ".join(f"{o['op']} {o['ms_per_run']:.1f}" for o in profile["ops"])
        print(f"{name} profile: kernels {profile['kernel_ms_per_run']:.1f} ms per run: {ops}")
    if args.out:
        args.out.write_text(
            json.dumps({"export": str(args.export), "rounds": rounds, "summary": summary}, indent=1)
        )


if __name__ == "__main__":
    main()
