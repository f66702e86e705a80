"""Can any runtime on this CPU run ViT-S/14 224 INT8 5x faster than PyTorch eager (#17)?

Times, on the bench's 3 PNGs (decode included in every row), one fresh process per configuration
per round, in shuffled order:

- ``pytorch``: PyTorch eager FP32 (the export's ``ImageGraph``, as ``make bench``);
- ``ort_fp32``: ONNX Runtime FP32 from Python, the same artifact;
- ``defectkit_ep_bf16``: defectkit's INT8 artifact through the C++ runtime on ONNX Runtime's
  OpenVINO EP with bf16 float parts (the fastest defectkit configuration measured);
- ``ov_*``: OpenVINO's own runtime on the FP32 artifact (fixed to 224 x 224 x 3): FP32 with f32
  or bf16 inference precision, and NNCF's post-training INT8 (``model_type=TRANSFORMER``: its
  SmoothQuant and transformer-aware placement; calibrated on the bench's training images) with
  the float parts in f32 or bf16.

Reports each configuration's median ms and its speed-up over PyTorch and ORT FP32 (paired per
round, 95 % bootstrap intervals). The OpenVINO rows are peers, not defectkit: they say how far
the CPU allows, not what the C++ runtime does. Needs ``make bench``'s extra (OpenVINO, NNCF, the
EP) and its ViT-S/14 224 export under ``bench_out/bench``.

    .venv/bin/python experiments/guided_classifier/openvino_ceiling.py --rounds 15
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/
BENCH = ROOT / "bench_out" / "bench"
CONFIGS = (
    "pytorch",
    "ort_fp32",
    "defectkit_ep_bf16",
    "ov_fp32_f32",
    "ov_fp32_bf16",
    "ov_int8_f32",
    "ov_int8_bf16",
)


def build_openvino(export: pathlib.Path, data: pathlib.Path, work: pathlib.Path) -> dict[str, pathlib.Path]:
    """OpenVINO IR of the FP32 artifact at 224 x 224 x 3, and NNCF's INT8 of it (cached in ``work``)."""
    paths = {"fp32": work / "vit_fp32.xml", "int8": work / "vit_int8.xml"}
    if all(p.is_file() for p in paths.values()):
        return paths
    import nncf
    import openvino as ov

    from defectkit.models.guided_classifier.data.images import read_image
    from defectkit.models.guided_classifier.data.layout import read_split

    work.mkdir(parents=True, exist_ok=True)
    model = ov.Core().read_model(str(export / "model_fp32.onnx"))
    model.reshape({"image": [1, 224, 224, 3]})
    ov.save_model(model, paths["fp32"])
    calibration = [read_image(r.path)[None] for r in read_split(data, "train")]
    quantized = nncf.quantize(
        model, nncf.Dataset(calibration), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration)
    )
    ov.save_model(quantized, paths["int8"])
    return paths


def step(name: str, args: argparse.Namespace):
    """What one timed call of configuration ``name`` does, given a PNG path (this process)."""
    from benchmarks import guided

    export = args.export
    if name == "pytorch":
        return guided.step({"kind": "guided_torch", "run": str(args.run)}, args.threads)
    if name == "ort_fp32":
        return guided.step({"kind": "guided_ort", "artifact": str(export / "model_fp32.onnx")}, args.threads)
    if name == "defectkit_ep_bf16":
        config = {"kind": "classifier", "artifact": str(export / "model_int8.onnx"), "provider": "openvino",
                  "library": guided.openvino_ep_library(), "provider_options": guided.BF16}  # fmt: skip
        return guided.step(config, args.threads)
    import openvino as ov

    from defectkit.models.guided_classifier.data.images import read_image

    precision, hint = name.split("_")[1:]
    model = args.work / f"vit_{precision}.xml"
    options = {
        "INFERENCE_NUM_THREADS": args.threads,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": hint,
    }
    compiled = ov.Core().compile_model(str(model), "CPU", options)
    return lambda path: compiled(read_image(path)[None])


def worker(name: str, args: argparse.Namespace) -> float:
    from defectkit.benchmarking import pin_to_cores

    pin_to_cores(args.threads)
    images = sorted(args.images.glob("*.png"))
    call = step(name, args)
    for path in images:  # warm-up
        call(path)
    times = []
    for _ in range(args.runs):
        for path in images:
            start = time.perf_counter()
            call(path)
            times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def in_fresh_process(name: str, args: argparse.Namespace) -> float:
    command = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--runs",
        str(args.runs),
        "--threads",
        str(args.threads),
    ]
    for flag in ("export", "run", "images", "work"):
        command += [f"--{flag}", str(getattr(args, flag))]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--export", type=pathlib.Path, default=BENCH / "export_guided_vits14_224")
    parser.add_argument("--run", type=pathlib.Path, default=BENCH / "run_guided_vits14_224")
    parser.add_argument(
        "--data", type=pathlib.Path, default=BENCH / "guided_data_224", help="calibration images"
    )
    parser.add_argument("--images", type=pathlib.Path, default=BENCH / "guided_images_224", help="timed PNGs")
    parser.add_argument("--work", type=pathlib.Path, default=BENCH / "openvino_vit")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=6, help="passes over the images per process")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=pathlib.Path, help="write the rounds and the summary as JSON")
    parser.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(worker(args.worker, args))
        return
    if not (args.export / "model_fp32.onnx").is_file() or not (args.run / "best.pt").is_file():
        parser.error(f"{args.export} or {args.run} missing: run `make bench` first")
    from defectkit.evaluation.evidence import paired_time_ratio

    build_openvino(args.export, args.data, args.work)
    rng = random.Random(0)
    rounds = []
    for index in range(args.rounds):
        rounds.append({c: in_fresh_process(c, args) for c in rng.sample(CONFIGS, len(CONFIGS))})
        print(f"round {index + 1}/{args.rounds}: " + ", ".join(f"{c} {rounds[-1][c]:.1f}" for c in CONFIGS),
              file=sys.stderr)  # fmt: skip
    summary = {}
    for name in CONFIGS:
        row = {"median_ms": sorted(r[name] for r in rounds)[len(rounds) // 2]}
        for base in ("pytorch", "ort_fp32"):
            value, (low, high) = paired_time_ratio(
                [r[base] for r in rounds], [r[name] for r in rounds], alpha=0.025
            )
            row[f"speed-up over {base}"] = {"median": value, "interval": [low, high]}
        summary[name] = row
        ups = ", ".join(f"{k} {v['median']:.2f}x ({v['interval'][0]:.2f}-{v['interval'][1]:.2f})"
                        for k, v in row.items() if k != "median_ms")  # fmt: skip
        print(f"{name}: {row['median_ms']:.1f} ms; {ups}")
    if args.out:
        args.out.write_text(
            json.dumps({"export": str(args.export), "rounds": rounds, "summary": summary}, indent=1)
        )


if __name__ == "__main__":
    main()
