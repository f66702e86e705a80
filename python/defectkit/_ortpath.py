"""Finds libonnxruntime.so inside the installed onnxruntime wheel.

One source for both moments that need it: CMake runs this file as a script at
build time (the compiled-in default for C++ programs), and the Python facade
imports it at run time. It only locates the package, never imports it.
"""

from __future__ import annotations

import importlib.util
import pathlib


def find_onnxruntime_library() -> pathlib.Path | None:
    """Returns the onnxruntime wheel's shared library, or None when it is not installed."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        return None
    capi = pathlib.Path(spec.origin).parent / "capi"
    # libonnxruntime.so.1.32.0 is the real file; the shorter names are links, if any.
    candidates = sorted(capi.glob("libonnxruntime.so*"), key=lambda p: len(p.name), reverse=True)
    return candidates[0].resolve() if candidates else None


if __name__ == "__main__":
    found = find_onnxruntime_library()
    if found is not None:
        print(found)
