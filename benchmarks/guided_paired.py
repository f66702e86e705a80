"""Does guided_classifier's INT8 through the C++ runtime reach 2.5x ONNX Runtime FP32 and 5x
PyTorch eager on ViT-S/14 at 224 (#17)? Many paired rounds, where ``make bench`` has two.

The configurations are ``make bench``'s ViT-S/14 224 rows (``benchmarks.guided``: the same
random-weight run and artifacts under ``--work``, built there when missing): PyTorch eager FP32,
ONNX Runtime FP32 from Python, ``defectkit.ImageClassifier`` FP32 and INT8, and INT8 on ONNX
Runtime's OpenVINO execution provider when ``make bench`` installed it, also with OpenVINO's
float parts in bf16 (``provider_options``: ``INFERENCE_PRECISION_HINT=bf16``). Each is timed by
``benchmarks.paired`` (its own long-lived process, paired rounds, shuffled order) on the bench's
demo PNGs, file read and decode included. Speed-up of X over Y: Y's time / X's in the same round,
the median over rounds and a bootstrap 95 % interval; a target is "met" only when the interval's
lower end reaches it. ``--trained DIR`` (a guided ``make demo`` folder) also gives the test-split
accuracy of that trained INT8 artifact through each INT8 configuration.

    .venv/bin/python -m benchmarks.guided_paired --rounds 60 --trained demo_out/guided_classifier

Writes ``benchmarks/results/guided_paired-<date>.{json,md}`` unless ``--out`` says.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys

import numpy as np

from benchmarks import guided, paired
from defectkit.benchmarking import machine_info, write_study
from defectkit.evaluation.evidence import paired_time_ratio

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODEL = "vits14_224"
# The baselines (by name prefix) and the speed-up of INT8 over each that #17 asks for.
TARGETS = (("ORT Python", 2.5), ("PyTorch eager", 5.0))


def image_call(config: dict, threads: int):
    """The timed call of one configuration, in its worker process: an image file in."""
    return guided.step(config, threads)


def outcome_call(config: dict, threads: int):
    """A trained artifact's defect probability and mask per image (for the accuracy check)."""
    classify = guided.step(config, threads)

    def call(path: pathlib.Path) -> tuple[float, np.ndarray]:
        result = classify(path)
        return float(result.defect_probability), result.mask

    return call


def trained_accuracy(trained: pathlib.Path, configs: list[dict], threads: int) -> dict[str, dict]:
    """Test-split image AUROC and mean Dice (mask >= 0.5) of a trained guided demo's INT8 artifact
    through each INT8 classifier configuration (CPU provider, EP, EP with bf16 float parts), each
    in its own process: a runtime precision setting must not cost accuracy."""
    from defectkit.models.guided_classifier.data.layout import read_split
    from defectkit.models.guided_classifier.evaluation import Prediction, classification_metrics, mask_metrics

    records = read_split(trained / "data", "test")
    artifact = str(trained / "artifact" / "model_int8.onnx")
    variants = [
        {**c, "artifact": artifact} for c in configs if c["kind"] == "classifier" and c["precision"] == "int8"
    ]
    _, outputs = paired.time_paired(
        variants, outcome_call, [r.path for r in records], rounds=0, per_round=1, threads=threads,
        outputs_of=range(len(variants)),
    )  # fmt: skip
    out = {}
    for index, config in enumerate(variants):
        predictions = [Prediction(r, None, p, m) for r, (p, m) in zip(records, outputs[index], strict=True)]
        metrics = classification_metrics(
            [r.label for r in records], [p.probability for p in predictions], None
        )
        name = config["name"].replace(f" {guided.MODELS[config['model']]['label']}", "")  # the demo's model
        out[name] = {"image_auroc": metrics["image_auroc"], **mask_metrics(predictions)}
    return out


def speedup(baseline_ms: list[float], ours_ms: list[float], target: float) -> dict:
    """Paired speed-up (the baseline's time / ours per round) with its 95 % interval; the target
    is met only when the interval's lower end reaches it."""
    ratio, (low, high) = paired_time_ratio(baseline_ms, ours_ms, alpha=0.025)
    return {"speedup": ratio, "interval": [low, high], "target": target, "met": low >= target}


