"""``defectkit bench ARTIFACT``: how fast one artifact inspects strips or classifies images here.

The artifact's family picks the head. reference_unet: warm-up inspections, then
timed ones, cycling through the strips given (a folder of TIFFs; each
inspection reads its file natively) or, without ``--strips``, one random strip
of the artifact's image size held in memory. guided_classifier: the same with
``--images`` (a folder of PNG, JPEG or TIFF images, each decoded natively on
every run) or one random RGB image of the artifact's ``input_size`` (224 x 224
when it gives none). Prints latency percentiles and throughput; ``--json OUT``
writes the same per-configuration record that ``benchmarks/run.py`` writes
(schema in :mod:`defectkit.benchmarking`; ``strips_per_s`` counts images for a
classifier). Runtime-only: needs no torch.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time
from collections.abc import Callable

import numpy as np

import defectkit
from defectkit.benchmarking import SCHEMA_VERSION, latency_summary, machine_info, peak_rss_mib
from defectkit.errors import InvalidArgumentError

TIFF_SUFFIXES = (".tif", ".tiff")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
CLASSIFIER_FAMILY = "guided_classifier"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", type=pathlib.Path, help="a defectkit .onnx artifact")
    parser.add_argument(
        "--strips", type=pathlib.Path, help="folder of strip TIFFs (default: one random strip)"
    )
    parser.add_argument(
        "--images",
        type=pathlib.Path,
        help="guided_classifier artifacts: folder of PNG/JPEG/TIFF images (default: one random image)",
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


def _image_inputs(classifier: defectkit.ImageClassifier, images: pathlib.Path | None) -> tuple[list, str]:
    if images is None:
        height, width = classifier.metadata["input_size"] or (224, 224)
        channels = 1 if classifier.metadata["channels"] == 1 else 3
        image = np.random.default_rng(0).integers(0, 256, (height, width, channels), dtype=np.uint8)
        return [image], f"random {height}x{width} image in memory"
    if not images.is_dir():
        msg = f"{images}: not a folder of images"
        raise InvalidArgumentError(msg)
    files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        msg = f"{images}: no .png/.jpg/.jpeg/.tif/.tiff images in this folder"
        raise InvalidArgumentError(msg)
    return files, f"{len(files)} image files from {images} (decoded natively on every run)"


def _time(run_one: Callable[[int], object], runs: int, warmup: int) -> tuple[list[float], float, list]:
    """Warm-up calls, then timed ones; returns the latencies, the wall time and the load averages."""
    for i in range(warmup):
        run_one(i)
    seconds = []
    load_before = list(os.getloadavg())
    all_start = time.perf_counter()
    for i in range(runs):
        start = time.perf_counter()
        run_one(i)
        seconds.append(time.perf_counter() - start)
    wall = time.perf_counter() - all_start
    return seconds, wall, [load_before, list(os.getloadavg())]


def bench(
    artifact: pathlib.Path,
    strips: pathlib.Path | None,
    runs: int,
    warmup: int,
    threads: int,
    images: pathlib.Path | None = None,
) -> dict:
    """Times ``artifact`` on ``strips`` (or ``images``, for a classifier); returns the result record."""
    if runs < 1 or warmup < 0:
        msg = f"runs must be >= 1 and warm-up >= 0, got {runs} and {warmup}"
        raise InvalidArgumentError(msg)
    family = defectkit.read_artifact_metadata(artifact).family
    if family == CLASSIFIER_FAMILY:
        if strips is not None:
            msg = f"{artifact}: a {family} artifact classifies images: give --images, not --strips"
            raise InvalidArgumentError(msg)
        return _bench_images(artifact, images, runs, warmup, threads)
    if images is not None:
        msg = f"{artifact}: a {family} artifact inspects strips: give --strips, not --images"
        raise InvalidArgumentError(msg)
    inspector = defectkit.Inspector(artifact, threads=threads)
    inputs, source = _inputs(inspector, strips)
    seconds, wall, load = _time(lambda i: inspector.inspect(inputs[i % len(inputs)]), runs, warmup)
    metadata = inspector.metadata
    return {
        "schema_version": SCHEMA_VERSION,
        "name": f"defectkit Python {metadata['precision'].upper()} {metadata['graph']}",
        "artifact": str(artifact),
        "family": family,
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
        "load_average": load,
        "machine": machine_info(),
    }


def _bench_images(
    artifact: pathlib.Path, images: pathlib.Path | None, runs: int, warmup: int, threads: int
) -> dict:
    classifier = defectkit.ImageClassifier(artifact, threads=threads)
    inputs, source = _image_inputs(classifier, images)
    seconds, wall, load = _time(lambda i: classifier.classify(inputs[i % len(inputs)]), runs, warmup)
    metadata = classifier.metadata
    summary = latency_summary(seconds, wall_s=wall)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": f"defectkit Python {metadata['precision'].upper()} {CLASSIFIER_FAMILY}",
        "artifact": str(artifact),
        "family": CLASSIFIER_FAMILY,
        "graph": CLASSIFIER_FAMILY,
        "precision": metadata["precision"],
        "input_size": list(metadata["input_size"]) if metadata["input_size"] else None,
        "images": source,
        "includes_file_read": images is not None,
        "warmup": warmup,
        "threads": threads,
        "provider": classifier.provider,
        **summary,
        "images_per_s": summary["strips_per_s"],
        "peak_rss_mib": peak_rss_mib(),
        "load_average": load,
        "machine": machine_info(),
    }


def run(args: argparse.Namespace) -> int:
    result = bench(args.artifact, args.strips, args.runs, args.warmup, args.threads, args.images)
    unit = "images" if result["family"] == CLASSIFIER_FAMILY else "strips"
    print(f"artifact {result['artifact']} ({result['graph']}, {result['precision']})")
    print(f"{unit}: {result[unit]}; {result['runs']} runs after {result['warmup']} warm-up")
    print(
        f"latency ms: min {result['min_ms']:.1f}  p50 {result['p50_ms']:.1f}  p90 {result['p90_ms']:.1f}  "
        f"p99 {result['p99_ms']:.1f}  max {result['max_ms']:.1f}"
    )
    print(f"throughput {result['strips_per_s']:.2f} {unit}/s; peak RSS {result['peak_rss_mib']:.0f} MiB")
    load = result["machine"]["load_average"]
    print(
        f"threads {result['threads']} (0: ONNX Runtime decides), {result['provider']}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
