"""INT8 artifacts on a CPU without AVX512-VNNI: the native runtime under QEMU's Haswell (AVX2).

There ONNX Runtime adds pairs of uint8 x int8 products in 16 bits with saturation, so an artifact
with full-range (8-bit) weights would compute other answers than export measured (scores up to 0.37
off on the demo's strip models; docs/experiments/int8_portability.md). Export's default 7-bit
weights must give the same heatmaps there as here, and an 8-bit artifact must be refused there with
a clear error.

Run by ``make test-cross-cpu`` (part of ``make test``), which installs qemu-user; outside it the
tests are skipped where ``qemu-x86_64`` is missing, unless DEFECTKIT_REQUIRE_QEMU is set.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import defectkit
from defectkit.export import pipeline
from defectkit.export.pipeline import ExportOptions, export_run

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "python" / "models" / "reference_unet" / "export"))
from strip_fixture import FixtureRun, write_fixture_dataset, write_fixture_run  # noqa: E402

QEMU = shutil.which("qemu-x86_64")
CPU = "Haswell-v4"  # AVX2 and FMA, no AVX-512: ONNX Runtime's saturating u8 x s8 kernels
pytestmark = pytest.mark.skipif(
    QEMU is None and not os.environ.get("DEFECTKIT_REQUIRE_QEMU"), reason="qemu-x86_64 not installed"
)

# What the emulated process does: the CPU check, each artifact's heatmaps or its refusal.
CHILD = """
import json, sys
import numpy as np
import defectkit
from defectkit import _native
out = {"exact": _native.cpu_sums_int8_products_exactly()}
strips = sys.argv[2:]
for name in ("int8_7", "int8_8"):
    out[name + "_bits"] = defectkit.read_artifact_metadata(sys.argv[1] + "/" + name + ".onnx").int8_weight_bits
    try:
        inspector = defectkit.Inspector(sys.argv[1] + "/" + name + ".onnx")
        heatmaps = np.stack([inspector.inspect(s).heatmap for s in strips])
        np.save(sys.argv[1] + "/" + name + "_avx2.npy", heatmaps)
        out[name] = "ran"
    except defectkit.ModelError as error:
        out[name] = str(error)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> tuple[pathlib.Path, list[str]]:
    """The fixture network's full-frame INT8 with 7-bit weights (the default) and with 8-bit ones
    (quantised directly: export refuses 8 bits on a CPU without VNNI)."""
    root = tmp_path_factory.mktemp("cross_cpu")
    data = write_fixture_dataset(root / "data")
    run = write_fixture_run(root / "run", data)
    folder = root / "artifacts"
    folder.mkdir()
    for bits in (7, 8):
        options = ExportOptions(
            run=run.run, out=root / f"export{bits}", int8=True, graph="full_frame", methods=("minmax",),
            max_extensions=0, allow_accuracy_drop=True, int8_weight_bits=bits,
        )  # fmt: skip
        with pytest.MonkeyPatch.context() as patch:  # what an 8-bit export writes, wherever this runs
            patch.setattr(pipeline, "_cpu_sums_int8_products_exactly", lambda: True)
            export_run(options)
        shutil.copy(root / f"export{bits}" / "model_int8.onnx", folder / f"int8_{bits}.onnx")
    return folder, [str(p) for p in FixtureRun(data, run.run).test_paths]


def _emulated(folder: pathlib.Path, strips: list[str]) -> dict:
    command = [QEMU or "qemu-x86_64", "-cpu", CPU, sys.executable, "-c", CHILD, str(folder), *strips]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_7_bit_int8_computes_the_same_on_avx2_and_8_bit_is_refused_there(artifacts) -> None:
    folder, strips = artifacts
    here = {
        bits: np.stack([defectkit.Inspector(folder / f"int8_{bits}.onnx").inspect(s).heatmap for s in strips])
        for bits in (7, 8)
        if bits == 7 or defectkit._native.cpu_sums_int8_products_exactly()
    }
    emulated = _emulated(folder, strips)
    assert emulated["exact"] is False  # the emulated CPU is one without VNNI
    assert emulated["int8_7"] == "ran"
    avx2 = np.load(folder / "int8_7_avx2.npy")
    np.testing.assert_allclose(avx2, here[7], atol=1e-6, rtol=0)
    assert (emulated["int8_7_bits"], emulated["int8_8_bits"]) == (7, 8)  # read, though not run
    assert emulated["int8_8"].startswith(str(folder / "int8_8.onnx"))
    assert "full-range (8-bit) weights" in emulated["int8_8"] and "no AVX512-VNNI" in emulated["int8_8"]
