"""Training augmentations of the ``guided_classifier`` family, on an image and its mask together.

Each works on a float32 ``(S, S, 3)`` RGB image in [0, 1] and its float32 ``(S, S)`` mask
(1 on defect pixels). Geometric ones move both alike (the image resampled bilinearly, the
mask by nearest neighbour, the same reflected border), so the mask stays on the defect;
photometric ones change the image only.

- ``flip``: a horizontal mirror with probability 1/2, a vertical one with probability 1/2.
- ``rotate``: a random number of quarter turns, then a small rotation of up to
  :data:`MAX_ANGLE` degrees about the centre.
- ``scale``: a zoom by a factor from :data:`SCALE_RANGE`: zoomed in, a random crop of the
  enlarged image; zoomed out, the smaller image at a random place, the rest reflected.
- ``color``: contrast about the image's mean and brightness, each by a factor within
  ``1 +- COLOR_CHANGE``.
- ``noise``: gaussian noise of a standard deviation drawn up to :data:`NOISE_SIGMA`.
- ``blur``: a gaussian blur of a sigma drawn up to :data:`BLUR_SIGMA` pixels.

A spec names them joined by ``+`` (``"flip+rotate"``), or is ``"all"`` or ``"none"``; they
run in the order of :data:`AUGMENTATIONS` whatever the order named.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from defectkit.errors import InvalidArgumentError

__all__ = [
    "AUGMENTATIONS",
    "BLUR_SIGMA",
    "COLOR_CHANGE",
    "MAX_ANGLE",
    "NOISE_SIGMA",
    "SCALE_RANGE",
    "augment",
    "parse_augment",
]

AUGMENTATIONS = ("flip", "rotate", "scale", "color", "noise", "blur")  # the order they are applied in
MAX_ANGLE = 15.0  # degrees, either way, after the quarter turns
SCALE_RANGE = (0.8, 1.2)  # zoom factor
COLOR_CHANGE = 0.2  # contrast and brightness factors within 1 +- this
NOISE_SIGMA = 0.03  # largest noise standard deviation, on the [0, 1] scale
BLUR_SIGMA = 1.0  # largest blur sigma, pixels
_SMALLEST_BLUR = 0.1  # below this sigma a blur changes nothing worth the time

Pair = tuple[np.ndarray, np.ndarray]


def parse_augment(spec: str) -> tuple[str, ...]:
    """The augmentation names of a spec, in the order they are applied.

    Args:
        spec: ``"none"``, ``"all"``, or names of :data:`AUGMENTATIONS` joined by ``+``.

    Raises:
        InvalidArgumentError: An unknown or repeated name.
    """
    if spec == "none":
        return ()
    if spec == "all":
        return AUGMENTATIONS
    names = spec.split("+")
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown or len(set(names)) != len(names):
        msg = (
            f"augment must be 'none', 'all' or names from {', '.join(AUGMENTATIONS)} joined by '+', "
            f"got {spec!r}"
        )
        raise InvalidArgumentError(msg)
    return tuple(name for name in AUGMENTATIONS if name in names)


def _warp(image: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> Pair:
    """Both through one affine map, reflecting at the border so no blank corners appear."""
    size = (image.shape[1], image.shape[0])
    border = cv2.BORDER_REFLECT_101
    image = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=border)
    mask = cv2.warpAffine(mask, matrix, size, flags=cv2.INTER_NEAREST, borderMode=border)
    return image, mask


def flip(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
    """Mirrors left-right and up-down, each with probability 1/2."""
    horizontal, vertical = rng.random(2) < 0.5
    if horizontal:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if vertical:
        image, mask = image[::-1], mask[::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def rotate(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
    """Quarter turns (0-3), then a rotation by up to :data:`MAX_ANGLE` degrees about the centre."""
    turns = int(rng.integers(4))
    angle = float(rng.uniform(-MAX_ANGLE, MAX_ANGLE))
    image = np.ascontiguousarray(np.rot90(image, turns))
    mask = np.ascontiguousarray(np.rot90(mask, turns))
    height, width = mask.shape
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)  # pixel centres sit on integer coordinates
    return _warp(image, mask, cv2.getRotationMatrix2D(centre, angle, 1.0))


def scale(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
    """Zooms by a factor from :data:`SCALE_RANGE`, cropping or padding back to the same size.

    The map is ``x' = z x + t`` per axis with ``t`` uniform between 0 and ``S (1 - z)``: a
    random crop of the enlarged image (``z > 1``) or a random place for the smaller one.
    """
    zoom = float(rng.uniform(*SCALE_RANGE))
    height, width = mask.shape
    shift_x, shift_y = rng.random(2) * (1.0 - zoom) * np.array([width, height])
    matrix = np.array([[zoom, 0.0, shift_x], [0.0, zoom, shift_y]], dtype=np.float64)
    return _warp(image, mask, matrix)


def color(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
    """Contrast about the mean and brightness, each scaled within ``1 +- COLOR_CHANGE``."""
    contrast, brightness = 1.0 + rng.uniform(-COLOR_CHANGE, COLOR_CHANGE, size=2)
    mean = image.mean()
    image = ((image - mean) * np.float32(contrast) + mean) * np.float32(brightness)
    return np.clip(image, 0.0, 1.0, out=image), mask


def noise(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
    """Adds gaussian noise of a standard deviation drawn from ``[0, NOISE_SIGMA]``."""
    sigma = rng.uniform(0.0, NOISE_SIGMA)
    image = image + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0, out=image), mask


def blur(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> Pair:
    """A gaussian blur of a sigma drawn from ``[0, BLUR_SIGMA]`` pixels (the mask is kept)."""
    sigma = float(rng.uniform(0.0, BLUR_SIGMA))
    if sigma < _SMALLEST_BLUR:
        return image, mask
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101), mask


_APPLY: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator], Pair]] = {
    "flip": flip,
    "rotate": rotate,
    "scale": scale,
    "color": color,
    "noise": noise,
    "blur": blur,
}


def augment(image: np.ndarray, mask: np.ndarray, names: tuple[str, ...], rng: np.random.Generator) -> Pair:
    """Applies the named augmentations in order.

    Args:
        image: ``(S, S, 3)`` float32 in [0, 1] (any ``(H, W, 3)`` works).
        mask: ``(S, S)`` float32, 1 on defect pixels.
        names: From :func:`parse_augment`.
        rng: The item's random stream; the same stream gives the same result.

    Returns:
        ``(image, mask)`` of the same shapes and dtypes; the mask stays in {0, 1}.
    """
    for name in names:
        image, mask = _APPLY[name](image, mask, rng)
    return image, mask
