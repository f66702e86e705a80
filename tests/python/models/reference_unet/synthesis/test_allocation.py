"""Allocation of stamps to channels, the ground truth, misregistration and determinism of synthesis."""

from __future__ import annotations

import numpy as np
import pytest

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.synthesis import (
    SynthesisConfig,
    add_stamp,
    allocate,
    paint_mask,
    shift_bilinear,
    synthesize,
    synthesize_detailed,
)

P = 128
FLAT = np.full((3, P, P), 128.0, dtype=np.float32)  # identical channels: every difference is synthesised


@pytest.mark.parametrize("family", ["seed", "broad"])
def test_mask_is_exactly_the_target_only_stamps(family: str) -> None:
    config = SynthesisConfig(family=family, p_defective=1.0, misregistration_px=0.0)
    rng = np.random.default_rng(0)
    for _ in range(40):
        result = synthesize_detailed(FLAT, rng, config)
        targets = [p for p in result.placements if p.in_mask]
        references = [p for p in result.placements if not p.in_mask]
        assert 1 <= len(targets) <= 2
        assert all(p.channels == (0,) for p in targets)
        assert 3 <= len(result.placements) <= 8
        expected = np.zeros((P, P), np.uint8)
        for placement in targets:
            paint_mask(expected, placement.stamp, placement.y, placement.x)
        np.testing.assert_array_equal(result.mask, expected)
        assert result.mask.any()
        # Reference stamps leave no trace in the mask, and ref1 and ref2 always differ.
        for placement in references:
            footprint = np.zeros((P, P), np.uint8)
            paint_mask(footprint, placement.stamp, placement.y, placement.x)
            assert not (footprint & result.mask).any()
        assert not np.array_equal(result.patch[1], result.patch[2])
        assert np.array_equal(result.patch[0] != 128.0, result.patch[0] != FLAT[0])
        # The distractor mask: every reference stamp's footprint, off the defects.
        distractors = result.distractor_mask()
        expected_distractors = np.zeros((P, P), np.uint8)
        for placement in references:
            paint_mask(expected_distractors, placement.stamp, placement.y, placement.x)
        expected_distractors[result.mask.astype(bool)] = 0
        np.testing.assert_array_equal(distractors, expected_distractors)
        assert distractors.any() and not (distractors & result.mask).any()


def test_mirrored_stamps_repeat_each_target_stamp_in_both_references() -> None:
    config = SynthesisConfig(p_defective=1.0, misregistration_px=0.0, p_mirror=1.0)
    rng = np.random.default_rng(4)
    for _ in range(30):
        result = synthesize_detailed(FLAT, rng, config)
        targets = [p for p in result.placements if p.in_mask]
        both_refs = [p.stamp for p in result.placements if p.channels == (1, 2)]
        # Every target stamp has a twin in both references, outside the mask.
        assert all(any(t.stamp is s for s in both_refs) for t in targets)
    without = synthesize_detailed(FLAT, np.random.default_rng(4), SynthesisConfig(p_defective=1.0))
    again = synthesize_detailed(
        FLAT, np.random.default_rng(4), SynthesisConfig(p_defective=1.0, p_mirror=0.0)
    )
    np.testing.assert_array_equal(without.patch, again.patch)


def test_opposite_mirrors_are_the_negated_stamp_in_the_same_places() -> None:
    """An opposite mirror differs from the target as the target stamp does: the twin a model
    can only tell apart by the target's own look (a good strip with an anomaly in both references)."""
    same = SynthesisConfig(p_defective=1.0, misregistration_px=0.0, p_mirror=1.0)
    opposite = SynthesisConfig(p_defective=1.0, misregistration_px=0.0, p_mirror=1.0, mirror_sign="opposite")
    for seed in range(20):
        a = synthesize_detailed(FLAT, np.random.default_rng(seed), same).placements
        b = synthesize_detailed(FLAT, np.random.default_rng(seed), opposite).placements
        assert [(p.y, p.x, p.channels) for p in a] == [(p.y, p.x, p.channels) for p in b]
        targets = [p.stamp for p in b if p.in_mask]
        mirrors = [p.stamp for p in b[len(b) - len(targets) :]]  # mirrors are placed last
        for target, mirror in zip(targets, mirrors, strict=True):
            np.testing.assert_array_equal(mirror.values, -target.values)
            np.testing.assert_array_equal(mirror.mask, target.mask)
    with pytest.raises(InvalidArgumentError, match="mirror_sign"):
        SynthesisConfig(mirror_sign="flipped")


