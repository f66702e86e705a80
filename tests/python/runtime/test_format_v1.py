"""A newer runtime still reads artifacts written before: format-1 files from an earlier export."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import defectkit

V1 = pathlib.Path(__file__).resolve().parents[2] / "data" / "artifacts_v1"


# Format-1 INT8 files have full-range weights: refused on a CPU without AVX512-VNNI, which would
# compute them with saturated sums (docs/HARDENING.md, "INT8 on every x86-64 CPU").
EXACT_INT8 = defectkit._native.cpu_sums_int8_products_exactly()


def _open(name: str) -> defectkit.Inspector | None:
    """The Inspector of a V1 file, or None where this CPU refuses it (the refusal checked)."""
    if "int8" in name and not EXACT_INT8:
        with pytest.raises(defectkit.ModelError, match="no AVX512-VNNI"):
            defectkit.Inspector(V1 / name)
        return None
    return defectkit.Inspector(V1 / name)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_format_1_tiled_artifact_inspects_as_it_did(precision) -> None:
    strip = np.load(V1 / "strip.npy")
    inspector = _open(f"tiled_{precision}.onnx")
    if inspector is None:
        return
    inspection = inspector.inspect(strip)
    np.testing.assert_allclose(inspection.heatmap, np.load(V1 / f"tiled_{precision}_heatmap.npy"), atol=1e-5)
    assert inspector.metadata["graph"] == "tiled"
    assert inspector.metadata["precision"] == precision


def test_a_format_1_patch_artifact_tiles_like_the_tiled_one() -> None:
    """The patch artifact holds the same network: the runtime's tiling reproduces the tiled graph."""
    strip = np.load(V1 / "strip.npy")
    patch = defectkit.Inspector(V1 / "patch_fp32.onnx").inspect(strip)
    np.testing.assert_allclose(patch.heatmap, np.load(V1 / "tiled_fp32_heatmap.npy"), atol=1e-4)
    if (int8 := _open("patch_int8.onnx")) is not None:
        assert int8.inspect(strip).heatmap.shape == strip.shape[1:]
