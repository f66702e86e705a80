"""Augmentation of clean training patches: every transform moves the three captures together."""

from __future__ import annotations

import numpy as np
import pytest

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.data import augment


def _triple(seed: int, size: int = 8) -> np.ndarray:
    """A random surface captured three times, the references offset by +7 and -3 grey levels."""
    surface = np.random.default_rng(seed).uniform(40, 200, (size, size)).astype(np.float32)
    return np.stack([surface, surface + 7.0, surface - 3.0])


def _offsets_kept(out: np.ndarray, sign: float = 1.0) -> None:
    np.testing.assert_allclose(out[1] - out[0], np.full(out.shape[1:], 7.0 * sign), atol=1e-4)
    np.testing.assert_allclose(out[2] - out[0], np.full(out.shape[1:], -3.0 * sign), atol=1e-4)


def test_parse_augment() -> None:
    assert augment.parse_augment("none") == ()
    assert augment.parse_augment("mix+dihedral") == ("mix", "dihedral")
    for bad in ("flip", "mix+mix", "", "none+mix", "mix+"):
        with pytest.raises(InvalidArgumentError, match="augment"):
            augment.parse_augment(bad)


def test_jitter_corner_stays_within_half_a_patch_and_inside_the_image() -> None:
    rng = np.random.default_rng(0)
    corners = [augment.jitter_corner((106, 48), (976, 176), 128, rng) for _ in range(500)]
    ys, xs = np.array(corners).T
    assert ys.min() >= 106 - 64 and ys.max() <= 106 + 64 and len(set(ys)) > 100
    assert xs.min() >= 0 and xs.max() == 48  # clamped: the strip is 176 wide, so x ends at 48
    assert augment.jitter_corner((0, 0), (128, 128), 128, rng) == (0, 0)  # no room: no move


def test_change_levels_moves_all_captures_together_within_its_ranges() -> None:
    patch = _triple(5)
    for seed in range(50):
        out = augment.change_levels(patch, np.random.default_rng(seed))
        contrast = (out[1] - out[0]).mean() / 7.0  # the references' offsets scale with the contrast
        assert augment.LEVELS_CONTRAST[0] <= contrast <= augment.LEVELS_CONTRAST[1]
        np.testing.assert_allclose(out[2] - out[0], np.full(out.shape[1:], -3.0 * contrast), atol=1e-3)
        assert abs(out.mean() - patch.mean()) <= augment.LEVELS_OFFSET + 1e-3


def test_dihedral_transform_draws_all_eight_and_moves_captures_together() -> None:
    patch = _triple(0, 4)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        out = augment.dihedral_transform(patch, rng)
        _offsets_kept(out)
        assert sorted(out[0].ravel()) == sorted(patch[0].ravel())  # a permutation of the pixels
        seen.add(out[0].tobytes())
    assert len(seen) == 8


def test_mix_adds_the_other_texture_and_keeps_both_triples_differences() -> None:
    patch, other = _triple(1), _triple(2)
    out = augment.mix_surfaces(patch, other, np.random.default_rng(3))
    # The other triple's offsets (+7, -3) are added at strength s, on top of this one's.
    strength = (out[1] - out[0] - 7.0).mean() / 7.0
    assert augment.MIX_STRENGTH[0] <= strength <= augment.MIX_STRENGTH[1]
    texture = other[0] - other.mean()
    np.testing.assert_allclose(out[0], patch[0] + strength * texture, atol=1e-3)
    assert abs(out.mean() - patch.mean()) < 0.5 * strength * 7  # the level stays this patch's


def test_augment_patch_inverts_about_half_the_time_and_never_touches_its_input() -> None:
    patch = _triple(4)
    before = patch.copy()
    inverted = 0
    for seed in range(200):
        out = augment.augment_patch(patch, ("invert",), np.random.default_rng(seed), lambda rng: patch)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        if np.array_equal(out, 255.0 - patch):
            inverted += 1
            _offsets_kept(out, sign=-1.0)
        else:
            np.testing.assert_array_equal(out, patch)
    assert 70 < inverted < 130
    np.testing.assert_array_equal(patch, before)


def test_augment_patch_draws_the_mix_partner_from_the_patch_stream() -> None:
    patch, other = _triple(5), _triple(6)
    calls = []

    def partner(rng: np.random.Generator) -> np.ndarray:
        calls.append(rng)
        return other

    a = augment.augment_patch(patch, ("dihedral", "mix"), np.random.default_rng(7), partner)
    b = augment.augment_patch(patch, ("dihedral", "mix"), np.random.default_rng(7), partner)
    np.testing.assert_array_equal(a, b)
    assert len(calls) == 2
