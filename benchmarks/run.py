"""defectkit against the seed pipeline and PyTorch eager: latency, throughput, compute, memory.

    make bench                      # sets up, then: .venv/bin/python -m benchmarks.run
    .venv/bin/python -m benchmarks.run --rounds 2 --threads 2     # from the repository root

Every configuration runs in its own process (a subprocess of this script, pinned to the
first ``--threads`` cores), in interleaved rounds (round 1: every configuration once, round 2:
again, ...), each process warming up before its timed strips. Latencies of one configuration
are pooled over the rounds. All configurations read the same uncompressed 976 x 176 strips
(copies of demo test strips: the demo set is Deflate-compressed and decoding would dominate).

Models are random-weight (fixed seeds): speed does not depend on the weights; every accuracy
number that comes from random weights is marked as such. Trained accuracy comes from the width
study (experiments/reference_unet/results/width_study-*.json).

guided_classifier rows (benchmarks/guided.py): ViT-S/14 at 224 and the demo's ViT at 128, the
C++ runtime FP32/INT8 against ONNX Runtime FP32 from Python and PyTorch eager FP32, in the same
interleaved rounds; images instead of strips (images/s).

Writes benchmarks/results/<date>-<host>.json, .md and .png (``-2``, ``-3`` ... for later runs that day).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks import guided, openvino_peer, throughput
from benchmarks.machine import gemm_peak, ort_profile, preprocessing, timed
from benchmarks.strips import (
    BENCH_STRIPS,
    DEFAULT_WIDTH,
    PATCH,
    export_summary,
    gflop_per_strip,
    latest_width_study,
    setup_strips,
    strip_configurations,
    targets,
)
from defectkit.benchmarking import (
    SCHEMA_VERSION,
    fresh_stem,
    latency_summary,
    machine_info,
    peak_rss_mib,
    pin_to_cores,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

FAMILIES = ("reference_unet", "guided_classifier")
# What the result keeps of the trained-model setup (benchmarks/openvino_peer.py)
TRAINED_KEYS = ("skipped", "accuracy", "run", "files", "fp32_agreement")


# --------------------------------------------------------------------------------------------
# Setup: data, strips, random-weight runs, artifacts (cached under --work)
# --------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def setup(
    work: pathlib.Path, families: tuple[str, ...] = FAMILIES, trained: pathlib.Path | None = None
) -> dict[str, Any]:
    """Builds (or reuses) everything the configurations need; returns paths and export reports."""
    work.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Any] = {"artifacts": {}, "guided": {}, "trained": {"skipped": "strip rows not run"}}
    if "reference_unet" in families:
        paths.update(setup_strips(work, _log))
        if trained is not None:
            paths["trained"] = openvino_peer.setup(work, trained, _log)
    if "guided_classifier" in families:
        paths["guided"] = guided.setup(work, _log)
    return paths


def configurations(paths: dict[str, Any], tool: str | None) -> list[dict[str, Any]]:
    """Every configuration: name, kind, what it runs, precision, width and graph (strip rows, then
    guided_classifier rows)."""
    configs = strip_configurations(paths, tool) if paths.get("artifacts") else []
    configs += openvino_peer.configurations(paths.get("trained", {"skipped": "not set up"}))
    return configs + guided.configurations(paths.get("guided", {}), tool)


# --------------------------------------------------------------------------------------------
# Workers: one process per configuration per round
# --------------------------------------------------------------------------------------------


def worker(config: dict[str, Any], paths: dict[str, Any], threads: int, warmup: int, runs: int) -> dict:
    """Runs one configuration in this process; returns raw latencies and process facts."""
    cores = pin_to_cores(threads)
    load_before = list(os.getloadavg())
    kind = config["kind"]
    if config.get("family") == "guided_classifier":  # images: decoded from the PNG file every call
        images = sorted(pathlib.Path(config["images"]).glob("*.png"))
        seconds, wall = timed(guided.step(config, threads), images, warmup, runs)
        return _worker_result(seconds, wall, cores, load_before)
    strips = sorted(pathlib.Path(paths["strips"]).glob("*.tif"))
    if config.get("table") == "trained":  # the trained model: defectkit's artifacts and OpenVINO
        seconds, wall = timed(openvino_peer.make_inspector(config, threads).inspect, strips, warmup, runs)
    elif kind == "seed":
        from benchmarks.seed_pipeline import SeedPipeline

        pipeline = SeedPipeline(pathlib.Path(paths["seed_onnx"]), threads)
        seconds, wall = timed(pipeline, strips, warmup, runs)
    elif kind == "torch":
        import tifffile
        import torch

        from benchmarks.seed_pipeline import seed_network
        from defectkit.models.reference_unet.sliding_window import sliding_window_heatmap

        torch.set_num_threads(threads)
        model = seed_network()

        def step(path: pathlib.Path) -> None:
            strip = tifffile.imread(path)[:3].astype("float32") / 255.0
            with torch.no_grad():
                sliding_window_heatmap(model, strip, PATCH)

        seconds, wall = timed(step, strips, warmup, runs)
    elif kind == "inspector":
        import defectkit

        inspector = defectkit.Inspector(config["artifact"], threads=threads)
        seconds, wall = timed(inspector.inspect, strips, warmup, runs)
    else:
        msg = f"unknown configuration kind {kind!r}"
        raise ValueError(msg)
    return _worker_result(seconds, wall, cores, load_before)


def _worker_result(seconds: list[float], wall: float, cores: list[int], load_before: list[float]) -> dict:
    return {
        "seconds": seconds,
        "wall_s": wall,
        "peak_rss_mib": peak_rss_mib(),
        "cores": cores,
        "load_average": [load_before, list(os.getloadavg())],
    }


def run_tool(tool: str, config: dict, paths: dict, threads: int, warmup: int, runs: int) -> dict:
    """One defectkit-bench process (it reads the strip or decodes the image once, then times
    inspections or classifications of it)."""
    if config.get("family") == "guided_classifier":
        strip = sorted(pathlib.Path(config["images"]).glob("*.png"))[0]
    else:
        strip = sorted(pathlib.Path(paths["strips"]).glob("*.tif"))[0]
    cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:threads])
    command = ["taskset", "-c", cores] if shutil.which("taskset") else []
    command += [tool, config["artifact"], str(strip), "--runs", str(runs), "--warmup", str(warmup)]
    command += ["--threads", str(threads), "--json"]
    load_before = list(os.getloadavg())
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result.setdefault("strips_per_s", result.get("images_per_s"))  # a classifier reports images/s
    result["load_average"] = [load_before, list(os.getloadavg())]
    return result


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def _subprocess(task: str, payload: dict[str, Any]) -> dict[str, Any]:
    # The same module in a fresh interpreter; it inherits the working directory (or PYTHONPATH)
    # that made ``benchmarks`` importable here.
    command = [sys.executable, "-m", __spec__.name, "--worker", json.dumps({"task": task, **payload})]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)  # stderr: progress
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pool_tool(rounds: list[dict]) -> dict[str, Any]:
    """defectkit-bench prints statistics, not samples: min of mins, median of p50s, worst p90/p99."""
    runs = sum(r["runs"] for r in rounds)
    wall = sum(r["runs"] / r["strips_per_s"] for r in rounds)
    return {
        "runs": runs,
        "min_ms": min(r["min_ms"] for r in rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p90_ms": max(r["p90_ms"] for r in rounds),
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "max_ms": max(r["max_ms"] for r in rounds),
        "mean_ms": wall * 1e3 / runs,
        "strips_per_s": runs / wall,
        "pooling": "per-round statistics: min of mins, median of p50s, worst round's p90/p99/max",
    }


def measure(args: argparse.Namespace, paths: dict[str, Any], tool: str | None) -> list[dict[str, Any]]:
    configs = configurations(paths, tool)
    flops = {tuple(int(v) if v.isdigit() else v for v in k.split()): g for k, g in paths["gflop"].items()}
    samples: dict[str, list[dict]] = {c["name"]: [] for c in configs}
    for round_index in range(args.rounds):
        for config in configs:
            warmup, runs = _runs(args, config)
            _log(f"round {round_index + 1}/{args.rounds}: {config['name']} ({warmup} warm-up, {runs} timed)")
            if config["kind"] == "tool":
                result = run_tool(tool, config, paths, args.threads, warmup, runs)
            else:
                payload = {"config": config, "paths": paths, "threads": args.threads}
                result = _subprocess("config", {**payload, "warmup": warmup, "runs": runs})
            samples[config["name"]].append({**result, "warmup": warmup})
    rows = []
    for config in configs:
        rounds = samples[config["name"]]
        gflop = config["gflop"] if "gflop" in config else flops[(config["width"], config["graph"])]
        if config["kind"] == "tool":
            stats = _pool_tool(rounds)
            stats["gflop_per_strip"] = gflop
            stats["gflop_per_s"] = gflop * stats["strips_per_s"]
        else:
            seconds = [s for r in rounds for s in r["seconds"]]
            stats = latency_summary(seconds, gflop_per_strip=gflop, wall_s=sum(r["wall_s"] for r in rounds))
        rows.append(
            {
                "name": config["name"],
                "kind": config["kind"],
                "width": config["width"],
                "graph": config["graph"],
                "precision": config["precision"],
                "artifact": config.get("artifact"),
                "rounds": len(rounds),
                "warmup": rounds[0]["warmup"],
                "threads": args.threads,
                **stats,
                "peak_rss_mib": max(r["peak_rss_mib"] for r in rounds),
                "load_average": [r["load_average"] for r in rounds],
                "includes_file_read": config["kind"] != "tool",
                **({"family": config["family"], "model": config["model"]} if "family" in config else {}),
                **({"table": config["table"]} if "table" in config else {}),
                **({"provider": config["provider"]} if "provider" in config else {}),
            }
        )
    strip_rows = [r for r in rows if "family" not in r]
    for row in strip_rows:
        row["speedup_vs_seed"] = row["strips_per_s"] / strip_rows[0]["strips_per_s"]
    guided.add_ratios(rows)
    return rows


def _runs(args: argparse.Namespace, config: dict[str, Any]) -> tuple[int, int]:
    """(warm-up, timed) calls per round: slow strip rows 1 + --slow-runs, other strip rows
    --warmup + --runs; guided rows --guided-warmup + --guided-runs (ViT-S) or --runs (demo)."""
    if config.get("family") == "guided_classifier":
        return args.guided_warmup, args.guided_runs if config["slow"] else args.runs
    return (1, args.slow_runs) if config["slow"] else (args.warmup, args.runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "bench_out" / "bench")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds over all configurations")
    parser.add_argument("--runs", type=int, default=8, help="timed strips per round (fast configurations)")
    parser.add_argument(
        "--slow-runs", type=int, default=3, help="timed strips per round, w64 FP32 and baselines"
    )
    parser.add_argument(
        "--guided-runs", type=int, default=6, help="timed images per round, ViT-S/14 224 configurations"
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up strips per process (slow ones: 1)")
    parser.add_argument(
        "--guided-warmup",
        type=int,
        default=3,
        help="warm-up images per guided process (PyTorch eager's first ViT-S calls take 3-5x longer)",
    )
    parser.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help="comma-separated: reference_unet (strip rows), guided_classifier (image rows); default both",
    )
    parser.add_argument(
        "--tool", default=None, help="defectkit-bench binary (default: found on PATH or build/)"
    )
    parser.add_argument(
        "--trained",
        type=pathlib.Path,
        default=ROOT / "demo_out" / "reference_unet",
        help="a trained reference_unet demo folder for the trained-model table (OpenVINO peers, "
        "accuracy, throughput); default what `make demo` writes; 'none' skips it",
    )
    parser.add_argument("--throughput-s", type=float, default=8.0, help="seconds per throughput point")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    if args.worker:
        import logging

        logging.basicConfig(level=logging.INFO, format="  %(message)s", stream=sys.stderr)  # export progress
        task = json.loads(args.worker)
        if task["task"] == "setup":
            families = tuple(task["families"])
            trained = pathlib.Path(task["trained"]) if task.get("trained") else None
            paths = setup(pathlib.Path(task["work"]), families, trained)
            paths["gflop"] = {
                f"{width} {graph}": gflop_per_strip(width, graph)
                for width, graph in [(64, "seed"), (64, "tiles"), (64, "tiled"), (64, "full_frame")]
                + [(DEFAULT_WIDTH, kind) for kind in ("tiled", "full_frame", "patch")]
                if "reference_unet" in families
            }
            result = paths
        elif task["task"] == "config":
            result = worker(task["config"], task["paths"], task["threads"], task["warmup"], task["runs"])
        elif task["task"] == "gemm":
            result = gemm_peak(task["threads"])
        elif task["task"] == "throughput":
            strips = sorted(pathlib.Path(task["paths"]["strips"]).glob("*.tif"))
            result = throughput.measure(task["spec"], strips, task["threads"], task["seconds"])
        elif task["task"] == "preprocessing":
            result = preprocessing(task["paths"], task["threads"], task["repeats"])
        else:
            result = ort_profile(task["artifact"], task["threads"], task["runs"], task.get("image_size"))
        print(json.dumps(result))
        return

    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown or not families:
        parser.error(f"--families: choose from {', '.join(FAMILIES)}, got {args.families!r}")
    strips = "reference_unet" in families
    started = time.perf_counter()
    machine = machine_info()
    _log(f"load average at start {machine['load_average']}")
    # Exports and model building run in a subprocess so that this process stays small: Linux
    # carries a parent's peak RSS into its children's ru_maxrss, which defectkit-bench reports.
    trained = str(args.trained) if args.trained and args.trained.name != "none" else None
    paths = _subprocess("setup", {"work": str(args.work), "families": list(families), "trained": trained})
    setup_s = time.perf_counter() - started
    tool = args.tool or _find_tool()
    _log(f"defectkit-bench: {tool or 'not found (its rows are skipped)'}")
    _log("GEMM peak")
    gemm = _subprocess("gemm", {"threads": args.threads})
    pre = None
    if strips:
        _log("preprocessing")
        pre = _subprocess("preprocessing", {"paths": paths, "threads": args.threads, "repeats": 30})
    rows = measure(args, paths, tool)
    concurrent = []
    if "skipped" not in paths["trained"]:
        artifacts = {f"trained {p.upper()}": paths["trained"][p] for p in ("int8", "fp32")}
        for spec in throughput.plan(artifacts, args.threads):
            _log(f"throughput: {spec['label']}, {spec['intra_op_threads']} intra-op, x{spec['concurrency']}")
            payload = {"spec": spec, "paths": paths, "threads": args.threads, "seconds": args.throughput_s}
            concurrent.append(_subprocess("throughput", payload))
    # The peak again after the configurations: on a shared machine one measurement can land in a
    # loaded moment; keep the better of the two (both are in the JSON).
    _log("GEMM peak again")
    gemm_end = _subprocess("gemm", {"threads": args.threads})
    gemm = {**gemm, "start": dict(gemm), "end": gemm_end}
    for key in ("fp32_peak_gflops", "int8_peak_gops"):
        gemm[key] = max(v for v in (gemm["start"][key], gemm_end[key]) if v is not None)
    for row in rows:
        peak = gemm["int8_peak_gops"] if row["precision"] == "int8" else gemm["fp32_peak_gflops"]
        row["fraction_of_peak"] = row["gflop_per_s"] / peak if peak else None
    width_study = latest_width_study()
    verdicts = targets(rows, pre, paths, width_study) if strips else []
    verdicts += openvino_peer.targets(rows, paths["trained"])
    verdicts += guided.targets(rows, paths["guided"])
    _log("profiles of the missed targets' graphs")
    profiles = {}
    profiled = [(key, key, None) for key in ("w64_full_frame", "w64_tiled", f"w{DEFAULT_WIDTH}_auto")]
    profiled = (profiled if strips else []) + [
        (f"guided_{key}", entry["out"], entry["image_size"]) for key, entry in paths["guided"].items()
    ]
    for name, key, image_size in profiled:
        out = paths["artifacts"][key]["out"] if image_size is None else key
        for precision in ("fp32", "int8"):
            task = {"artifact": str(pathlib.Path(out) / f"model_{precision}.onnx"), "image_size": image_size}
            profiles[f"{name} {precision}"] = _subprocess(
                "profile", {**task, "threads": args.threads, "runs": 1}
            )
    machine["load_average_end"] = list(os.getloadavg())
    result = {
        "schema_version": SCHEMA_VERSION,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "make bench  (.venv/bin/python -m benchmarks.run " + " ".join(sys.argv[1:]) + ")",
        "machine": machine,
        "threads": args.threads,
        "pinned_cores": sorted(os.sched_getaffinity(0))[: args.threads],
        "rounds": args.rounds,
        "families": list(families),
        "strips": f"{BENCH_STRIPS} uncompressed 976x176 float32 demo test strips, cycled",
        "images": f"{guided.BENCH_IMAGES} demo test PNGs (2 defect, 2 normal) at each model's input size, "
        "cycled; Python rows read and decode the file every call, defectkit-bench decodes it once",
        "weights": "random (fixed seeds) for every timed model; accuracy columns from the width study",
        "gemm_peak": gemm,
        "preprocessing": pre,
        "configs": rows,
        "targets": verdicts,
        "profiles": profiles,
        "exports": {k: export_summary(v["report"]) for k, v in paths["artifacts"].items()}
        | guided.export_summaries(paths["guided"]),
        "guided": {
            key: {field: entry[field] for field in ("label", "config", "image_size", "gflop")}
            for key, entry in paths["guided"].items()
        },
        "width_study": width_study,
        "trained": {k: v for k, v in paths["trained"].items() if k in TRAINED_KEYS},
        "throughput": concurrent,
        "setup_s": setup_s,
        "total_s": time.perf_counter() - started,
    }
    from benchmarks import report

    stamp = fresh_stem(args.out, f"{datetime.date.today()}-{socket.gethostname()}")  # never overwrite
    written = report.write_all(result, args.out, stamp)
    _log(f"took {result['total_s'] / 60:.1f} min; wrote {', '.join(str(p) for p in written)}")
    print((args.out / f"{stamp}.md").read_text())


def _find_tool() -> str | None:
    beside = pathlib.Path(sys.executable).parent / "defectkit-bench"
    if beside.is_file():
        return str(beside)
    found = shutil.which("defectkit-bench")
    if found:
        return found
    built = sorted(ROOT.glob("build/cpp/**/defectkit-bench"))
    return str(built[0]) if built else None


if __name__ == "__main__":
    if __spec__ is None:  # run as a file: its siblings are not importable as benchmarks.*
        sys.exit("run it as a module from the repository root: python -m benchmarks.run (make bench does)")
    main()
