"""``defectkit prepare``: organize, check or synthesise an image dataset (images/, masks/, *_labels.txt).

::

    defectkit prepare organize --defect-images DIR [--defect-masks DIR] --normal-images DIR
                               --output-dir DIR [--val-fraction 0.2] [--test-fraction 0.0]
                               [--seed 0] [--copy | --link] [--check-data]
    defectkit prepare check DATA_ROOT [--json FILE]        exit code 1 when problems are found
    defectkit prepare dummy --num-defect N --num-normal N --output-dir DIR [--size 128] [--seed 0]

Options also take underscores (``--defect_images``, ``--check_data``); ``check-data`` and
``check_data`` are aliases of ``check``.
"""

from __future__ import annotations

import argparse
import json
import pathlib

# The demo's split sizes (DEMO_COUNTS of the demo generator, (defect, normal)), repeated here
# so that `defectkit prepare --help` parses without the [train] extra the generator needs.
_DEMO_COUNTS = {"train": (120, 120), "val": (40, 40), "test": (100, 100)}
_LISTED_AT_MOST = 20


def _flag(name: str) -> list[str]:
    """``--a-b`` and its underscore spelling ``--a_b``."""
    return ["--" + name, "--" + name.replace("-", "_")] if "-" in name else ["--" + name]


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(*_flag("no-progress"), action="store_true", help="no progress bars")


def _add_check_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        *_flag("check-data"),
        action="store_true",
        help="check the dataset written (as `prepare check`): exit code 1 when problems are found",
    )


def _add_organize(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "organize",
        help="build the layout from folders of defect images, their masks and normal images",
        description="Copies (or links) images to images/ as defect_###/normal_### (sorted by original "
        "name, extensions kept), writes each defect image's mask (matched by stem: <stem>.* or "
        "<stem>_mask.*) as a binary PNG at the image's size, splits each class with a seeded shuffle "
        "and writes train/val(/test)_labels.txt and sources.csv.",
    )
    parser.add_argument(*_flag("defect-images"), type=pathlib.Path, required=True, metavar="DIR")
    parser.add_argument(
        *_flag("defect-masks"), type=pathlib.Path, metavar="DIR", help="masks of the defect images (optional)"
    )
    parser.add_argument(*_flag("normal-images"), type=pathlib.Path, required=True, metavar="DIR")
    parser.add_argument(*_flag("output-dir"), type=pathlib.Path, required=True, metavar="DIR")
    parser.add_argument(
        *_flag("val-fraction"), type=float, default=0.2, metavar="F", help="per class (default 0.2)"
    )
    parser.add_argument(
        *_flag("test-fraction"),
        type=float,
        default=0.0,
        metavar="F",
        help="per class; 0: no test split (default 0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--copy", dest="mode", action="store_const", const="copy", help="copy images (default)")
    mode.add_argument("--link", dest="mode", action="store_const", const="link", help="symlink images")
    parser.set_defaults(mode="copy")
    _add_check_data(parser)
    _add_progress(parser)


def _add_check(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "check",
        aliases=["check-data", "check_data"],
        help="read every label line, image and mask; list every problem (exit code 1 if any)",
    )
    parser.add_argument("data_root", type=pathlib.Path, metavar="DATA_ROOT")
    parser.add_argument("--json", type=pathlib.Path, metavar="FILE", help="also write the report as JSON")
    _add_progress(parser)


def _add_dummy(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "dummy",
        help="write a procedural demo dataset in the layout",
        description="Textured grey and colour images, each defect image with one small, subtle defect "
        "and its mask; the same seed gives the same files.",
    )
    train_defect, train_normal = _DEMO_COUNTS["train"]
    parser.add_argument(
        *_flag("num-defect"), type=int, default=train_defect, help=f"train (default {train_defect})"
    )
    parser.add_argument(
        *_flag("num-normal"), type=int, default=train_normal, help=f"train (default {train_normal})"
    )
    for split in ("val", "test"):
        parser.add_argument(
            f"--{split}",
            type=int,
            nargs=2,
            default=_DEMO_COUNTS[split],
            metavar=("DEFECT", "NORMAL"),
            help=f"{split} images (default {' '.join(map(str, _DEMO_COUNTS[split]))})",
        )
    parser.add_argument(*_flag("output-dir"), type=pathlib.Path, required=True, metavar="DIR")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same dataset (default 0)")
    parser.add_argument("--format", dest="fmt", choices=("png", "jpg", "tif"), default="png")
    parser.add_argument(
        *_flag("masks-fraction"),
        type=float,
        default=1.0,
        help="share of the train defect images that get a mask (default 1.0)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a demo dataset in DIR")
    _add_check_data(parser)
    _add_progress(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="prepare_command", required=True, metavar="SUBCOMMAND")
    _add_organize(sub)
    _add_check(sub)
    _add_dummy(sub)


def _check(root: pathlib.Path, progress: bool, json_path: pathlib.Path | None = None) -> int:
    from defectkit.models.guided_classifier.data.check import check_dataset  # needs the [train] extra

    report = check_dataset(root, progress=progress)
    print(report.format())
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return 0 if report.ok else 1


def _listed(paths: list[pathlib.Path]) -> str:
    shown = ", ".join(p.name for p in paths[:_LISTED_AT_MOST])
    return shown + (f", ... ({len(paths) - _LISTED_AT_MOST} more)" if len(paths) > _LISTED_AT_MOST else "")


def _organize(args: argparse.Namespace) -> int:
    from defectkit.models.guided_classifier.data.organize import organize_dataset  # needs the [train] extra

    summary = organize_dataset(
        args.defect_images,
        args.normal_images,
        args.output_dir,
        defect_masks=args.defect_masks,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        mode=args.mode,
        progress=not args.no_progress,
    )
    for split, counts in summary.counts.items():
        print(f"{split}: {counts['defect']} defect, {counts['normal']} normal")
    for title, paths in (
        ("defect images without a mask (segmentation loss skipped)", summary.without_mask),
        ("masks without a defect pixel", summary.empty_masks),
        ("masks that match no defect image (not used)", summary.unused_masks),
    ):
        if paths:
            print(f"{len(paths)} {title}: {_listed(paths)}")
    print(f"dataset written to {summary.root}")
    return _check(summary.root, not args.no_progress) if args.check_data else 0


def _dummy(args: argparse.Namespace) -> int:
    from defectkit.models.guided_classifier.data.demo import make_demo_images  # needs the [train] extra

    root = make_demo_images(
        args.output_dir,
        num_defect=args.num_defect,  # defaults: defectkit.models.guided_classifier.data.demo.DEMO_COUNTS
        num_normal=args.num_normal,
        val=tuple(args.val),
        test=tuple(args.test),
        size=args.size,
        seed=args.seed,
        fmt=args.fmt,
        masks_fraction=args.masks_fraction,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(f"demo dataset written to {root}")
    return _check(root, not args.no_progress) if args.check_data else 0


def run(args: argparse.Namespace) -> int:
    if args.prepare_command == "organize":
        return _organize(args)
    if args.prepare_command == "dummy":
        return _dummy(args)
    return _check(args.data_root, not args.no_progress, args.json)  # check and its aliases
