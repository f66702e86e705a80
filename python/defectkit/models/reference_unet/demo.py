"""reference_unet's part of ``defectkit demo``: strip inspection end to end on the demo strips.

synthesise -> read natively (checked against tifffile) -> train -> evaluate
on the test split -> panels for a few strips -> export FP32 and INT8 artifacts
-> the test split again through the C++ runtime (Python bindings, then the
``defectkit-infer`` tool) -> a latency line per artifact.
"""

from __future__ import annotations

import collections
import json
import pathlib
import statistics
import time

import numpy as np

import defectkit
from defectkit.models.family import DemoOptions

# What --smoke runs: the demo's whole path on a few small strips and a tiny network, in about a
# minute, to show that every step hands the next what it needs (accuracy is not its question).
SMOKE_DATASET = dict(
    n_train=6, n_test_good=3, n_test_defect=3, n_valid_good=4, n_valid_defect=4, height=256, width=96
)
SMOKE_TRAINING = dict(epochs=2, batch_size=8)
SMOKE_NETWORK = dict(width=4, patch_size=64)


def read_all(strips: list[pathlib.Path], reader) -> tuple[list[np.ndarray], list[float]]:
    arrays, seconds = [], []
    for path in strips:
        start = time.perf_counter()
        arrays.append(reader(path))
        seconds.append(time.perf_counter() - start)
    return arrays, seconds


def check_native_reader(data: pathlib.Path) -> bool:
    from defectkit.data.strip_io import read_strip_tifffile

    strips = sorted(data.rglob("*.tif"))
    native, native_s = read_all(strips, defectkit.read_strip)
    python, python_s = read_all(strips, read_strip_tifffile)
    mismatched = [p for p, a, b in zip(strips, native, python, strict=True) if not np.array_equal(a, b)]
    if mismatched:
        print(
            f"[demo] native and tifffile readers disagree on {len(mismatched)} strips, e.g. {mismatched[0]}"
        )
        return False
    splits = collections.Counter(str(p.parent.relative_to(data)) for p in strips)
    shapes = collections.Counter(a.shape for a in native)
    print(f"[demo] splits: {dict(sorted(splits.items()))}; shapes (C, H, W): {dict(shapes)}")
    native_ms, python_ms = statistics.median(native_s) * 1e3, statistics.median(python_s) * 1e3
    print(
        f"[demo] native reader: median {native_ms:.2f} ms/strip; tifffile+numpy: {python_ms:.2f} ms/strip; "
        f"both agree bit for bit on all {len(strips)} strips"
    )
    return True


def train_demo_model(data: pathlib.Path, run: pathlib.Path, args: DemoOptions) -> dict:
    from defectkit.models.reference_unet.config import ReferenceUNetConfig
    from defectkit.training import TrainConfig, train

    shared = dict(SMOKE_TRAINING) if args.smoke else {}
    if args.epochs:
        shared["epochs"] = args.epochs
    config = TrainConfig(
        data=str(data),
        out=str(run),
        threads=args.threads,
        seed=args.train_seed,
        precision=args.precision,
        family_config=ReferenceUNetConfig(**(SMOKE_NETWORK if args.smoke else {})),
        **shared,
    )
    start = time.perf_counter()
    row = train(config)
    minutes = (time.perf_counter() - start) / 60
    row = {**row, "minutes": minutes}
    epochs = json.loads((run / "config.json").read_text())["epochs"]  # 0 resolved by the training set's size
    print(
        f"[demo] trained width {config.family_config.width} for {epochs} epochs in {minutes:.1f} min "
        f"({row['samples_per_s']:.0f} patches/s in {row['precision']}, {100 * row['data_wait_share']:.0f}% "
        f"waiting for data); last epoch's validation pixel AUROC {row['val_pixel_auroc']:.4f}"
    )
    return row


