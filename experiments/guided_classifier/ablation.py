"""What the mask guidance and the masks are worth: the guided classifier's demo recipe with
mask-guided vs plain mean pooling, with vs without masks, over training seeds, on one dataset.

Every configuration trains with the same budget, data and seeds (the demo's: ``defectkit demo``'s
recipe, ``DEMO_RECIPE``); each run is evaluated on the demo's 200-image test split. The table
gives each seed's figures and the mean and range per configuration, and the paired difference
guided - mean per seed (same seed, same data: only the pooling differs).

    .venv/bin/python experiments/guided_classifier/ablation.py --out bench_out/guided_ablation --seeds 0 1 2

At AUROC 0.996 the 200-image test split cannot rank the two poolings (one misordered pair of
10,000 is 0.0001; seeds differ by more). ``--test-images N`` gives the dataset a larger test
split (same generator and training split) and the table a paired comparison of guided and mean
pooling (with masks): the mean over seeds of the AUROC difference and a 95 % interval from a
two-level bootstrap (seeds, then test images, both resampled; the same images for both
poolings), so that the interval carries the seed spread and the test sampling both:

    .venv/bin/python experiments/guided_classifier/ablation.py --out bench_out/guided_ablation_1000 \
        --seeds 0 1 2 3 4 --configs "guided, masks" "mean, masks" --test-images 1000

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
    "guided detached, masks": {"pooling": "guided", "use_masks": True, "detach_guidance": True},
    "guided, no masks": {"pooling": "guided", "use_masks": False},
    "mean, no masks": {"pooling": "mean", "use_masks": False},
}
# The comparisons the table makes, first - second, where both ran on the same seeds.
PAIRS = (
    ("guided, masks", "mean, masks"),
    ("guided detached, masks", "mean, masks"),
    ("guided detached, masks", "guided, masks"),
)
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
        "minutes": (time.perf_counter() - start) / 60,
        "scores": [[pathlib.Path(s["path"]).name, s["label"], s["score"]] for s in result["scores"]],
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
    for first, second in PAIRS:
        a, b = results.get(first, {}), results.get(second, {})
        seeds = sorted(set(a) & set(b))
        if not seeds:
            continue
        lines.append("")
        lines.append(
            f"Paired, {first} - {second}, per seed: "
            + "; ".join(
                f"seed {s}: AUROC {a[s]['image_auroc'] - b[s]['image_auroc']:+.3f}, "
                f"Dice {a[s]['mean_dice'] - b[s]['mean_dice']:+.3f}"
                for s in seeds
            )
        )
        lines.append(paired_dice(a, b, seeds, f"{first} - {second}"))
        lines.append(paired_auroc(a, b, seeds, f"{first} - {second}"))
    return "\n".join(lines) + "\n"


def paired_dice(first: dict[int, dict], second: dict[int, dict], seeds: list[int], name: str) -> str:
    """Mean Dice difference over seeds with a t 95 % interval (per-image Dice is not kept, so the
    interval carries the seed spread only)."""
    if len(seeds) < 2:
        return ""
    from scipy import stats

    from defectkit.evaluation.evidence import interval_side

    gaps = [first[s]["mean_dice"] - second[s]["mean_dice"] for s in seeds]
    mean, sem = statistics.mean(gaps), statistics.stdev(gaps) / len(gaps) ** 0.5
    half = stats.t.ppf(0.975, len(gaps) - 1) * sem
    verdict = interval_side(mean - half, mean + half, "second better", "first better", null=0.0)
    return (
        f"\nMean Dice, {name}, over {len(seeds)} seeds: {mean:+.4f}, 95 % interval "
        f"{mean - half:+.4f} to {mean + half:+.4f} (t over seeds): {verdict}."
    )


def paired_auroc(
    guided: dict[int, dict], mean: dict[int, dict], seeds: list[int], name: str, draws: int = 2000
) -> str:
    """First - second image AUROC, averaged over seeds, with a two-level bootstrap 95 % interval."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from defectkit.evaluation.evidence import interval_side

    if not all("scores" in r[s] for r in (guided, mean) for s in seeds):
        return ""  # runs from before the scores were kept
    names = [row[0] for row in guided[seeds[0]]["scores"]]
    labels = np.array([row[1] for row in guided[seeds[0]]["scores"]])

    def scores(result: dict) -> np.ndarray:
        by_name = {row[0]: row[2] for row in result["scores"]}
        return np.array([by_name[n] for n in names])  # the same image order in every run

    by_seed = np.array([[scores(guided[s]), scores(mean[s])] for s in seeds])  # (seeds, 2, images)
    observed = np.mean([roc_auc_score(labels, d[0]) - roc_auc_score(labels, d[1]) for d in by_seed])
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(draws):
        picked_seeds = rng.integers(0, len(seeds), len(seeds))
        images = rng.integers(0, len(labels), len(labels))
        if labels[images].min() == labels[images].max():
            continue
        truth = labels[images]
        pair = by_seed[:, :, images]
        gaps = [roc_auc_score(truth, pair[k, 0]) - roc_auc_score(truth, pair[k, 1]) for k in picked_seeds]
        boot.append(np.mean(gaps))
    low, high = np.percentile(boot, [2.5, 97.5])
    verdict = interval_side(low, high, "second better", "first better", null=0.0)
    return (
        f"\nImage AUROC, {name}, mean over {len(seeds)} seeds on {len(labels)} "
        f"test images: {observed:+.4f}, 95 % interval {low:+.4f} to {high:+.4f} (two-level bootstrap, "
        f"seeds and images): {verdict}."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench_out/guided_ablation"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=0, help="0: the demo recipe's")
    parser.add_argument("--test-images", type=int, default=200, help="test split size (half defect)")
    parser.add_argument("--collect", action="store_true")
    args = parser.parse_args()
    from defectkit.models.guided_classifier.data.demo import make_demo_images

    data = args.out / "data"
    if not (data / "dataset.json").is_file():
        half = args.test_images // 2
        make_demo_images(data, seed=0, test=(half, args.test_images - half), overwrite=True, progress=False)
    results: dict[str, dict[int, dict]] = {}
    for name in args.configs:
        for seed in args.seeds:
            folder = args.out / name.replace(", ", "-").replace(" ", "_") / f"seed{seed}"
            if args.collect and not (folder / "result.json").is_file():
                continue
            results.setdefault(name, {})[seed] = run_one(
                data, folder, seed, CONFIGS[name], args.threads, args.epochs
            )
            shown = {k: v for k, v in results[name][seed].items() if k != "scores"}
            print(f"{name}, seed {seed}: {shown}", flush=True)
    text = table(results)
    (args.out / "table.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
