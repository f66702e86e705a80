"""How far can INT8 get ahead of FP32 on the ViT-S/14 with ONNX Runtime's CPU provider (#17: 2.5x)?

Profiles the FP32 and INT8 artifacts of one export (default: ``make bench``'s ViT-S/14 224,
random weights, under ``bench_out/bench``) with ONNX Runtime's profiler, one fresh process per
artifact per round, in shuffled order, and splits each run's kernel time into matrix products
(``benchmarks.machine.OP_GROUPS``: float and INT8 GEMMs, MatMuls, convolutions), quantise/dequantise
and the rest (LayerNorm, GELU, Softmax, transposes, ...). Per round, paired:

- the whole-graph speed-up, FP32 / INT8, in kernel time and in wall time per run;
- the speed-up of the matrix products alone, FP32's / INT8's;
- the matrix-product speed-up INT8 would need for 2.5x if nothing else changed:
  FP32 GEMM time / (FP32 time / 2.5 - INT8's time outside its GEMMs);
- the ceiling: FP32 time / INT8's time outside its GEMMs (INT8 GEMMs taking no time at all).

Medians over rounds with 95 % bootstrap intervals (``paired_time_ratio``).

    .venv/bin/python experiments/guided_classifier/gemm_ceiling.py --rounds 12
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/
DEFAULT = ROOT / "bench_out" / "bench" / "export_guided_vits14_224"
TARGET = 2.5


def profile(artifact: pathlib.Path, threads: int, runs: int) -> dict:
    """Kernel ms per run by group, and the wall ms per run, of one artifact (this process)."""
    from benchmarks.machine import ort_profile

    result = ort_profile(str(artifact), threads, runs, image_size=224, warmup=3)
    groups = result["group_ms_per_run"]
    gemm = groups["int8 GEMM/conv"] + groups["float GEMM/conv"]
    qdq = groups["quantize/dequantize"]
    kernel = result["kernel_ms_per_run"]
    return {"wall_ms": result["wall_ms_per_run"], "gemm": gemm, "qdq": qdq, "other": kernel - gemm - qdq,
            "kernel_ms": kernel}  # fmt: skip


def in_fresh_process(artifact: pathlib.Path, threads: int, runs: int) -> dict:
    command = [sys.executable, __file__, "--worker", str(artifact), "--threads", str(threads)]
    out = subprocess.run([*command, "--runs", str(runs)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(rounds: list[dict]) -> dict:
    from defectkit.evaluation.evidence import paired_time_ratio

    fp32 = [r["fp32"] for r in rounds]
    int8 = [r["int8"] for r in rounds]
    outside = [i["kernel_ms"] - i["gemm"] for i in int8]  # INT8's time outside its matrix products

    def ratio(numerator: list[float], denominator: list[float]) -> dict:
        value, (low, high) = paired_time_ratio(numerator, denominator, alpha=0.025)
        return {"median": value, "interval": [low, high]}

    return {
        "wall speed-up": ratio([f["wall_ms"] for f in fp32], [i["wall_ms"] for i in int8]),
        "kernel speed-up": ratio([f["kernel_ms"] for f in fp32], [i["kernel_ms"] for i in int8]),
        "GEMM speed-up": ratio([f["gemm"] for f in fp32], [i["gemm"] for i in int8]),
        f"GEMM speed-up needed for {TARGET}x": ratio(
            [f["gemm"] for f in fp32],
            [f["kernel_ms"] / TARGET - o for f, o in zip(fp32, outside, strict=True)],
        ),
        "ceiling (INT8 GEMMs free)": ratio([f["kernel_ms"] for f in fp32], outside),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--export", type=pathlib.Path, default=DEFAULT, help="folder with model_fp32/int8.onnx"
    )
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--runs", type=int, default=20, help="profiled runs per artifact per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=pathlib.Path, help="write the rounds and the summary as JSON")
    parser.add_argument("--worker", type=pathlib.Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(profile(args.worker, args.threads, args.runs)))
        return
    artifacts = {p: args.export / f"model_{p}.onnx" for p in ("fp32", "int8")}
    for artifact in artifacts.values():
        if not artifact.is_file():
            parser.error(f"{artifact} not found: run `make bench` first, or pass --export")
    rng = random.Random(0)
    rounds = []
    for index in range(args.rounds):
        order = rng.sample(sorted(artifacts), 2)
        rounds.append({p: in_fresh_process(artifacts[p], args.threads, args.runs) for p in order})
        r = rounds[-1]
        print(
            f"round {index + 1}/{args.rounds}: FP32 {r['fp32']['wall_ms']:.1f} ms "
            f"(GEMM {r['fp32']['gemm']:.1f}), INT8 {r['int8']['wall_ms']:.1f} ms "
            f"(GEMM {r['int8']['gemm']:.1f}, Q/DQ {r['int8']['qdq']:.1f}, other {r['int8']['other']:.1f})",
            file=sys.stderr,
        )
    summary = summarise(rounds)
    for name, value in summary.items():
        low, high = value["interval"]
        print(f"{name}: {value['median']:.2f}x ({low:.2f}-{high:.2f})")
    for precision in ("fp32", "int8"):
        medians = {k: sorted(r[precision][k] for r in rounds)[len(rounds) // 2] for k in rounds[0][precision]}
        print(f"{precision} median ms per run: " + ", ".join(f"{k} {v:.1f}" for k, v in medians.items()))
    if args.out:
        args.out.write_text(
            json.dumps({"export": str(args.export), "rounds": rounds, "summary": summary}, indent=1)
        )


if __name__ == "__main__":
    main()
