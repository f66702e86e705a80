"""A newer runtime still reads artifacts written before: format-1 files from an earlier export."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import defectkit

V1 = pathlib.Path(__file__).resolve().parents[2] / "data" / "artifacts_v1"


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_format_1_tiled_artifact_inspects_as_it_did(precision) -> None:
    strip = np.load(V1 / "strip.npy")
    inspector = defectkit.Inspector(V1 / f"tiled_{precision}.onnx")
    inspection = inspector.inspect(strip)
    np.testing.assert_allclose(inspection.heatmap, np.load(V1 / f"tiled_{precision}_heatmap.npy"), atol=1e-5)
    assert inspector.metadata["graph"] == "tiled"
    assert inspector.metadata["precision"] == precision


def test_a_format_1_patch_artifact_tiles_like_the_tiled_one() -> None:
    """The patch artifact holds the same network: the runtime's tiling reproduces the tiled graph."""
    strip = np.load(V1 / "strip.npy")
    patch = defectkit.Inspector(V1 / "patch_fp32.onnx").inspect(strip)
    np.testing.assert_allclose(patch.heatmap, np.load(V1 / "tiled_fp32_heatmap.npy"), atol=1e-4)
    assert defectkit.Inspector(V1 / "patch_int8.onnx").inspect(strip).heatmap.shape == strip.shape[1:]
