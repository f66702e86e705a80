"""``defectkit demo``: each model family's main job end to end on its embedded demo data.

For every family with a demo (or those named with ``--family``): synthesise its
demo dataset -> train -> evaluate -> export FP32 and INT8 -> evaluate again
through the C++ runtime -> a latency line; each in ``OUT/<family>/``, with the
figures in ``OUT/<family>/summary.json``.
"""

from __future__ import annotations

import argparse
import pathlib
import time

DEMO_FAMILIES = ("reference_unet", "guided_classifier")  # the order make demo runs them in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("demo_out"), help="work folder")
    parser.add_argument(
        "--family", action="append", choices=DEMO_FAMILIES, help="run only this family's demo (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--train-seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="training arithmetic (auto: bf16 where the CPU computes it natively)",
    )
    parser.add_argument("--epochs", type=int, default=0, help="training epochs (0: the family's recipe)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the same path on a little data and a tiny network (about a minute each; make test runs it)",
    )


def run(args: argparse.Namespace) -> int:
    import defectkit
    from defectkit import families
    from defectkit.models.family import DemoOptions

    info = defectkit.native_info()
    print(
        f"[demo] defectkit {info['defectkit']}, ONNX Runtime {info['onnxruntime']} "
        f"({info['onnxruntime_library']})"
    )
    options = DemoOptions(
        seed=args.seed,
        train_seed=args.train_seed,
        precision=args.precision,
        epochs=args.epochs,
        threads=args.threads,
        smoke=args.smoke,
    )
    begin = time.perf_counter()
    for name in args.family or DEMO_FAMILIES:
        print(f"[demo] === {name} ===")
        families.get(name).demo(args.out / name, options)
    print(f"[demo] all done in {(time.perf_counter() - begin) / 60:.1f} min -> {args.out}")
    return 0