def measure(args: argparse.Namespace) -> dict:
    entry = guided.setup(args.work, lambda m: print(m, file=sys.stderr), (MODEL,))
    configs = [c for c in guided.configurations(entry, None) if c["kind"] != "tool"]
    accuracy = trained_accuracy(args.trained, configs, args.threads) if args.trained else {}
    images = sorted(pathlib.Path(entry[MODEL]["images"]).glob("*.png"))
    per_round, _ = paired.time_paired(
        configs, image_call, images, rounds=args.rounds, per_round=args.per_round, warm=args.warm,
        settle_s=args.settle_s, threads=args.threads,
    )  # fmt: skip
    rows = [
        {"name": c["name"], "median_ms": statistics.median(t)}
        for c, t in zip(configs, per_round, strict=True)
    ]
    speedups = []
    ours = [i for i, c in enumerate(configs) if c["kind"] == "classifier" and c["precision"] == "int8"]
    for i in ours:
        for prefix, target in TARGETS:
            j = next(k for k, c in enumerate(configs) if c["name"].startswith(prefix))
            row = speedup(per_round[j], per_round[i], target)
            speedups.append({"ours": configs[i]["name"], "baseline": configs[j]["name"], **row})
    return {
        "machine": machine_info(),
        "model": MODEL,
        "threads": args.threads,
        "rounds": args.rounds,
        "images_per_round": args.per_round,
        "warm_per_turn": args.warm,
        "settle_s": args.settle_s,
        "load_average_end": os.getloadavg(),
        "rows": rows,
        "speedups": speedups,
        "trained": str(args.trained) if args.trained else None,
        "trained_accuracy": accuracy,
    }


def markdown(result: dict) -> str:
    lines = [
        f"# guided_classifier ViT-S/14 224, paired, {result['machine'].get('cpu', '')}",
        "",
        f"Command: `.venv/bin/python -m benchmarks.guided_paired --rounds {result['rounds']}`; "
        f"{result['threads']} threads, {result['rounds']} rounds x {result['images_per_round']} images "
        f"per configuration (PNG read and decode included); load average at the end "
        f"{result['load_average_end'][0]:.2f}.",
        "",
        "| configuration | median ms |",
        "| --- | --- |",
        *(f"| {r['name']} | {r['median_ms']:.1f} |" for r in result["rows"]),
        "",
        "Speed-up: the baseline's time / ours in the same round, median over rounds and bootstrap "
        "95 % interval; met when the interval's lower end reaches the target.",
        "",
        "| ours | baseline | speed-up | 95 % interval | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in result["speedups"]:
        low, high = s["interval"]
        lines.append(
            f"| {s['ours']} | {s['baseline']} | {s['speedup']:.2f}x | {low:.2f}-{high:.2f} | "
            f"{s['target']}x | {'yes' if s['met'] else 'no'} |"
        )
    if result["trained_accuracy"]:
        lines += [
            "",
            f"Accuracy of the trained demo artifact `{result['trained']}/artifact/model_int8.onnx` on its "
            "test split through each INT8 configuration (`--trained`):",
            "",
            "| configuration | image AUROC | mean Dice | mean IoU |",
            "| --- | --- | --- | --- |",
            *(
                f"| {name} | {a['image_auroc']:.4f} | {a['mean_dice']:.4f} | {a['mean_iou']:.4f} |"
                for name, a in result["trained_accuracy"].items()
            ),
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "bench_out" / "bench")
    parser.add_argument(
        "--trained", type=pathlib.Path, default=None,
        help="a trained guided demo folder (DIR/artifact, DIR/data): INT8 accuracy per configuration",
    )  # fmt: skip
    paired.add_arguments(parser, rounds=60, per_round=4, item="image")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    result = measure(args)
    write_study(args.out, "guided_paired", result, markdown(result))


if __name__ == "__main__":
    main()