def test_reference_only_patches_have_an_empty_mask_and_a_clean_target() -> None:
    config = SynthesisConfig(
        p_defective=0.0, p_reference_only=1.0, misregistration_px=0.0, p_all_captures=0.0
    )
    rng = np.random.default_rng(2)
    both_refs_alone = 0
    for _ in range(40):
        result = synthesize_detailed(FLAT, rng, config)
        assert result.placements, "a reference-only patch got no stamps"
        assert not result.mask.any()
        assert all(0 not in p.channels for p in result.placements)
        np.testing.assert_array_equal(result.patch[0], FLAT[0])
        both_refs_alone += any(p.channels == (1, 2) for p in result.placements)
    assert both_refs_alone, "never an anomaly in both references beside a clean target"
    # With the default 0 the random stream, hence every clean patch, is what it always was.
    plain = synthesize_detailed(FLAT, np.random.default_rng(5), SynthesisConfig(p_defective=0.0))
    assert not plain.placements


@pytest.mark.parametrize("p_reference_only", [0.0, 0.5])
def test_reference_only_patches_follow_their_probability(p_reference_only: float) -> None:
    config = SynthesisConfig(p_defective=0.5, p_reference_only=p_reference_only)
    rng = np.random.default_rng(3)
    results = [synthesize_detailed(FLAT, rng, config) for _ in range(400)]
    clean = [r for r in results if not r.mask.any()]
    share = np.mean([bool(r.placements) for r in clean])
    assert abs(share - p_reference_only) < 0.1


def test_reference_stamps_only_touch_their_reference() -> None:
    config = SynthesisConfig(family="seed", p_defective=1.0, misregistration_px=0.0)
    rng = np.random.default_rng(1)
    for _ in range(30):
        result = synthesize_detailed(FLAT, rng, config)
        for channel in range(3):
            expected = FLAT[channel].copy()
            for p in result.placements:
                if channel in p.channels:
                    h, w = p.stamp.values.shape
                    top, left = p.y - p.stamp.anchor[0], p.x - p.stamp.anchor[1]
                    ys, xs = np.mgrid[top : top + h, left : left + w]
                    inside = (ys >= 0) & (ys < P) & (xs >= 0) & (xs < P)
                    np.add.at(expected, (ys[inside], xs[inside]), p.stamp.values[inside])
            np.testing.assert_allclose(result.patch[channel], expected, atol=1e-4)


def test_allocation_counts_and_ref_split_proportions() -> None:
    config = SynthesisConfig()
    rng = np.random.default_rng(2)
    totals = np.zeros(3)
    for _ in range(3000):
        a = allocate(rng, config)
        assert 1 <= a.target_only <= 2
        assert 3 <= a.total <= 8
        assert a.ref1_only + a.ref2_only >= 1
        totals += (a.ref1_only, a.ref2_only, a.both_refs)
    shares = totals / totals.sum()
    # The default split, nudged by the "refs differ" rule.
    np.testing.assert_allclose(shares, config.ref_split, atol=0.05)


def test_allocation_moves_one_stamp_to_a_single_reference() -> None:
    rng = np.random.default_rng(3)
    all_both = SynthesisConfig(ref_split=(0.0, 0.0, 1.0))
    for _ in range(200):
        a = allocate(rng, all_both)
        assert a.ref1_only + a.ref2_only == 1 and a.total <= 8
    nothing_left = SynthesisConfig(n_defects=(1, 1), target_only=(1, 1))
    a = allocate(rng, nothing_left)
    assert (a.target_only, a.ref1_only + a.ref2_only, a.both_refs) == (1, 1, 0)


