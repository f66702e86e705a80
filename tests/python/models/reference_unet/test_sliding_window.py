"""Sliding-window heatmaps: nearest-centre stitching places every pixel exactly; image scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet import ReferenceUNet, UNetConfig
from defectkit.models.reference_unet.sliding_window import (
    heatmaps_for,
    image_score,
    nearest_centre_index,
    sliding_window_heatmap,
    stitch_nearest_centre,
)


class ConstantModel(torch.nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the model a device

    def defect_probability(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1, *x.shape[2:]), self.value)


class TileIdModel(ConstantModel):
    """Fills each tile with its index in the order tiles are fed (row-major over positions)."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.seen = 0

    def defect_probability(self, x: torch.Tensor) -> torch.Tensor:
        ids = torch.arange(self.seen, self.seen + x.shape[0], dtype=torch.float32)
        self.seen += x.shape[0]
        return ids.view(-1, 1, 1, 1).expand(-1, 1, *x.shape[2:]).clone()


class TargetChannelModel(ConstantModel):
    def __init__(self) -> None:
        super().__init__(0.0)

    def defect_probability(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1].clone()


def test_nearest_centre_boundaries_by_hand() -> None:
    # 300 rows, p = 128 -> starts 0, 86, 172; centres 64, 150, 236.
    # Row 107 is 43 from both 64 and 150 (tie -> earlier tile); row 193 is 43 from 150 and 236.
    tile, offset = nearest_centre_index([0, 86, 172], 128, 300)
    assert tile[107] == 0 and tile[108] == 1
    assert tile[193] == 1 and tile[194] == 2
    assert np.array_equal(np.bincount(tile), [108, 86, 106])
    assert np.array_equal(np.array([0, 86, 172])[tile] + offset, np.arange(300))
    with pytest.raises(InvalidArgumentError, match="cover"):
        nearest_centre_index([0, 200], 128, 300)  # rows 128..199 in no tile


def test_constant_model_gives_constant_heatmap() -> None:
    heatmap = sliding_window_heatmap(ConstantModel(0.3), np.zeros((3, 976, 176), np.float32), batch_size=5)
    assert heatmap.shape == (976, 176)
    assert heatmap.dtype == np.float32
    assert np.all(heatmap == np.float32(0.3))


def test_tile_ids_follow_the_nearest_centre_rule() -> None:
    # H = 300 -> ys [0, 86, 172]; W = 200 -> xs [0, 72] (centres 64, 136: tie at column 100).
    heatmap = sliding_window_heatmap(TileIdModel(), np.zeros((3, 300, 200), np.float32), batch_size=4)
    rows = np.repeat([0, 1, 2], [108, 86, 106])  # 0..107, 108..193, 194..299
    cols = np.repeat([0, 1], [101, 99])  # 0..100, 101..199
    expected = rows[:, None] * 2 + cols[None, :]
    assert np.array_equal(heatmap, expected.astype(np.float32))


def test_target_channel_model_reproduces_the_target_exactly() -> None:
    rng = np.random.default_rng(0)
    strip = rng.random((3, 300, 200), dtype=np.float32)
    heatmap = sliding_window_heatmap(TargetChannelModel(), torch.from_numpy(strip), batch_size=3)
    assert np.array_equal(heatmap, strip[0])
    strip = rng.random((3, 976, 176), dtype=np.float32)
    assert np.array_equal(sliding_window_heatmap(TargetChannelModel(), strip), strip[0])


def test_stitch_accepts_torch_and_squeezed_tiles() -> None:
    tiles = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 1, 8, 8)
    out = stitch_nearest_centre(tiles, [0, 4], [0, 6], 12, 14)
    out_squeezed = stitch_nearest_centre(tiles[:, 0].numpy(), [0, 4], [0, 6], 12, 14)
    assert out.shape == (12, 14)
    assert np.array_equal(out, out_squeezed)
    with pytest.raises(InvalidArgumentError):
        stitch_nearest_centre(tiles[:3], [0, 4], [0, 6], 12, 14)


def test_real_model_on_a_default_strip() -> None:
    torch.manual_seed(0)
    model = ReferenceUNet(UNetConfig(width=4)).eval()
    strips = [np.random.default_rng(1).random((3, 976, 176), dtype=np.float32)] * 2
    heatmaps = heatmaps_for(model, strips, progress=False, batch_size=18)
    assert len(heatmaps) == 2
    assert heatmaps[0].shape == (976, 176)
    assert heatmaps[0].min() >= 0.0 and heatmaps[0].max() <= 1.0
    np.testing.assert_allclose(heatmaps[0], heatmaps[1], atol=1e-6)


def test_strip_smaller_than_a_patch_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="patch"):
        sliding_window_heatmap(ConstantModel(0.0), np.zeros((3, 100, 176), np.float32))


def test_image_score_box_filter() -> None:
    hot_pixel = np.zeros((100, 60), np.float32)
    hot_pixel[50, 30] = 1.0
    blob = np.zeros((100, 60), np.float32)
    blob[40:61, 20:41] = 1.0
    assert image_score(hot_pixel, box=21) == pytest.approx(1.0 / 441.0)
    assert image_score(hot_pixel) == pytest.approx(1.0 / 9.0)  # default box 3
    assert image_score(blob) == pytest.approx(1.0)
    assert image_score(blob, box=21) == pytest.approx(1.0)
    assert image_score(hot_pixel, box=1) == 1.0
    with pytest.raises(InvalidArgumentError):
        image_score(hot_pixel, box=20)


def test_image_score_zeros_border_matches_draem_avg_pool() -> None:
    heatmap = np.random.default_rng(2).random((64, 48), dtype=np.float32)
    heatmap[:5, :5] = 1.0  # a corner defect, where the border rule matters
    pooled = torch.nn.functional.avg_pool2d(torch.from_numpy(heatmap)[None, None], 21, stride=1, padding=10)
    assert image_score(heatmap, box=21, border="zeros") == pytest.approx(float(pooled.max()), rel=1e-5)
