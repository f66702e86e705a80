"""``defectkit bench ARTIFACT``: how fast one artifact inspects strips on this machine.

Warm-up inspections, then timed ones, cycling through the strips given (a
folder of TIFFs; each inspection reads its file natively) or, without
``--strips``, one random strip of the artifact's image size held in memory.
Prints latency percentiles and throughput; ``--json OUT`` writes the same
per-configuration record that ``benchmarks/run.py`` writes (schema in
:mod:`defectkit.benchmarking`). Runtime-only: needs no torch.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

import numpy as np

import defectkit
from defectkit.benchmarking import SCHEMA_VERSION, latency_summary, machine_info, peak_rss_mib
from defectkit.errors import InvalidArgumentError

TIFF_SUFFIXES = (".tif", ".tiff")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", type=pathlib.Path, help="a defectkit .onnx artifact")
    parser.add_argument(
        "--strips", type=pathlib.Path, help="folder of strip TIFFs (default: one random strip)"
    )
    parser.add_argument("--runs", type=int, default=20, help="timed inspections (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed inspections first (default 3)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads; 0: it decides")
    parser.add_argument("--json", type=pathlib.Path, metavar="OUT", help="also write the result as JSON")


def _inputs(inspector: defectkit.Inspector, strips: pathlib.Path | None) -> tuple[list, str]:
    if strips is None:
        height, width = inspector.metadata["image_size"]
        rng = np.random.default_rng(0)
        strip = rng.uniform(0, 255, (4, height, width)).astype(np.float32)
        strip[3] = 255.0  # ROI channel: everything in
        return [strip], f"random {height}x{width} strip in memory"
    if not strips.is_dir():
        msg = f"{strips}: not a folder of strips"
        raise InvalidArgumentError(msg)
    files = sorted(p for p in strips.iterdir() if p.suffix.lower() in TIFF_SUFFIXES)
    if not files:
        msg = f"{strips}: no .tif/.tiff strips in this folder"
        raise InvalidArgumentError(msg)
    return files, f"{len(files)} strip files from {strips} (read natively on every run)"


def bench(artifact: pathlib.Path, strips: pathlib.Path | None, runs: int, warmup: int, threads: int) -> dict:
    """Times ``artifact`` on ``strips``; returns the result record (see RESULT_KEYS)."""
    if runs < 1 or warmup < 0:
        msg = f"runs must be >= 1 and warm-up >= 0, got {runs} and {warmup}"
        raise InvalidArgumentError(msg)
    inspector = defectkit.Inspector(artifact, threads=threads)
    inputs, source = _inputs(inspector, strips)
    for i in range(warmup):
        inspector.inspect(inputs[i % len(inputs)])
    seconds = []
    load_before = list(os.getloadavg())
    all_start = time.perf_counter()
    for i in range(runs):
        start = time.perf_counter()
        inspector.inspect(inputs[i % len(inputs)])
        seconds.append(time.perf_counter() - start)
    wall = time.perf_counter() - all_start
    metadata = inspector.metadata
    return {
        "schema_version": SCHEMA_VERSION,
        "name": f"defectkit Python {metadata['precision'].upper()} {metadata['graph']}",
        "artifact": str(artifact),
        "graph": metadata["graph"],
        "precision": metadata["precision"],
        "image_size": list(metadata["image_size"]),
        "strips": source,
        "includes_file_read": strips is not None,
        "warmup": warmup,
        "threads": threads,
        "provider": inspector.provider,
        **latency_summary(seconds, wall_s=wall),
        "peak_rss_mib": peak_rss_mib(),
        "load_average": [load_before, list(os.getloadavg())],
        "machine": machine_info(),
    }


def run(args: argparse.Namespace) -> int:
    result = bench(args.artifact, args.strips, args.runs, args.warmup, args.threads)
    print(f"artifact {result['artifact']} ({result['graph']}, {result['precision']})")
    print(f"strips: {result['strips']}; {result['runs']} runs after {result['warmup']} warm-up")
    print(
        f"latency ms: min {result['min_ms']:.1f}  p50 {result['p50_ms']:.1f}  p90 {result['p90_ms']:.1f}  "
        f"p99 {result['p99_ms']:.1f}  max {result['max_ms']:.1f}"
    )
    print(f"throughput {result['strips_per_s']:.2f} strips/s; peak RSS {result['peak_rss_mib']:.0f} MiB")
    load = result["machine"]["load_average"]
    print(
        f"threads {result['threads']} (0: ONNX Runtime decides), {result['provider']}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