def evaluate_demo_model(data: pathlib.Path, run: pathlib.Path) -> dict:
    from defectkit.evaluation.metrics import flagged_at
    from defectkit.models.reference_unet.evaluation import evaluate_run
    from defectkit.training import TrainConfig, load_model

    model, info = load_model(run)
    first = TrainConfig.from_dict(info["train_config"]).first_best_candidate()
    print(
        f"[demo] best.pt is epoch {info['epoch'] + 1} (best validation pixel AUROC from epoch {first + 1} on)"
    )
    result = evaluate_run(model, data, info["patch_size"])
    (run / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    good = [s["score"] for s in result["scores"] if s["category"] == "good"]
    threshold = result["thresholds"]["image"]
    flagged = flagged_at(result["scores"], threshold)
    print(
        f"[demo] test split: image AUROC {result['image_auroc']:.4f}, "
        f"pixel AUROC {result['pixel_auroc']:.4f} "
        f"({result['count']} strips) -> {run / 'eval.json'}"
    )
    print(
        f"[demo] good strips (defects only in the references): max score {max(good):.3f} vs image threshold "
        f"{threshold:.3f}: {flagged['good_flagged']} of {flagged['good']} flagged"
    )
    return result


def export_demo_model(run: pathlib.Path, out: pathlib.Path, smoke: bool) -> dict:
    from defectkit.models.demo_export import export_for_demo

    # A smoke's network is barely trained: its INT8 may fail the gate, and is written anyway.
    extra = ["--allow-accuracy-drop", "--calibration", "minmax", "--max-extensions", "0"] if smoke else []
    return export_for_demo(run, out, extra)


def evaluate_artifacts(
    data: pathlib.Path, artifacts: pathlib.Path, torch_result: dict, names: list[str]
) -> dict:
    """The test split again, through the C++ runtime, at the thresholds the artifacts carry."""
    from defectkit.evaluation.metrics import flagged_at
    from defectkit.models.reference_unet.evaluation import evaluate_run

    results = {}
    for name in names:
        inspector = defectkit.Inspector(artifacts / name)
        patch = int(inspector.metadata["tiling"]["patch"])
        result = results[name] = evaluate_run(inspector, data, patch, progress=False)
        threshold = result["artifact_threshold"] = inspector.metadata["thresholds"]["image"]
        flagged = flagged_at(result["scores"], threshold)
        print(
            f"[demo] native {name}: image AUROC {result['image_auroc']:.4f}, pixel AUROC "
            f"{result['pixel_auroc']:.4f} (PyTorch: {torch_result['image_auroc']:.4f} / "
            f"{torch_result['pixel_auroc']:.4f}); at the artifact's image threshold {threshold:.3f}: "
            f"{flagged['defective_flagged']} of {flagged['defective']} defective and "
            f"{flagged['good_flagged']} of {flagged['good']} good strips flagged"
        )
    return results


def infer_with_tool(data: pathlib.Path, artifact: pathlib.Path, out: pathlib.Path) -> None:
    """The test split through the C++ tool ``defectkit-infer`` (no Python in the loop): image AUROC
    of the scores it writes, and its own per-strip latency."""
    import csv
    import shutil
    import subprocess
    import sys

    from defectkit.evaluation.metrics import auroc

    tool = shutil.which("defectkit-infer", path=str(pathlib.Path(sys.executable).parent))
    if tool is None:
        print("[demo] defectkit-infer is not installed next to this Python; skipped")
        return
    strips = sorted((data / "test").rglob("*.tif"))
    subprocess.run(
        [tool, str(artifact), *map(str, strips), "--out", str(out)], check=True, capture_output=True
    )
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    labels = [int(pathlib.Path(r["path"]).parent.name != "good") for r in rows]
    scores = [float(r["score"]) for r in rows]
    flagged = sum(int(r["is_defective"]) for r, label in zip(rows, labels, strict=True) if not label)
    median_ms = statistics.median(float(r["ms"]) for r in rows)
    print(
        f"[demo] defectkit-infer {artifact.name}: image AUROC {auroc(labels, scores):.4f} on {len(rows)} "
        f"strips, {flagged} of {labels.count(0)} good strips flagged; median {median_ms:.0f} ms/strip "
        f"incl. read -> {out / 'results.csv'}"
    )


def benchmark_artifacts(
    data: pathlib.Path, artifacts: pathlib.Path, names: list[str], threads: int, runs: int = 24
) -> dict:
    """One latency line per artifact on the demo's good test strips (read natively every run)."""
    from defectkit.cli.bench import bench

    p50 = {}
    for name in names:
        r = bench(artifacts / name, data / "test" / "good", runs=runs, warmup=min(4, runs), threads=threads)
        print(
            f"[demo] bench {name}: p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, "
            f"{r['strips_per_s']:.2f} strips/s ({r['runs']} runs incl. file read, threads "
            f"{threads or 'auto'}, load {r['load_average'][0][0]:.1f}); `defectkit bench` for more"
        )
        p50[name] = r["p50_ms"]
    return p50


def write_panels(data: pathlib.Path, run: pathlib.Path, out: pathlib.Path) -> None:
    from defectkit.cli import main

    picks = [sorted((data / "test" / category).glob("*.tif"))[0] for category in ("good", "scratch", "blob")]
    main(["infer", str(run), *map(str, picks), "--out", str(out), "--no-progress"])


def _expect(condition: bool, what: str) -> None:
    """Stops the demo when a step did not produce what the next one needs."""
    if not condition:
        msg = f"demo: {what}"
        raise defectkit.Error(msg)


def _summary_line(result: dict) -> str:
    return f"image AUROC {result['image_auroc']:.4f}, pixel AUROC {result['pixel_auroc']:.4f}"


def _headline(result: dict, threshold: float) -> dict:
    """AUROCs, and good strips flagged and defects missed at ``threshold``."""
    from defectkit.evaluation.metrics import flagged_at

    flagged = flagged_at(result["scores"], threshold)
    return {
        "image_auroc": result["image_auroc"],
        "pixel_auroc": result["pixel_auroc"],
        "image_threshold": threshold,
        "good_flagged": flagged["good_flagged"],
        "good": flagged["good"],
        "defects_missed": flagged["defective"] - flagged["defective_flagged"],
        "defective": flagged["defective"],
    }


def write_summary(out: pathlib.Path, args: DemoOptions, parts: dict) -> dict:
    """OUT/summary.json: the figures the README's demo table collects (experiments/reference_unet)."""
    from defectkit.benchmarking import machine_info
    from defectkit.models.demo_export import int8_summary

    torch_result, report, native = parts["torch"], parts["report"], parts["native"]
    summary = {
        "dataset_seed": args.seed,
        "train_seed": args.train_seed,
        "precision_asked": args.precision,
        "precision": parts["training"]["precision"],
        "smoke": args.smoke,
        "machine": {k: machine_info()[k] for k in ("cpu", "cpu_flags", "cores")},
        "training_minutes": parts["training"]["minutes"],
        "pytorch": _headline(torch_result, torch_result["thresholds"]["image"]),
        "export": {
            "graph": report["graph"],
            **int8_summary(report),
            "validation_strips": report["decision"]["samples"],
            "extensions": report["decision"]["extensions"],
        },
        "native": {
            name: _headline(result, float(result["artifact_threshold"])) for name, result in native.items()
        },
        "p50_ms": parts["p50"],
        "minutes": parts["minutes"],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def run_demo(out: pathlib.Path, args: DemoOptions) -> dict:
    """The strip demo in ``out``; returns the summary it writes to ``out/summary.json``."""
    from defectkit.models.demo_export import INT8, shipped
    from defectkit.models.reference_unet.data.demo import make_demo_dataset

    begin = time.perf_counter()
    data, run_dir = out / "data", out / "run"
    start = time.perf_counter()
    make_demo_dataset(data, seed=args.seed, overwrite=True, **(SMOKE_DATASET if args.smoke else {}))
    print(f"[demo] synthesised the demo dataset in {time.perf_counter() - start:.1f} s -> {data}")
    _expect(check_native_reader(data), "the native and tifffile readers disagree")
    training = train_demo_model(data, run_dir, args)
    _expect((run_dir / "best.pt").is_file(), f"training wrote no {run_dir / 'best.pt'}")
    torch_result = evaluate_demo_model(data, run_dir)
    _expect((run_dir / "eval.json").is_file(), "evaluation wrote no eval.json")
    write_panels(data, run_dir, out / "panels")
    artifacts = out / "artifact"
    report = export_demo_model(run_dir, artifacts, args.smoke)
    names = shipped(report)  # FP32 alone when the gate refused INT8
    for name in (*names, "export_report.json"):
        _expect((artifacts / name).is_file(), f"export wrote no {artifacts / name}")
    native = evaluate_artifacts(data, artifacts, torch_result, names)
    for name, result in native.items():
        _expect(
            result["count"] == torch_result["count"],
            f"the C++ runtime did not inspect every strip with {name}",
        )
    infer_with_tool(data, artifacts / names[-1], out / "native_infer")
    p50 = benchmark_artifacts(data, artifacts, names, args.threads, runs=4 if args.smoke else 24)
    minutes = (time.perf_counter() - begin) / 60
    parts = dict(
        training=training, torch=torch_result, report=report, native=native, p50=p50, minutes=minutes
    )
    summary = write_summary(out, args, parts)
    print(
        f"[demo] done in {minutes:.1f} min: test split {_summary_line(torch_result)} (PyTorch); "
        f"{'INT8' if names[-1] == INT8 else 'FP32 (INT8 refused)'} through the C++ runtime "
        f"{_summary_line(native[names[-1]])}"
    )
    return summary
