"""Which of several strip artifacts inspects a strip fastest (#18): each in its own process.

``session_options.py`` holds every session in one process; its ``--baseline`` comparison of two
networks' artifacts ran every row 1.3-1.7x slower than alone (the idle sessions' spinning threads
share the two cores) and can rank them differently (``benchmarks/paired.py`` says so of the strip
study). Here each artifact gets its own long-lived process with one ``defectkit.Inspector`` (the
C++ runtime, CPU provider, the runtime's settings), and ``benchmarks.paired`` times them in
shuffled rounds on the same uncompressed test strips, file read included: the time ratio of each
artifact to the first, per round, its median and a bootstrap 95 % interval.

    .venv/bin/python experiments/reference_unet/artifacts_paired.py \
        --strips demo_out/reference_unet/data \
        --artifact draem=demo_out/reference_unet/artifact/model_int8.onnx \
        --artifact head2=other_out/reference_unet/artifact/model_int8.onnx --rounds 40

Writes ``experiments/reference_unet/results/artifacts_paired-<date>.{json,md}`` unless ``--out``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # the repo root: benchmarks/
from benchmarks.openvino_paired import uncompressed_strips

from benchmarks import paired
from defectkit.benchmarking import machine_info, write_study
from defectkit.evaluation.evidence import interval_side, paired_time_ratio

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def strip_call(config: dict, threads: int):
    """The timed call in a worker process: a strip path in, the score out (file read included)."""
    import defectkit

    inspector = defectkit.Inspector(config["artifact"], threads=threads)
    return lambda strip: inspector.inspect(strip).score


def parse_artifact(text: str) -> dict:
    name, sep, path = text.partition("=")
    if not sep or not pathlib.Path(path).is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH to an existing .onnx, got {text!r}")
    return {"name": name, "artifact": path}


def measure(args: argparse.Namespace) -> dict:
    strips = uncompressed_strips(args.strips, args.work, count=args.per_round)
    per_round, _ = paired.time_paired(
        args.artifact, strip_call, strips, rounds=args.rounds, per_round=args.per_round,
        warm=args.warm, settle_s=args.settle_s, threads=args.threads,
    )  # fmt: skip
    rows = []
    for config, times in zip(args.artifact, per_round, strict=True):
        ratio, (low, high) = paired_time_ratio(times, per_round[0], alpha=0.025)
        rows.append({**config, "median_ms": statistics.median(times), "ratio_to_first": ratio,
                     "interval": [low, high]})  # fmt: skip
    return {
        "machine": machine_info(),
        "threads": args.threads,
        "rounds": args.rounds,
        "strips_per_round": args.per_round,
        "warm_strips_per_turn": args.warm,
        "strips": str(args.strips),
        "load_average_end": os.getloadavg(),
        "rows": rows,
        "command": " ".join(sys.argv),
    }


def markdown(result: dict) -> str:
    lines = [
        f"# Strip artifacts, paired, one process each ({result['machine'].get('cpu', '')})",
        "",
        f"Command: `{result['command']}`; {result['threads']} threads, {result['rounds']} rounds x "
        f"{result['strips_per_round']} uncompressed test strips per artifact (shuffled order per "
        f"round, {result['warm_strips_per_turn']} untimed first, file read included); load average "
        f"at the end {result['load_average_end'][0]:.2f}.",
        "",
        "| artifact | path | median ms | time / first's | 95 % interval | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["rows"]:
        low, high = row["interval"]
        verdict = interval_side(low, high, "faster", "slower")
        lines.append(
            f"| {row['name']} | `{row['artifact']}` | {row['median_ms']:.1f} | {row['ratio_to_first']:.3f} "
            f"| {low:.3f}-{high:.3f} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strips", type=pathlib.Path, required=True, help="a demo data folder (its test/)")
    parser.add_argument("--artifact", type=parse_artifact, action="append", required=True, help="NAME=PATH")
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("bench_out/artifacts_paired"))
    paired.add_arguments(parser, rounds=40, per_round=8, item="strip")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if len(args.artifact) < 2:
        parser.error("give at least two --artifact NAME=PATH")
    result = measure(args)
    write_study(args.out, "artifacts_paired", result, markdown(result))


if __name__ == "__main__":
    main()
