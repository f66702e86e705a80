"""guided_classifier's part of ``defectkit demo``: image classification end to end on demo images.

synthesise (images/, masks/, *_labels.txt) -> train a small ViT -> evaluate on
the test split (metrics, curves, panels) -> export FP32 and INT8 -> the test
split again through the C++ image head -> a latency line per artifact.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import time
from typing import Any

import defectkit
from defectkit.models.family import DemoOptions, Predictor

__all__ = ["DEMO_NETWORK", "DEMO_RECIPE", "demo_config", "run_demo"]

# The demo's recipe (docs/experiments/guided_classifier.md): the demo-sized DINOv2 from scratch.
DEMO_RECIPE = dict(epochs=30, lr=1e-3, batch_size=16, optimizer="adamw", weight_decay=0.05)
# The demo's network: the "demo" size from random weights, with the convolutional stem it needs
# to learn in minutes (config.py, stem).
DEMO_NETWORK = dict(stem="conv")
SMOKE_DATASET = dict(num_defect=12, num_normal=12, val=(6, 6), test=(6, 6), size=64)
SMOKE_NETWORK = dict(image_size=64, patch_size=8, decoder_channels=16, classifier_hidden=(32, 16))


def demo_config(data: pathlib.Path, run: pathlib.Path, options: DemoOptions, **overrides: Any):
    """The demo's TrainConfig (``overrides``: family fields, for experiments)."""
    from defectkit.models.guided_classifier.config import GuidedClassifierConfig
    from defectkit.training import TrainConfig

    shared = dict(DEMO_RECIPE)
    if options.smoke:
        shared["epochs"] = 2
    if options.epochs:
        shared["epochs"] = options.epochs
    own = {**DEMO_NETWORK, **(SMOKE_NETWORK if options.smoke else {}), **overrides}
    return TrainConfig(
        data=str(data),
        out=str(run),
        family="guided_classifier",
        family_config=GuidedClassifierConfig(**own),
        seed=options.train_seed,
        precision=options.precision,
        threads=options.threads,
        **shared,
    )


def _expect(condition: bool, what: str) -> None:
    if not condition:
        msg = f"demo: {what}"
        raise defectkit.Error(msg)


def _line(result: dict) -> str:
    return (
        f"image AUROC {result['image_auroc']:.4f}, AP {result['average_precision']:.4f}, "
        f"accuracy {result['accuracy']:.3f} at {result['threshold']:.3f}, "
        f"mean Dice {result['mean_dice']:.3f}, "
        f"IoU {result['mean_iou']:.3f} ({result['count']} images)"
    )


def _latency(artifact: pathlib.Path, image: pathlib.Path, threads: int, runs: int) -> float:
    classifier = defectkit.ImageClassifier(artifact, threads=threads)
    for _ in range(min(3, runs)):
        classifier.classify(image)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        classifier.classify(image)  # the file decoded every time, as a line would
        seconds.append(time.perf_counter() - start)
    return 1e3 * statistics.median(seconds)


def run_demo(out: pathlib.Path, options: DemoOptions) -> dict[str, Any]:
    """The image demo in ``out``; returns the summary it writes to ``out/summary.json``."""
    from defectkit.models.demo_export import export_for_demo, int8_summary, shipped
    from defectkit.models.guided_classifier.data.demo import make_demo_images
    from defectkit.models.guided_classifier.data.layout import read_split
    from defectkit.training import load_model, train

    begin = time.perf_counter()
    data, run = out / "data", out / "run"
    start = time.perf_counter()
    make_demo_images(
        data, seed=options.seed, overwrite=True, progress=False, **(SMOKE_DATASET if options.smoke else {})
    )
    counts = {split: len(read_split(data, split)) for split in ("train", "val", "test")}
    print(f"[demo] synthesised {counts} images in {time.perf_counter() - start:.1f} s -> {data}")

    config = demo_config(data, run, options)
    start = time.perf_counter()
    row = train(config, progress=not options.smoke)
    minutes = (time.perf_counter() - start) / 60
    _expect((run / "best.pt").is_file(), f"training wrote no {run / 'best.pt'}")
    print(
        f"[demo] trained a {config.family_config.backbone} ({config.family_config.size}) "
        f"for {row['epoch'] + 1} epochs "
        f"in {minutes:.1f} min ({row['samples_per_s']:.0f} images/s in {row['precision']}); last validation "
        f"image AUROC {row['val_image_auroc']:.4f}, mean Dice {row['val_mean_dice']:.3f}"
    )
    model, info = load_model(run)
    trained = defectkit.families.get("guided_classifier").evaluate(
        Predictor(model=model, info=info), data, out=out / "eval", progress=False
    )
    (out / "eval.json").write_text(json.dumps(trained, indent=2) + "\n")
    print(f"[demo] test split (PyTorch): {_line(trained)} -> {out / 'eval'}")

    artifacts = out / "artifact"
    extra = ["--allow-accuracy-drop", "--calibration", "minmax"] if options.smoke else []
    report = export_for_demo(run, artifacts, extra)  # FP32 alone when the gate refused INT8

    native, latency = {}, {}
    image = read_split(data, "test")[0].path
    for name in shipped(report):
        _expect((artifacts / name).is_file(), f"export wrote no {artifacts / name}")
        native[name] = defectkit.families.get("guided_classifier").evaluate(
            Predictor(artifact=artifacts / name, threads=options.threads), data, progress=False
        )
        _expect(
            native[name]["count"] == trained["count"],
            f"the C++ runtime did not classify every image with {name}",
        )
        latency[name] = _latency(artifacts / name, image, options.threads, 5 if options.smoke else 30)
        print(
            f"[demo] native {name}: {_line(native[name])}; p50 {latency[name]:.1f} ms per image incl. decode"
        )
    summary = {
        "train_seed": options.train_seed,
        "precision": row["precision"],
        "training_minutes": minutes,
        "pytorch": {
            k: trained[k] for k in ("image_auroc", "average_precision", "accuracy", "mean_dice", "mean_iou")
        },
        "native": {n: {k: r[k] for k in ("image_auroc", "accuracy", "mean_dice")} for n, r in native.items()},
        "export": int8_summary(report),
        "p50_ms": latency,
        "minutes": (time.perf_counter() - begin) / 60,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"[demo] done in {summary['minutes']:.1f} min")
    return summary
