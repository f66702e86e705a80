"""``defectkit train DATA --out RUN``: train reference_unet on an MVTec-layout folder.

Every TrainConfig field is an option (``--batch-size``, ``--n-defects 3 8``),
so the CLI and the Python API cannot drift apart. Runs under ``torchrun`` for
several processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

# Options whose help says more than their default.
HELP = {
    "device": "cpu, cuda, cuda:N, or auto (cuda when available)",
    "epochs": "passes over the training patches; 0: enough to show --patch-budget patches",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from defectkit.training.config import TrainConfig

    parser.add_argument("data", type=pathlib.Path, help="dataset folder (train/good, optional valid/)")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="run folder to write")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("data", "out"):
            continue
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, tuple):
            parser.add_argument(
                flag,
                type=type(default[0]),
                nargs=len(default),
                default=default,
                metavar=field.name.upper(),
                help=f"(default {' '.join(map(str, default))})",
            )
        else:
            text = f"{HELP[field.name]} " if field.name in HELP else ""
            parser.add_argument(flag, type=type(default), default=default, help=f"{text}(default {default})")


def run(args: argparse.Namespace) -> int:
    from defectkit.training import TrainConfig, train

    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name not in ("data", "out")
    }
    config = TrainConfig(data=str(args.data), out=str(args.out), **values)
    row = train(config, resume=args.resume, progress=not args.no_progress)
    if row:
        print(
            f"trained {args.out}: validation image AUROC {row['val_image_auroc']:.4f}, "
            f"pixel AUROC {row['val_pixel_auroc']:.4f}"
        )
    return 0
