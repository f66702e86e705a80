"""What the mask guidance and the masks are worth: the guided classifier's demo recipe with
mask-guided vs plain mean pooling, with vs without masks, over training seeds, on one dataset.

Every configuration trains with the same budget, data and seeds (the demo's: ``defectkit demo``'s
recipe, ``DEMO_RECIPE``); each run is evaluated on the demo's 200-image test split. The table
gives each seed's figures and the mean and range per configuration, and the paired difference
guided - mean per seed (same seed, same data: only the pooling differs).

    .venv/bin/python experiments/guided_classifier/ablation.py --out bench_out/guided_ablation --seeds 0 1 2

``--collect`` rebuilds the table from the runs already there.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

CONFIGS = {
    "guided, masks": {"pooling": "guided", "use_masks": True},
    "mean, masks": {"pooling": "mean", "use_masks": True},
    "guided, no masks": {"pooling": "guided", "use_masks": False},
    "mean, no masks": {"pooling": "mean", "use_masks": False},
}
METRICS = ("image_auroc", "average_precision", "accuracy", "mean_dice")


def run_one(
    data: pathlib.Path, out: pathlib.Path, seed: int, overrides: dict, threads: int, epochs: int
) -> dict:
    from defectkit import families
    from defectkit.models.family import DemoOptions, Predictor
    from defectkit.models.guided_classifier.demo import demo_config
    from defectkit.training import load_model, train

    result_path = out / "result.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    options = DemoOptions(train_seed=seed, threads=threads, epochs=epochs)
    start = time.perf_counter()
    train(demo_config(data, out, options, **overrides), progress=False)
    model, info = load_model(out)
    result = families.get("guided_classifier").evaluate(
        Predictor(model=model, info=info), data, progress=False
    )
    result = {k: result[k] for k in (*METRICS, "mean_iou", "count")} | {
        "minutes": (time.perf_counter() - start) / 60
    }
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def table(results: dict[str, dict[int, dict]]) -> str:
    lines = [
        "| configuration | seed | " + " | ".join(METRICS) + " | train min |",
        "| --- | --- |" + " --- |" * (len(METRICS) + 1),
    ]
    for name, by_seed in results.items():
        for seed, r in sorted(by_seed.items()):
            lines.append(
                f"| {name} | {seed} | "
                + " | ".join(f"{r[m]:.3f}" for m in METRICS)
                + f" | {r['minutes']:.1f} |"
            )
        cells = [
            f"**{statistics.mean(r[m] for r in by_seed.values()):.3f}** "
            f"({min(r[m] for r in by_seed.values()):.3f}-{max(r[m] for r in by_seed.values()):.3f})"
            for m in METRICS
        ]
        lines.append(f"| {name} | mean (range) | " + " | ".join(cells) + " | |")
    guided, mean = results.get("guided, masks", {}), results.get("mean, masks", {})
    seeds = sorted(set(guided) & set(mean))
    if seeds:
        lines.append("")
        lines.append(
            "Paired, guided - mean pooling (with masks), per seed: "
            + "; ".join(
                f"seed {s}: AUROC {guided[s]['image_auroc'] - mean[s]['image_auroc']:+.3f}, "
                f"Dice {guided[s]['mean_dice'] - mean[s]['mean_dice']:+.3f}"
                for s in seeds
            )
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench_out/guided_ablation"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=0, help="0: the demo recipe's")
    parser.add_argument("--collect", action="store_true")
    args = parser.parse_args()
    from defectkit.models.guided_classifier.data.demo import make_demo_images

    data = args.out / "data"
    if not (data / "dataset.json").is_file():
        make_demo_images(data, seed=0, overwrite=True, progress=False)
    results: dict[str, dict[int, dict]] = {}
    for name in args.configs:
        for seed in args.seeds:
            folder = args.out / name.replace(", ", "-").replace(" ", "_") / f"seed{seed}"
            if args.collect and not (folder / "result.json").is_file():
                continue
            results.setdefault(name, {})[seed] = run_one(
                data, folder, seed, CONFIGS[name], args.threads, args.epochs
            )
            print(f"{name}, seed {seed}: {results[name][seed]}", flush=True)
    text = table(results)
    (args.out / "table.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
