"""``defectkit train DATA --out RUN [--family NAME]``: train a model family on a dataset folder.

Every field of TrainConfig and of the family's own config is an option
(``--batch-size``, ``--n-defects 3 8``), so the CLI and the Python API cannot
drift apart. ``--family`` picks the family (default reference_unet) and with
it the options that follow. Runs under ``torchrun`` for several processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

# Options whose help says more than their default.
HELP = {
    "device": "cpu, cuda, cuda:N, or auto (cuda when available)",
    "epochs": "passes over the training items; 0: enough to show --sample-budget items",
    "family": "model family (defectkit.families)",
}
_NOT_OPTIONS = ("data", "out", "family", "family_config")


def _family_name(argv: list[str]) -> str:
    """The --family the command line asks for (its options depend on it)."""
    from defectkit.families import DEFAULT_FAMILY

    for index, arg in enumerate(argv):
        if arg == "--family" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--family="):
            return arg.split("=", 1)[1]
    return DEFAULT_FAMILY


def _add_fields(parser: argparse.ArgumentParser, config_class: type, group: str) -> None:
    options = parser.add_argument_group(group)
    defaults = config_class()
    for field in dataclasses.fields(config_class):
        if field.name in _NOT_OPTIONS:
            continue
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            options.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=f"(default {default})"
            )
        elif isinstance(default, (dict, type(None))):
            continue  # recorded by training itself (guided_classifier's backbone_config), not an option
        elif isinstance(default, tuple):
            options.add_argument(
                flag,
                type=type(default[0]),
                nargs=len(default),
                default=default,
                metavar=field.name.upper(),
                help=f"(default {' '.join(map(str, default))})",
            )
        else:
            text = f"{HELP[field.name]} " if field.name in HELP else ""
            options.add_argument(flag, type=type(default), default=default, help=f"{text}(default {default})")


def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    from defectkit import families
    from defectkit.training.config import TrainConfig

    parser.add_argument(
        "data", type=pathlib.Path, help="dataset folder (reference_unet: train/good, optional valid/)"
    )
    parser.add_argument("--out", type=pathlib.Path, required=True, help="run folder to write")
    parser.add_argument(
        "--family", default=families.DEFAULT_FAMILY, choices=families.names(), help=HELP["family"]
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_fields(parser, TrainConfig, "training (every family)")
    family = families.get(_family_name(argv))
    _add_fields(parser, family.config_class, f"{family.name}")


def run(args: argparse.Namespace) -> int:
    from defectkit import families
    from defectkit.training import TrainConfig, train

    family = families.get(args.family)
    shared = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if f.name not in _NOT_OPTIONS
    }
    own = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(family.config_class)
        if hasattr(args, f.name)
    }
    config = TrainConfig(
        data=str(args.data),
        out=str(args.out),
        family=family.name,
        family_config=family.config_class(**own),
        **shared,
    )
    row = train(config, resume=args.resume, progress=not args.no_progress)
    if row:
        metric = f"val_{family.selection_metric}"
        print(f"trained {args.out}: validation {family.selection_metric} {row[metric]:.4f}")
    return 0