@pytest.mark.parametrize("p_defective", [0.5, 0.2])
def test_fraction_of_defective_patches_follows_p_defective(p_defective: float) -> None:
    config = SynthesisConfig(family="seed", p_defective=p_defective, misregistration_px=0.0)
    patch = np.zeros((3, 16, 16), np.float32)
    rng = np.random.default_rng(4)
    defective = [bool(synthesize_detailed(patch, rng, config).placements) for _ in range(2000)]
    assert np.mean(defective) == pytest.approx(p_defective, abs=0.04)


def test_clean_patches_are_untouched_without_misregistration() -> None:
    config = SynthesisConfig(p_defective=0.0, misregistration_px=0.0)
    patch = np.random.default_rng(5).uniform(0, 255, (3, 32, 32)).astype(np.float32)
    out, mask = synthesize(patch, np.random.default_rng(6), config)
    np.testing.assert_array_equal(out, patch)
    assert mask.dtype == np.uint8 and not mask.any()


def test_misregistration_shifts_only_the_references_and_keeps_their_stamps_sharp() -> None:
    config = SynthesisConfig(family="seed", p_defective=1.0, misregistration_px=0.5)
    patch = np.random.default_rng(7).uniform(0, 255, (3, 64, 64)).astype(np.float32)
    result = synthesize_detailed(patch, np.random.default_rng(8), config)
    assert np.abs(result.shifts).max() <= 0.5 and np.abs(result.shifts).min() > 0
    assert not np.allclose(result.patch[1], patch[1], atol=1.0)  # the reference moved
    for ref, shift in ((1, result.shifts[0]), (2, result.shifts[1])):
        stamped = result.patch[ref] - shift_bilinear(patch[ref], *shift)
        expected = np.zeros((64, 64), np.float32)
        for p in result.placements:
            if ref in p.channels:
                add_stamp(expected, p.stamp, p.y, p.x)
        np.testing.assert_allclose(stamped, expected, atol=1e-3)  # stamps added after the shift, unblurred


def test_shift_bilinear_matches_opencv_reflect() -> None:
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(9).uniform(0, 255, (20, 24)).astype(np.float32)
    for dy, dx in ((0.3, -0.45), (-0.5, 0.5), (1.25, -2.75)):
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        expected = cv2.warpAffine(
            image, matrix, (24, 20), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        np.testing.assert_allclose(shift_bilinear(image, dy, dx), expected, atol=0.05)
    np.testing.assert_array_equal(shift_bilinear(image, 0.0, 0.0), image)


@pytest.mark.parametrize("family", ["seed", "broad"])
def test_same_rng_state_same_patch_and_different_seeds_differ(family: str) -> None:
    config = SynthesisConfig(family=family, p_defective=1.0)
    patch = np.random.default_rng(10).uniform(0, 255, (3, P, P)).astype(np.float32)
    a = synthesize(patch, np.random.default_rng([1, 2, 3]), config)
    b = synthesize(patch, np.random.default_rng([1, 2, 3]), config)
    c = synthesize(patch, np.random.default_rng([1, 2, 4]), config)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_refuses_bad_patches_and_configs() -> None:
    with pytest.raises(InvalidArgumentError, match=r"\(3, H, W\)"):
        synthesize(np.zeros((4, 8, 8), np.float32), np.random.default_rng(0), SynthesisConfig())
    for bad in (
        {"family": "fancy"},
        {"n_defects": (0, 3)},
        {"target_only": (4, 5)},
        {"p_defective": 1.5},
        {"ref_split": (0.5, 0.5, 0.5)},
        {"misregistration_px": -1.0},
        {"mask_threshold": 0.0},
        {"p_reference_only": -0.1},
        {"broad_weights": (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)},  # one weight per kind, seven kinds
        {"irregular_diameter_px": (30.0, 10.0)},
        {"irregular_roughness": 1.0},
    ):
        with pytest.raises(InvalidArgumentError, match="SynthesisConfig"):
            SynthesisConfig(**bad)
