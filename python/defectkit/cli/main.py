"""Entry point: ``defectkit <command> ...``. Each command lives in its own module
and is imported only when run, so runtime commands work without torch."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator

import defectkit

# command -> (module under defectkit.cli, one-line help, the extra it needs beyond the runtime)
COMMANDS = {
    "info": ("info", "print the package and ONNX Runtime versions the native runtime loads", None),
    "read": ("read", "decode strips with the native reader and summarise them", None),
    "bench": ("bench", "latency and throughput of one artifact on this machine", None),
    "synth": ("synth", "write the procedural demo strip dataset (MVTec layout)", "train"),
    "prepare": (
        "prepare",
        "organize, check or synthesise an image dataset (images/, masks/, *_labels.txt)",
        "train",
    ),
    "train": ("train", "train a model family on a dataset folder", "train"),
    "eval": ("eval", "test metrics of a trained run or an artifact on a dataset", "train"),
    "export": (
        "export",
        "write the deployable ONNX artifact (FP32, optionally INT8) of a trained run",
        "train",
    ),
    "infer": ("infer", "a picture and a CSV row of results per input", "train"),
    "demo": ("demo", "run each family's main job end to end on its embedded demo data", "train"),
}


def build_parser(only: str | None = None, argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, that command gets its arguments (the others are only listed).

    A command's options may come from training dataclasses whose modules import torch: loading
    only the command being run keeps ``defectkit --help``, ``bench`` or ``info`` as light as the
    runtime install.
    """
    parser = argparse.ArgumentParser(prog="defectkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"defectkit {defectkit.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text, extra) in COMMANDS.items():
        shown = help_text if extra is None else f"{help_text} (needs defectkit[{extra}])"
        command = sub.add_parser(name, help=shown, description=shown)
        if name == only:
            add = _load(name).add_arguments
            # Some commands' options depend on other options (train: --family picks the family's).
            add(command, argv or []) if "argv" in inspect.signature(add).parameters else add(command)
    return parser


class _MissingExtra(Exception):
    pass


def _load(name: str):
    """The command's module; a missing training dependency becomes a message naming the extra."""
    module = COMMANDS[name][0]
    try:
        return importlib.import_module(f"defectkit.cli.{module}")
    except ImportError as error:  # ModuleNotFoundError where a package is missing
        raise _MissingExtra(_needs(name, error)) from error


def _needs(name: str | None, error: ImportError) -> str:
    extra = (COMMANDS[name][2] if name else None) or "train"
    missing = error.name or str(error)
    return f"defectkit {name} needs the '{extra}' extra ({missing}): pip install 'defectkit[{extra}]'"


@contextlib.contextmanager
def stop_on_sigterm(command: str | None) -> Iterator[None]:
    """Within it, a SIGTERM (``timeout``, ``docker stop``, a line's supervisor) ends the command
    as Ctrl-C does.

    Python's default ends the process on the spot: no ``finally``, no atexit, so export's
    calibration folder (``/tmp/defectkit-quant-*``, tens of MB) and half-written temporary files
    stayed behind. Raised as ``SystemExit(143)`` in the main thread, the signal unwinds every
    ``with`` block instead; what training finished is already on disk (``last.pt`` per epoch).
    The previous handler comes back on leaving, for callers of ``main()`` such as tests.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    name = f"defectkit {command}" if command else "defectkit"
    owner = os.getpid()

    def stop(signum: int, _frame: object) -> None:
        if os.getpid() != owner:  # a forked child (a DataLoader worker) ends as it did before
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        print(f"{name}: stopped by {signal.Signals(signum).name}", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    named = next((a for a in argv if a in COMMANDS), None)
    try:
        args = build_parser(only=named, argv=argv).parse_args(argv)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
        with stop_on_sigterm(named):
            return int(_load(args.command).run(args) or 0)
    except _MissingExtra as missing:
        print(f"defectkit: {missing}", file=sys.stderr)
        return 3
    except defectkit.Error as error:
        print(f"defectkit {named}: error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:  # a training dependency imported while the command ran
        print(f"defectkit: {_needs(named, error)}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
