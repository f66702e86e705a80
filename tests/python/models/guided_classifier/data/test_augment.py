"""Augmentations: strict specs; geometric ones keep the mask on the defect, photometric ones leave it."""

from __future__ import annotations

import numpy as np
import pytest

from defectkit.errors import InvalidArgumentError
from defectkit.models.guided_classifier.data.augment import AUGMENTATIONS, augment, parse_augment

SIZE = 64


def _square_scene(top: int = 10, left: int = 30, side: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """A dark textured image with one bright square, and the square's mask."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0.0, 0.2, (SIZE, SIZE, 3)).astype(np.float32)
    mask = np.zeros((SIZE, SIZE), np.float32)
    image[top : top + side, left : left + side] = 0.95
    mask[top : top + side, left : left + side] = 1.0
    return image, mask


def _overlap(image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(share of mask pixels that are bright, share of bright pixels under the mask)."""
    bright = image.mean(axis=2) > 0.5
    under = mask > 0.5
    return float((bright & under).sum() / under.sum()), float((bright & under).sum() / bright.sum())


def test_parse_augment_accepts_none_all_and_named_sets_in_a_fixed_order() -> None:
    assert parse_augment("none") == ()
    assert parse_augment("all") == AUGMENTATIONS
    assert parse_augment("blur+flip") == ("flip", "blur")
    assert parse_augment("scale+rotate+color+noise") == ("rotate", "scale", "color", "noise")


@pytest.mark.parametrize("spec", ["", "flip+", "mirror", "flip+flip", "all+flip", "Flip", "none+flip"])
def test_parse_augment_refuses_unknown_or_repeated_names(spec: str) -> None:
    with pytest.raises(
        InvalidArgumentError, match="augment must be 'none', 'all' or names from flip, rotate"
    ):
        parse_augment(spec)


@pytest.mark.parametrize("spec", ["flip", "rotate", "scale", "flip+rotate+scale", "all"])
def test_a_known_square_stays_under_the_mask(spec: str) -> None:
    names = parse_augment(spec)
    image, mask = _square_scene()
    moved = 0
    for seed in range(25):
        out_image, out_mask = augment(image.copy(), mask.copy(), names, np.random.default_rng(seed))
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        assert out_mask.shape == mask.shape and out_mask.dtype == np.float32
        assert set(np.unique(out_mask)) <= {0.0, 1.0}
        covered, inside = _overlap(out_image, out_mask)
        assert covered > 0.85 and inside > 0.85, (seed, covered, inside)
        moved += not np.array_equal(out_mask, mask)
    assert moved >= 15  # the transforms did move the square (flip leaves it with probability 1/4)


def test_the_overlap_check_sees_a_mask_four_pixels_off() -> None:
    image, mask = _square_scene()
    assert min(_overlap(image, np.roll(mask, 4, axis=1))) < 0.75
    assert min(_overlap(image[:, ::-1], mask)) < 0.5  # flipped image, mask left as it was


def test_scale_zooms_within_its_range() -> None:
    image, mask = _square_scene(top=25, left=25, side=14)
    areas = []
    for seed in range(40):
        _, out_mask = augment(image, mask, ("scale",), np.random.default_rng(seed))
        areas.append(out_mask.sum() / mask.sum())
    assert 0.8**2 - 0.1 < min(areas) < 0.8 and 1.2 < max(areas) < 1.2**2 + 0.1


@pytest.mark.parametrize("spec", ["color", "noise", "blur", "color+noise+blur"])
def test_photometric_augmentations_change_the_image_only(spec: str) -> None:
    image, mask = _square_scene()
    changed = 0
    for seed in range(10):
        out_image, out_mask = augment(
            image.copy(), mask.copy(), parse_augment(spec), np.random.default_rng(seed)
        )
        np.testing.assert_array_equal(out_mask, mask)
        assert out_image.dtype == np.float32 and out_image.min() >= 0.0 and out_image.max() <= 1.0
        changed += not np.allclose(out_image, image)
    assert changed >= 9


def test_the_same_stream_gives_the_same_result() -> None:
    image, mask = _square_scene()
    first = augment(image.copy(), mask.copy(), AUGMENTATIONS, np.random.default_rng([3, 1, 4]))
    again = augment(image.copy(), mask.copy(), AUGMENTATIONS, np.random.default_rng([3, 1, 4]))
    other = augment(image.copy(), mask.copy(), AUGMENTATIONS, np.random.default_rng([3, 1, 5]))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
