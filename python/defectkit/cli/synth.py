"""``defectkit synth OUT``: write the procedural demo strip dataset."""

from __future__ import annotations

import argparse
import pathlib

# The demo's split sizes (DEMO_COUNTS of the strip demo generator); repeated here because the
# runtime-only install lists this command without the [train] extra that the generator needs.
_COUNTS = {"train": 96, "test_good": 40, "test_defect": 60, "valid_good": 40, "valid_defect": 40}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=pathlib.Path, help="folder to write (MVTec layout)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same dataset (default 0)")
    for name, help_text in (
        ("train", "defect-free training strips"),
        ("test_good", "good test strips"),
        ("test_defect", "defective test strips"),
        ("valid_good", "good valid/ strips"),
        ("valid_defect", "defective valid/ strips (valid- both 0: no valid/)"),
    ):
        flag = "--" + name.replace("_", "-")
        parser.add_argument(
            flag, type=int, default=_COUNTS[name], help=f"{help_text} (default {_COUNTS[name]})"
        )


def run(args: argparse.Namespace) -> int:
    from defectkit.models.reference_unet.data.demo import make_demo_dataset  # needs the [train] extra

    make_demo_dataset(
        args.out,
        n_train=args.train,  # defaults: defectkit.models.reference_unet.data.demo.DEMO_COUNTS
        n_test_good=args.test_good,
        n_test_defect=args.test_defect,
        n_valid_good=args.valid_good,
        n_valid_defect=args.valid_defect,
        seed=args.seed,
    )
    print(f"demo dataset written to {args.out}")
    return 0
