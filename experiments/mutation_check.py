"""Mutation check of the export tests: break one thing, run the tests that should see it, restore.

Each mutation is a text substitution in one source file (the C++ one rebuilds the test binary);
the check passes when at least one test fails for every mutation. It edits the working tree in
place and restores every file afterwards (also on Ctrl-C), so run it on a clean checkout with
nothing else importing the package:

    .venv/bin/python experiments/mutation_check.py            # all mutations
    .venv/bin/python experiments/mutation_check.py int8-constant gate-sign

Prints, per mutation, the tests that failed (the ones that caught it).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "--no-header"]

# An INT8 model whose every output is replaced by a constant 0.46 (the probe).
_CONSTANT_OUTPUTS = """        model = onnx.load(target)
        import numpy as _np  # MUTATION: every output replaced by a constant 0.46
        from onnx import helper as _helper, numpy_helper as _numpy_helper

        for out in model.graph.output:
            for node in model.graph.node:
                for i, name in enumerate(node.output):
                    if name == out.name:
                        node.output[i] = name + "_mutated"
            model.graph.initializer.extend([
                _numpy_helper.from_array(_np.array(0.0, _np.float32), out.name + "_zero"),
                _numpy_helper.from_array(_np.array(0.46, _np.float32), out.name + "_constant"),
            ])
            model.graph.node.extend([
                _helper.make_node("Mul", [out.name + "_mutated", out.name + "_zero"], [out.name + "_zeroed"]),
                _helper.make_node("Add", [out.name + "_zeroed", out.name + "_constant"], [out.name]),
            ])
        return model
"""


@dataclasses.dataclass(frozen=True)
class Mutation:
    what: str
    path: str
    substitutions: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]  # pytest paths, or "ctest:<regex>" for the C++ tests
    rebuild: bool = False


MUTATIONS = {
    "tile-order-python": Mutation(
        "stitching takes tiles column-major instead of row-major (Python sliding window)",
        "python/defectkit/models/reference_unet/sliding_window.py",
        (
            (
                "row_tile[:, None] * len(xs) + col_tile[None, :]",
                "col_tile[None, :] * len(ys) + row_tile[:, None]",
            ),
        ),
        (
            "tests/python/models/reference_unet/test_sliding_window.py",
            "tests/python/models/reference_unet/test_tiling.py",
            "tests/python/models/reference_unet/export",
        ),
    ),
    "tile-order-cpp": Mutation(
        "stitching takes tiles column-major instead of row-major (C++ runtime)",
        "cpp/src/tiling.cpp",
        (
            (
                "static_cast<size_t>(ty) * xs.size() + static_cast<size_t>(tx)",
                "static_cast<size_t>(tx) * ys.size() + static_cast<size_t>(ty)",
            ),
        ),
        ("ctest:.", "tests/python/runtime/test_model.py", "tests/python/models/reference_unet/export"),
        rebuild=True,
    ),
    "input-scale": Mutation(
        "the exported graph feeds the network 0..255 instead of 0..1",
        "python/defectkit/models/reference_unet/export/graphs.py",
        (("* (1.0 / INPUT_SCALE)", "* 1.0"),),
        ("tests/python/models/reference_unet/export",),
    ),
    "int8-constant": Mutation(
        "every INT8 model's outputs replaced by a constant 0.46",
        "export/quantize.py",
        (("        return onnx.load(target)\n", _CONSTANT_OUTPUTS),),
        (
            "tests/python/models/reference_unet/export",
            "tests/python/export",
            "tests/python/models/guided_classifier/test_export.py",
        ),
    ),
    "gate-sign": Mutation(
        "the gate reads a gain as a drop and a drop as a gain",
        "python/defectkit/evaluation/evidence.py",
        (
            ("image_ref - image_cand, weights[:, negative]", "image_cand - image_ref, weights[:, negative]"),
            ("ref_boot - cand_boot", "cand_boot - ref_boot"),
            ("float(ref_value - cand_value)", "float(cand_value - ref_value)"),
        ),
        ("tests/python/evaluation/test_evidence.py", "tests/python/export/test_choices.py"),
    ),
}


def _rebuild() -> None:
    subprocess.run(["make", "cpp"], cwd=ROOT, check=True, capture_output=True)


def _run(tests: tuple[str, ...]) -> tuple[list[str], str]:
    """The failing tests' names and the tail of the output."""
    failed, tail = [], ""
    python_tests = [t for t in tests if not t.startswith("ctest:")]
    for test in tests:
        if test.startswith("ctest:"):
            result = subprocess.run(
                [str(ROOT / ".venv/bin/ctest"), "--test-dir", "build", "-R", test[6:], "--output-on-failure"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            failed += [f"ctest {m}" for m in re.findall(r"\d+ - (\S+) \(Failed\)", result.stdout)]
            tail += result.stdout[-1500:]
    if python_tests:
        result = subprocess.run([*PYTEST, *python_tests], cwd=ROOT, capture_output=True, text=True)
        # FAILED: a test's assertion; ERROR: its fixture (an export the gate refused, say)
        failed += [
            " ".join(m) for m in re.findall(r"^(FAILED|ERROR) (\S+)", result.stdout, flags=re.MULTILINE)
        ]
        tail += result.stdout[-1500:]
    return failed, tail


def check(name: str, mutation: Mutation) -> bool:
    path = ROOT / mutation.path
    original = path.read_text()
    mutated = original
    for old, new in mutation.substitutions:
        if old not in mutated:
            msg = f"{name}: {mutation.path} no longer contains {old!r}: update the mutation"
            raise SystemExit(msg)
        mutated = mutated.replace(old, new)
    try:
        path.write_text(mutated)
        if mutation.rebuild:
            _rebuild()
        failed, tail = _run(mutation.tests)
    finally:
        path.write_text(original)
        if mutation.rebuild:
            _rebuild()
    print(f"\n## {name}: {mutation.what} ({mutation.path})")
    if failed:
        print(f"caught by {len(failed)} test(s):")
        for test in failed:
            print(f"  - {test}")
    else:
        print("NOT CAUGHT: every test passed\n" + tail)
    sys.stdout.flush()
    return bool(failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(MUTATIONS)} (default: all)")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(MUTATIONS))
    if unknown:
        parser.error(f"unknown mutations {unknown}; known: {', '.join(MUTATIONS)}")
    caught = [check(name, MUTATIONS[name]) for name in args.names or MUTATIONS]
    print(f"\n{sum(caught)} of {len(caught)} mutations caught")
    return 0 if all(caught) else 1


if __name__ == "__main__":
    sys.exit(main())
