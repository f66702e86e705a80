"""The exported graphs' torch modules: in-graph tiling, stitching, score, ROI and seed layout agree
with the Python evaluation path they replace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from defectkit.models.reference_unet import ReferenceUNet
from defectkit.models.reference_unet.export.graphs import GraphSpec, box_max_score, build_graph
from defectkit.models.reference_unet.sliding_window import image_score, sliding_window_heatmap

from .strip_fixture import TORCH_PARITY


@pytest.fixture(scope="module")
def network(fixture_data) -> ReferenceUNet:
    """The export tests' network (strip_fixture.py): its output varies across the image, so a stitching
    error shows."""
    from .strip_fixture import fixture_network

    return fixture_network(fixture_data)


def strip(height: int, width: int, channels: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(
        np.random.default_rng(seed).uniform(0, 255, (1, channels, height, width)).astype("f4")
    )


@pytest.mark.parametrize("size", [(200, 100), (192, 64), (976, 176)])
def test_tiled_graph_equals_the_python_sliding_window(network, size) -> None:
    spec = GraphSpec("tiled", size, patch=64, min_overlap=8)
    x = strip(*size)
    with torch.no_grad():
        heatmap, score = build_graph(network, spec)(x)
    expected = sliding_window_heatmap(network, x[0] / 255.0, patch=64)
    assert heatmap.shape == (1, 1, *size)
    # Other batches of tiles than the sliding window's: float rounding differs (strip_fixture.py).
    np.testing.assert_allclose(heatmap[0, 0].numpy(), expected, atol=TORCH_PARITY, rtol=0)
    assert score.item() == pytest.approx(image_score(expected), abs=TORCH_PARITY)


@pytest.mark.parametrize("box", [1, 3, 5])
def test_in_graph_score_matches_image_score_with_mirrored_border(box) -> None:
    rng = np.random.default_rng(box)
    heatmaps = rng.random((3, 1, 23, 17)).astype("f4")
    heatmaps[0, 0, 0, 0] = 5.0  # a corner peak: the border rule decides its smoothed value
    scores = box_max_score(torch.from_numpy(heatmaps), box).numpy()
    expected = [image_score(h[0], box=box) for h in heatmaps]
    np.testing.assert_allclose(scores, expected, rtol=1e-6)


def test_seed3ch_layout_is_heatmap_then_two_zero_channels(network) -> None:
    raw = GraphSpec("tiled", (192, 64), patch=64, min_overlap=8)
    seed = GraphSpec("tiled", (192, 64), patch=64, min_overlap=8, seed3ch=True)
    x = strip(192, 64)
    with torch.no_grad():
        heatmap, score = build_graph(network, raw)(x)
        three, seed_score = build_graph(network, seed)(x)
    by_hand = np.concatenate([heatmap.numpy(), np.zeros_like(heatmap), np.zeros_like(heatmap)], axis=1)
    np.testing.assert_array_equal(three.numpy(), by_hand)
    assert seed_score.item() == score.item()


def test_roi_channel_zeroes_the_heatmap_outside_it(network) -> None:
    spec = GraphSpec("full_frame", (192, 64), patch=64, min_overlap=8, roi=True)
    x = strip(192, 64, channels=4)
    x[:, 3] = 0.0
    x[:, 3, 50:90, 10:30] = 255.0
    with torch.no_grad():
        heatmap, _ = build_graph(network, spec)(x)
    outside = torch.ones(192, 64, dtype=torch.bool)
    outside[50:90, 10:30] = False
    assert torch.all(heatmap[0, 0][outside] == 0)
    assert torch.all(heatmap[0, 0][~outside] > 0)


def test_fourth_channel_is_ignored_without_roi(network) -> None:
    spec = GraphSpec("tiled", (192, 64), patch=64, min_overlap=8)
    x4 = strip(192, 64, channels=4)
    with torch.no_grad():
        with_roi_channel, _ = build_graph(network, spec)(x4)
        without, _ = build_graph(network, spec)(x4[:, :3])
    torch.testing.assert_close(with_roi_channel, without, rtol=0, atol=0)
