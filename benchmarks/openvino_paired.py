"""Is defectkit's INT8 strip inspection at least as fast as OpenVINO's INT8 on the same trained
model (#18)? Many paired rounds, where ``make bench`` has two.

``make bench``'s trained table times each configuration in its own process, two rounds: two runs
of it ranked the OpenVINO execution provider and OpenVINO's own INT8 in opposite orders (0.84x and
1.10x), so a ranking needs paired data. This study runs, each in its own long-lived process, the
trained demo's INT8 artifact through ``defectkit.Inspector`` (on ONNX Runtime's OpenVINO
execution provider when ``make bench`` installed it, else the CPU provider) and the bench's two
OpenVINO INT8 models (NNCF defaults, NNCF accuracy control; built and cached by
``benchmarks.openvino_peer``). Each round times every configuration on the same ``--per-round``
of 8 uncompressed copies of test strips, in a shuffled order, file read included (what
``Inspector.inspect`` of a path does); each turn opens with a pause (the other processes'
spinning threads go idle) and ``--warm`` untimed strips (caches and the runtime's parked threads
warm up, as on a line where one model runs alone).

Per round, OpenVINO / defectkit (paired): the median and a bootstrap 95 % interval over rounds;
above 1 means defectkit is faster, and "defectkit faster" or "peer faster" is said only when the
whole interval lies on one side of 1. Accuracy beside each: the bench's cached test-split image
and pixel AUROC. Harness lessons: all three in one process ran 1.3-1.7x slower than alone (two
OpenVINO copies and ONNX Runtime in one process); one untimed and 4 timed strips per turn ran
every row about 1.5x slower than back to back.

    .venv/bin/python -m benchmarks.openvino_paired --trained demo_out/reference_unet --rounds 100

Writes ``benchmarks/results/openvino_paired-<date>.{json,md}`` unless ``--out`` says.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

import numpy as np

from benchmarks import openvino_peer
from defectkit.benchmarking import machine_info, write_study
from defectkit.evaluation.evidence import paired_time_ratio

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PEERS = ("OpenVINO INT8 (NNCF defaults)", "OpenVINO INT8 (NNCF accuracy control)")


def static_shape(artifact: str, channels: int = 4) -> str:
    """The EP's ``reshape_input`` value fixing the artifact's input to one 4-channel strip."""
    import onnx

    graph_input = onnx.load(artifact, load_external_data=False).graph.input[0]
    height, width = (d.dim_value for d in graph_input.type.tensor_type.shape.dim[2:])
    return f"{graph_input.name}[1,{channels},{height},{width}]"


def rows(trained: dict) -> tuple[list[dict], list[dict]]:
    """defectkit's INT8 rows (on the EP when installed, also with static input shapes; else the
    CPU provider) and the bench's two OpenVINO INT8 rows."""
    configs = openvino_peer.configurations(trained)
    ours = [c for c in configs if c["kind"] == "inspector" and c["precision"] == "int8"]
    ours.sort(key=lambda c: c.get("provider") != "openvino")  # the EP first, when there
    ours = ours[:1]
    if ours[0].get("provider") == "openvino":
        # The EP compiles the artifact's dynamic batch and channel axes as dynamic unless told.
        static = {"reshape_input": static_shape(ours[0]["artifact"])}
        name = ours[0]["name"].replace(" (trained)", ", static shape (trained)")
        ours.append({**ours[0], "name": name, "provider_options": static})
    return ours, [c for c in configs if c["name"] in PEERS]


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


def _worker(config: dict, threads: int, warm: int, connection) -> None:
    """One configuration in its own process (one runtime per process, as on a line): time the
    strips the parent sends, send back milliseconds per strip; ``("outputs", strips)``: send back
    the heatmaps instead."""
    inspector = openvino_peer.make_inspector(config, threads)
    while (strips := connection.recv()) is not None:
        if strips[0] == "outputs":
            connection.send(np.stack([inspector.inspect(strip).heatmap for strip in strips[1]]))
            continue
        for strip in strips[:warm]:  # untimed: caches and the runtime's sleeping threads warm up
            inspector.inspect(strip)
        times = []
        for strip in strips:
            start = time.perf_counter()
            inspector.inspect(strip)
            times.append((time.perf_counter() - start) * 1e3)
        connection.send(times)


def measure(args: argparse.Namespace) -> dict:
    import multiprocessing

    trained = openvino_peer.setup(args.work, args.trained, lambda m: print(m, file=sys.stderr))
    if "skipped" in trained:
        raise SystemExit(trained["skipped"])
    ours, peers = rows(trained)
    configs = ours + peers
    strips = uncompressed_strips(pathlib.Path(trained["data"]), args.work / "paired_strips")
    context = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for config in configs:
        parent, child = context.Pipe()
        worker = context.Process(target=_worker, args=(config, args.threads, args.warm, child), daemon=True)
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    for pipe in pipes:  # warm-up: first calls pay for allocation and kernel choice
        pipe.send(strips[:3])
        pipe.recv()
    rng = np.random.default_rng(0)
    per_round: list[list[float]] = [[] for _ in configs]
    for index in range(args.rounds):
        chosen = [strips[(index * args.per_round + k) % len(strips)] for k in range(args.per_round)]
        for i in rng.permutation(len(configs)):
            time.sleep(args.settle_s)  # the last process's spinning worker threads go idle
            pipes[i].send(chosen)
            per_round[i].append(statistics.median(pipes[i].recv()))
        if (index + 1) % 10 == 0:
            print(f"round {index + 1}/{args.rounds}", file=sys.stderr)
    heatmaps = []
    for pipe in pipes[: len(ours)]:  # our variants must compute the same function
        pipe.send(("outputs", strips))
        heatmaps.append(pipe.recv())
    for pipe, worker in zip(pipes, workers, strict=True):
        pipe.send(None)
        worker.join()
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
        verdict = "A faster" if high < 1 else "B faster" if low > 1 else "no difference shown"
        lines.append(f"| {c['a']} | {c['b']} | {c['ratio']:.3f} | {low:.3f}-{high:.3f} | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trained", type=pathlib.Path, default=ROOT / "demo_out" / "reference_unet")
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "bench_out" / "bench")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--per-round", type=int, default=8, help="strips timed per configuration per round")
    parser.add_argument("--warm", type=int, default=2, help="untimed strips opening each turn")
    parser.add_argument(
        "--settle-s", type=float, default=0.2, help="pause before each configuration's turn (seconds)"
    )
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    result = measure(args)
    write_study(args.out, "openvino_paired", result, markdown(result))


if __name__ == "__main__":
    main()
