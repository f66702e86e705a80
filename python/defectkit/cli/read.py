"""``defectkit read STRIP...``: decode strips natively and summarise them."""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

import defectkit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "strips", nargs="+", type=pathlib.Path, help="strip TIFFs, or folders searched for *.tif*"
    )


def expand(paths: list[pathlib.Path], suffixes: tuple[str, ...] = (".tif", ".tiff")) -> list[pathlib.Path]:
    """Folders become their files with ``suffixes`` (recursively, sorted); files stay as given."""
    found: list[pathlib.Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes)
        else:
            found.append(path)
    return found


def summarise(path: pathlib.Path, strip: np.ndarray, seconds: float) -> str:
    ranges = " ".join(f"c{c}[{strip[c].min():.1f},{strip[c].max():.1f}]" for c in range(strip.shape[0]))
    c, h, w = strip.shape
    return f"{path}: {c}x{h}x{w} float32 {seconds * 1e3:.2f} ms {ranges}"


def run(args: argparse.Namespace) -> int:
    failures = 0
    for path in expand(args.strips):
        start = time.perf_counter()
        try:
            strip = defectkit.read_strip(path)
        except defectkit.Error as error:
            print(f"refused: {error}")
            failures += 1
            continue
        print(summarise(path, strip, time.perf_counter() - start))
    return 1 if failures else 0
