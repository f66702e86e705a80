"""Width study for reference_unet: accuracy and inference cost per UNet width.

Trains widths 8, 16, 32 and 64 on the demo dataset with the same budget (the
same epochs, hence the same patches seen), evaluates each on the test split,
and measures inference cost: GFLOP per strip and patches per second (median of
timed batches after a warm-up, torch threads as given).

    .venv/bin/python experiments/reference_unet/width_study.py --out bench_out/widths --epochs 15

Writes experiments/reference_unet/results/width_study-<date>-<host>.json and .md (make bench
reads the latest JSON for its accuracy column).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import socket
import statistics
import time

import torch

from defectkit.models.reference_unet import ReferenceUNet, UNetConfig, count_flops
from defectkit.models.reference_unet.config import ReferenceUNetConfig
from defectkit.models.reference_unet.data.demo import make_demo_dataset
from defectkit.models.reference_unet.data.tiling import patch_grid
from defectkit.models.reference_unet.evaluation import evaluate_run
from defectkit.training import TrainConfig, load_model, train

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def inference_cost(width: int, patch: int, strip_hw: tuple[int, int], repeats: int) -> dict:
    model = ReferenceUNet(UNetConfig(width=width)).eval()
    tiles = len(patch_grid(*strip_hw, patch))
    x = torch.rand(tiles, 3, patch, patch)
    with torch.inference_mode():
        model(x)  # warm-up
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {
        "gflop_per_strip": count_flops(model, patch, patch) * tiles,
        "patches_per_s": tiles / median,
        "strip_ms_median": median * 1e3,
        "tiles_per_strip": tiles,
    }


def cpu_name() -> str:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def fmt(value: float | None, digits: int = 4) -> str:
    return "not trained" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench_out/widths"))
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32, 64], help="widths to measure")
    parser.add_argument(
        "--train-widths",
        type=int,
        nargs="*",
        default=None,
        help="widths to also train and evaluate (default: all); the others get inference cost only",
    )
    parser.add_argument("--epochs", type=int, default=15, help="the same for every width")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=5, help="timed inference batches per width")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = args.out / "data"
    # The dataset and recipe the recorded study used: 24 training strips, no valid/ (2 held out),
    # the demo test split of the time (8 good, 12 defective), fp32, lr 1e-3, best.pt over every
    # epoch, mirrors of the same sign (mirror_sign did not exist yet).
    make_demo_dataset(
        data,
        seed=0,
        overwrite=True,
        progress=False,
        n_train=24,
        n_test_good=8,
        n_test_defect=12,
        n_valid_good=0,
        n_valid_defect=0,
    )
    rows = []
    train_widths = args.widths if args.train_widths is None else args.train_widths
    for width in args.widths:
        cost = inference_cost(width, 128, (976, 176), args.repeats)
        if width not in train_widths:
            params = sum(p.numel() for p in ReferenceUNet(UNetConfig(width=width)).parameters())
            rows.append(
                {
                    "width": width,
                    "parameters": params,
                    "image_auroc": None,
                    "pixel_auroc": None,
                    "train_minutes": None,
                    "train_patches_per_s": None,
                    "data_wait_share": None,
                    **cost,
                }
            )
            print(json.dumps(rows[-1]))
            continue
        run = args.out / f"w{width}"
        config = TrainConfig(
            data=str(data),
            out=str(run),
            family_config=ReferenceUNetConfig(width=width, mirror_sign="same"),
            epochs=args.epochs,
            threads=args.threads,
            batch_size=16,
            lr=1e-3,
            precision="fp32",
            best_from=0.0,
        )
        start = time.perf_counter()
        last = train(config, progress=False)
        train_minutes = (time.perf_counter() - start) / 60
        model, info = load_model(run)
        result = evaluate_run(model, data, info["patch_size"], progress=False)
        rows.append(
            {
                "width": width,
                "parameters": sum(p.numel() for p in model.parameters()),
                "image_auroc": result["image_auroc"],
                "pixel_auroc": result["pixel_auroc"],
                "train_minutes": train_minutes,
                "train_patches_per_s": last["samples_per_s"],
                "data_wait_share": last["data_wait_share"],
                **cost,
            }
        )
        print(json.dumps(rows[-1]))

    stamp = f"{datetime.date.today()}-{socket.gethostname()}"
    machine = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "torch": torch.__version__,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"width_study-{stamp}.json").write_text(
        json.dumps({"machine": machine, "epochs": args.epochs, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "| width | params | image AUROC | pixel AUROC | GFLOP/strip | patches/s (infer) | train min |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['width']} | {r['parameters'] / 1e6:.2f} M | "
        f"{fmt(r['image_auroc'])} | {fmt(r['pixel_auroc'])} | "
        f"{r['gflop_per_strip']:.1f} | {r['patches_per_s']:.0f} | {fmt(r['train_minutes'], 1)} |"
        for r in rows
    ]
    (RESULTS / f"width_study-{stamp}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
