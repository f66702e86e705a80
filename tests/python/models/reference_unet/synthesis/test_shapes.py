"""Defect stamps: the seed tool's Gaussians exactly, the broad family's kinds, masks and placement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.synthesis import (
    BROAD_KINDS,
    Stamp,
    SynthesisConfig,
    add_stamp,
    broad_stamp,
    gaussian_profile,
    make_stamp,
    paint_mask,
    seed_stamp,
)

SEED = SynthesisConfig(family="seed")
BROAD = SynthesisConfig(family="broad", broad_weights=(1.0,) * 7)  # every kind, irregular and stain included


def test_gaussian_3x3_matches_hand_computed_values() -> None:
    edge = math.exp(-1 / (2 * 1.3**2))  # one pixel off centre: 0.7439
    corner = math.exp(-2 / (2 * 1.3**2))  # diagonal neighbour: 0.5534
    expected = np.array([[corner, edge, corner], [edge, 1.0, edge], [corner, edge, corner]])
    np.testing.assert_allclose(gaussian_profile(3, 3, 1.3, 1.3), expected, rtol=1e-12)


def test_gaussian_3x5_is_three_rows_by_five_columns() -> None:
    profile = gaussian_profile(3, 5, 1.0, 1.5)
    assert profile.shape == (3, 5)
    assert profile[1, 2] == 1.0
    assert profile[0, 2] == pytest.approx(math.exp(-1 / 2))  # one row off, sigma_y 1.0
    assert profile[1, 0] == pytest.approx(math.exp(-4 / (2 * 1.5**2)))  # two columns off, sigma_x 1.5
    assert profile[0, 0] == pytest.approx(math.exp(-1 / 2 - 4 / 4.5))


def test_gaussian_profile_refuses_even_windows() -> None:
    with pytest.raises(InvalidArgumentError):
        gaussian_profile(4, 3, 1.0, 1.0)


def test_seed_stamps_are_the_two_kernels_times_the_four_intensities() -> None:
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(200):
        stamp = seed_stamp(rng, SEED)
        h, w = stamp.values.shape
        sigma = (1.3, 1.3) if (h, w) == (3, 3) else (1.0, 1.5)
        assert (h, w) in {(3, 3), (3, 5)}
        assert stamp.anchor == (1, w // 2)
        intensity = float(stamp.values[1, w // 2])
        assert intensity in {-80.0, -60.0, 60.0, 80.0}
        expected = (gaussian_profile(h, w, *sigma) * intensity).astype(np.float32)
        np.testing.assert_array_equal(stamp.values, expected)
        assert stamp.mask.all()  # the smallest value, a 3x5 corner, is 0.249 of the peak: above 0.1
        seen.add(((h, w), intensity))
    assert len(seen) == 8


def test_mask_threshold_is_a_fraction_of_the_peak() -> None:
    # Corners of the 3x3 kernel are at 0.553 of the peak, edges at 0.744: a 0.6 threshold drops the corners.
    config = SynthesisConfig(family="seed", mask_threshold=0.6)
    rng = np.random.default_rng(1)
    stamp = next(s for s in (seed_stamp(rng, config) for _ in range(50)) if s.values.shape == (3, 3))
    assert stamp.mask.tolist() == [[False, True, False], [True, True, True], [False, True, False]]


def test_broad_stamps_cover_every_kind_with_both_signs_and_the_amplitude_range() -> None:
    rng = np.random.default_rng(2)
    stamps = [broad_stamp(rng, BROAD) for _ in range(300)]
    assert {s.kind for s in stamps} == set(BROAD_KINDS)
    peaks = np.array([s.values.flat[np.abs(s.values).argmax()] for s in stamps])
    assert (peaks > 0).any() and (peaks < 0).any()
    for stamp, peak in zip(stamps, np.abs(peaks), strict=True):
        low, high = BROAD.stain_amplitude if stamp.kind == "stain" else BROAD.amplitude
        assert low - 1e-3 <= peak <= high + 1e-3
    for stamp in stamps:
        magnitude = np.abs(stamp.values)
        relative = magnitude / magnitude.max()  # float32 values: allow rounding right at the threshold
        assert stamp.mask[relative >= 0.1 + 1e-5].all()
        assert not stamp.mask[relative < 0.1 - 1e-5].any()
        # Drawn in a local window: never patch-sized, but for a stain, which may span a patch.
        assert max(stamp.values.shape) <= (250 if stamp.kind == "stain" else 80)


@pytest.mark.parametrize("config", [SEED, BROAD], ids=["seed", "broad"])
def test_the_anchor_pixel_is_always_in_the_mask(config: SynthesisConfig) -> None:
    # A stamp anchored inside a patch must leave a trace there, however the border cuts it.
    rng = np.random.default_rng(6)
    for _ in range(1000):
        stamp = make_stamp(rng, config)
        assert stamp.mask[stamp.anchor]


def test_spot_masks_span_about_the_configured_diameter() -> None:
    config = SynthesisConfig(broad_weights=(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), spot_diameter_px=(6.0, 6.0))
    rng = np.random.default_rng(3)
    for _ in range(20):
        stamp = broad_stamp(rng, config)
        rows = np.flatnonzero(stamp.mask.any(axis=1))
        assert 5 <= rows[-1] - rows[0] + 1 <= 7


def test_scratches_are_anti_aliased() -> None:
    config = SynthesisConfig(broad_weights=(0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0))
    rng = np.random.default_rng(4)
    stamp = broad_stamp(rng, config)
    relative = np.abs(stamp.values) / np.abs(stamp.values).max()
    assert ((relative > 0.05) & (relative < 0.95)).any()  # partial coverage on the edges


def _split_rows_or_columns(mask: np.ndarray) -> bool:
    """Whether some row or column of ``mask`` holds two separate runs: a bay, a neck or an island."""

    def runs(m: np.ndarray) -> np.ndarray:
        return (np.diff(m.astype(int), axis=1) == 1).sum(axis=1) + m[:, 0]

    return bool((runs(mask) > 1).any() or (runs(mask.T) > 1).any())


def test_irregular_outlines_are_ragged_where_spots_are_not() -> None:
    # The point of the kind: outlines no ellipse or spot has. A convex shape never splits a row.
    def share_split(weights: tuple[float, ...]) -> float:
        rng = np.random.default_rng(7)
        config = SynthesisConfig(broad_weights=weights)
        return float(np.mean([_split_rows_or_columns(broad_stamp(rng, config).mask) for _ in range(200)]))

    assert share_split((1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)) == 0.0  # spots
    assert share_split((0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)) > 0.15  # irregular: 0.275 with this seed


def test_make_stamp_follows_the_family() -> None:
    rng = np.random.default_rng(5)
    assert make_stamp(rng, SEED).kind == "seed"
    assert make_stamp(rng, BROAD).kind in BROAD_KINDS


def test_add_stamp_clips_at_the_borders_and_not_the_values() -> None:
    values = np.full((3, 3), -50.0, dtype=np.float32)
    stamp = Stamp(values=values, mask=np.ones((3, 3), bool), anchor=(1, 1), kind="test")
    channel = np.zeros((5, 6), dtype=np.float32)
    add_stamp(channel, stamp, 0, 0)  # only the bottom-right 2x2 of the stamp lands
    assert (channel[:2, :2] == -50).all() and channel.sum() == -200
    add_stamp(channel, stamp, 10, 10)  # wholly outside: nothing happens
    assert channel.sum() == -200
    mask = np.zeros((5, 6), dtype=np.uint8)
    paint_mask(mask, stamp, 4, 5)
    assert mask.sum() == 4 and mask[3:, 4:].all()
