"""Is defectkit's INT8 strip inspection at least as fast as OpenVINO's INT8 on the same trained
model (#18)? Many paired rounds, where ``make bench`` has two.

``make bench``'s trained table times each configuration in its own process, two rounds: two runs
of it ranked the OpenVINO execution provider and OpenVINO's own INT8 in opposite orders (0.84x and
1.10x), so a ranking needs paired data. This study runs, each in its own long-lived process, the
trained demo's INT8 artifact through ``defectkit.Inspector`` (on ONNX Runtime's OpenVINO
execution provider when ``make bench`` installed it, else the CPU provider) and the bench's two
OpenVINO INT8 models (NNCF defaults, NNCF accuracy control; built and cached by
``benchmarks.openvino_peer``), timed by ``benchmarks.paired`` (each in its own long-lived
process, paired rounds, shuffled order) on 8 uncompressed copies of test strips, file read
included (what ``Inspector.inspect`` of a path does). With the EP also the same artifact with the
input shape fixed (``provider_options={"reshape_input": ...}``), its heatmaps compared with the
default session's.

Time ratio A / B in the same round: the median over rounds and a bootstrap 95 % interval; a
verdict only when the whole interval lies on one side of 1. Accuracy beside each: the bench's
cached test-split image and pixel AUROC.

    .venv/bin/python -m benchmarks.openvino_paired --trained demo_out/reference_unet --rounds 100

Writes ``benchmarks/results/openvino_paired-<date>.{json,md}`` unless ``--out`` says.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys

import numpy as np

from benchmarks import openvino_peer, paired
from defectkit.benchmarking import machine_info, write_study
from defectkit.evaluation.evidence import interval_side, paired_time_ratio

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PEERS = ("OpenVINO INT8 (NNCF defaults)", "OpenVINO INT8 (NNCF accuracy control)")


def rows(trained: dict) -> tuple[list[dict], list[dict]]:
    """defectkit's INT8 rows (on the EP when installed, as it is and with the static input shape;
    else the CPU provider) and the bench's two OpenVINO INT8 rows."""
    configs = openvino_peer.configurations(trained)
    ours = [c for c in configs if c["kind"] == "inspector" and c["precision"] == "int8"]
    on_ep = [c for c in ours if c.get("provider") == "openvino"]
    return on_ep or ours[:1], [c for c in configs if c["name"] in PEERS]


def uncompressed_strips(data: pathlib.Path, folder: pathlib.Path, count: int = 8) -> list[pathlib.Path]:
    """Uncompressed copies of ``count`` test strips, good and defective (the demo's are Deflate-
    compressed: decoding would dominate, as ``make bench``'s strips avoid too)."""
    from defectkit.data.strip_io import read_strip_tifffile, write_strip

    sources = sorted((data / "test").rglob("*.tif"))
    if not sources:
        raise SystemExit(f"{data}/test: no test strips")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index, source in enumerate(sources[:: max(1, len(sources) // count)][:count]):
        target = folder / f"strip{index}.tif"
        if not target.is_file():
            write_strip(target, read_strip_tifffile(source), compression=None)
        out.append(target)
    return out


def strip_call(config: dict, threads: int):
    """The timed call of one configuration (in its worker process): a strip path in, the heatmap
    out (file read included)."""
    inspector = openvino_peer.make_inspector(config, threads)
    return lambda strip: inspector.inspect(strip).heatmap


def measure(args: argparse.Namespace) -> dict:
    trained = openvino_peer.setup(args.work, args.trained, lambda m: print(m, file=sys.stderr))
    if "skipped" in trained:
        raise SystemExit(trained["skipped"])
    ours, peers = rows(trained)
    configs = ours + peers
    strips = uncompressed_strips(pathlib.Path(trained["data"]), args.work / "paired_strips")
    per_round, outputs = paired.time_paired(
        configs, strip_call, strips, rounds=args.rounds, per_round=args.per_round, warm=args.warm,
        settle_s=args.settle_s, threads=args.threads, outputs_of=range(len(ours)),
    )  # fmt: skip
    heatmaps = [np.stack(outputs[i]) for i in range(len(ours))]  # our variants: the same function?
    out = []
    for index, (config, times) in enumerate(zip(configs, per_round, strict=True)):
        row = {"name": config["name"], "ours": index < len(ours), "median_ms": statistics.median(times),
               "accuracy": trained["accuracy"].get(config["name"], {}),
               "provider_options": config.get("provider_options", {})}  # fmt: skip
        if 0 < index < len(ours):
            row["max_heatmap_difference_vs_first"] = float(np.abs(heatmaps[index] - heatmaps[0]).max())
        out.append(row)
    pairs = [(j, i) for i in range(len(ours)) for j in range(len(ours), len(configs))]
    pairs += [(i, 0) for i in range(1, len(ours))]  # our variants against our first row
    comparisons = []
    for a, b in pairs:
        ratio, (low, high) = paired_time_ratio(per_round[a], per_round[b], alpha=0.025)
        comparisons.append({"a": configs[a]["name"], "b": configs[b]["name"], "ratio": ratio,
                            "interval": [low, high]})  # fmt: skip
    return {
        "machine": machine_info(),
        "threads": args.threads,
        "rounds": args.rounds,
        "strips_per_round": args.per_round,
        "settle_s": args.settle_s,
        "warm_strips_per_turn": args.warm,
        "trained": str(args.trained),
        "load_average_end": os.getloadavg(),
        "rows": out,
        "comparisons": comparisons,
    }


def markdown(result: dict) -> str:
    lines = [
        f"# defectkit INT8 vs OpenVINO INT8, paired, {result['machine'].get('cpu', '')}",
        "",
        "Command: `.venv/bin/python -m benchmarks.openvino_paired --trained "
        f"{result['trained']} --rounds {result['rounds']}`; {result['threads']} threads, "
        f"{result['rounds']} rounds x {result['strips_per_round']} test strips per configuration "
        f"(shuffled order per round, file read included); load average at the end "
        f"{result['load_average_end'][0]:.2f}.",
        "",
        "| configuration | median ms | test image / pixel AUROC |",
        "| --- | --- | --- |",
    ]
    for row in result["rows"]:
        acc = row["accuracy"]
        difference = row.get("max_heatmap_difference_vs_first")
        if acc:
            auroc = f"{acc['image_auroc']:.3f} / {acc['pixel_auroc']:.3f}"
        elif difference is not None:
            auroc = (
                f"the first row's artifact; heatmaps differ by at most {difference:.1e} on the timed strips"
            )
        else:
            auroc = "n/a"
        options = ", ".join(f"{k}={v}" for k, v in row["provider_options"].items())
        name = f"{row['name']} ({options})" if options else row["name"]
        lines.append(f"| {name} | {row['median_ms']:.1f} | {auroc} |")
    lines += [
        "",
        "Time ratio A / B in the same round, median over rounds and bootstrap 95 % interval "
        "(< 1: A faster); a verdict only when the interval lies on one side of 1.",
        "",
        "| A | B | A / B | 95 % interval | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in result["comparisons"]:
        low, high = c["interval"]
        verdict = interval_side(low, high, "A faster", "B faster")
        lines.append(f"| {c['a']} | {c['b']} | {c['ratio']:.3f} | {low:.3f}-{high:.3f} | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trained", type=pathlib.Path, default=ROOT / "demo_out" / "reference_unet")
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "bench_out" / "bench")
    paired.add_arguments(parser, rounds=100, per_round=8, item="strip")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    result = measure(args)
    write_study(args.out, "openvino_paired", result, markdown(result))


if __name__ == "__main__":
    main()
