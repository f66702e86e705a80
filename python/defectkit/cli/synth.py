"""``defectkit synth OUT``: write the procedural demo strip dataset."""

from __future__ import annotations

import argparse
import pathlib


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=pathlib.Path, help="folder to write (MVTec layout)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same dataset (default 0)")
    parser.add_argument("--train", type=int, default=96, help="defect-free training strips (default 96)")
    parser.add_argument("--test-good", type=int, default=8, help="good test strips (default 8)")
    parser.add_argument("--test-defect", type=int, default=12, help="defective test strips (default 12)")
    parser.add_argument("--valid-good", type=int, default=4, help="good valid/ strips (default 4)")
    parser.add_argument(
        "--valid-defect", type=int, default=6, help="defective valid/ strips (default 6; both 0: no valid/)"
    )


def run(args: argparse.Namespace) -> int:
    from defectkit.data.demo import make_demo_dataset  # needs the [train] extra

    make_demo_dataset(
        args.out,
        n_train=args.train,
        n_test_good=args.test_good,
        n_test_defect=args.test_defect,
        n_valid_good=args.valid_good,
        n_valid_defect=args.valid_defect,
        seed=args.seed,
    )
    print(f"demo dataset written to {args.out}")
    return 0
