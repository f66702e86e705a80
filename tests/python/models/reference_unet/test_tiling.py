"""Patch positions: even spacing, flush ends, overlap, counts and the patch-size rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.data.tiling import (
    PATCH_SIZES,
    patch_grid,
    patch_size_for,
    positions_along,
)


def test_default_strip_height_gives_the_seed_tiling() -> None:
    positions = positions_along(976, 128)
    assert len(positions) == 9
    assert positions[0] == 0 and positions[-1] == 848
    assert set(np.diff(positions)) == {106}


def test_one_patch_long_gives_one_position() -> None:
    assert positions_along(128, 128) == [0]
    assert positions_along(128, 128, min_count=4) == [0]  # distinct positions only


def test_shorter_than_a_patch_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="smaller than one patch"):
        positions_along(100, 128)


@pytest.mark.parametrize("patch", [16, 128, 256])
def test_positions_cover_evenly_and_overlap(patch: int) -> None:
    for length in range(patch, 4 * patch + 37, 7):
        positions = positions_along(length, patch)
        assert positions[0] == 0 and positions[-1] == length - patch
        steps = np.diff(positions)
        assert (steps > 0).all()
        if len(steps):
            assert steps.max() - steps.min() <= 1
            assert patch - steps.max() >= patch // 8  # neighbours overlap by at least the default


def test_min_count_and_min_overlap() -> None:
    assert positions_along(976, 128, min_count=12) == [round(i * 848 / 11 + 1e-9) for i in range(12)]
    assert len(positions_along(976, 128, min_overlap=0)) == math.ceil(976 / 128)
    assert positions_along(176, 128) == [0, 48]
    with pytest.raises(InvalidArgumentError):
        positions_along(976, 128, min_overlap=128)


def test_patch_grid_is_row_major() -> None:
    grid = patch_grid(976, 176, 128)
    assert len(grid) == 9 * 2
    assert grid[:3] == [(0, 0), (0, 48), (106, 0)]
    assert grid[-1] == (848, 48)
    assert len(patch_grid(976, 176, 128, min_count=(1, 3))) == 9 * 3


def test_patch_size_rule() -> None:
    assert patch_size_for(976, 176) == PATCH_SIZES["strip"] == 128
    assert patch_size_for(176, 976) == 128
    assert patch_size_for(512, 256) == 128  # aspect exactly 2 is a strip
    assert patch_size_for(512, 512) == PATCH_SIZES["square"] == 256
    assert patch_size_for(500, 300) == 256
    assert patch_size_for(300, 176) == 128  # not a strip, but too narrow for 256
