"""``defectkit info``: what the native runtime loads."""

from __future__ import annotations

import argparse
import json

import defectkit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    info = defectkit.native_info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"defectkit {info['defectkit']}")
        print(f"ONNX Runtime {info['onnxruntime']} ({info['onnxruntime_library']})")
        print(f"providers: {', '.join(info['providers'])}")
        vnni = info["int8_8bit_weights_exact"]
        print(
            "INT8: 7-bit weights (export's default) run exactly; 8-bit weights "
            + ("too (AVX512-VNNI)" if vnni else "are refused (no AVX512-VNNI: saturating 16-bit sums)")
        )
    return 0
