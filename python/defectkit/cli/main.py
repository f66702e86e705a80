"""Entry point: ``defectkit <command> ...``. Each command lives in its own module
and is imported only when run, so runtime commands work without torch."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import defectkit

# command -> (module under defectkit.cli, one-line help)
COMMANDS = {
    "info": ("info", "print the package and ONNX Runtime versions the native runtime loads"),
    "read": ("read", "decode strips with the native reader and summarise them"),
    "synth": ("synth", "write the procedural demo strip dataset (MVTec layout)"),
    "train": ("train", "train reference_unet on an MVTec-layout folder of strips"),
    "eval": ("eval", "image and pixel AUROC of a trained run on a dataset's test split"),
    "export": ("export", "write the deployable ONNX artifact (FP32, optionally INT8) of a trained run"),
    "infer": ("infer", "heatmap panels (PNG) and a CSV of scores for strips"),
    "demo": ("demo", "run the main job end to end on the embedded demo dataset"),
    "bench": ("bench", "latency and throughput of one artifact on this machine"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command gets its arguments.

    Some commands' options come from training dataclasses whose modules import torch: loading
    only the command being run keeps ``defectkit bench`` or ``info`` as light as the runtime.
    """
    parser = argparse.ArgumentParser(prog="defectkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"defectkit {defectkit.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            importlib.import_module(f"defectkit.cli.{module}").add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    named = next((a for a in argv if a in COMMANDS), None)
    args = build_parser(only=named).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    module = importlib.import_module(f"defectkit.cli.{COMMANDS[args.command][0]}")
    try:
        return int(module.run(args) or 0)
    except defectkit.Error as error:
        print(f"defectkit {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
