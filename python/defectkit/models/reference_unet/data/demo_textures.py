"""Procedural surfaces and the three-capture camera model of the demo strip dataset.

A surface is a float32 ``(H, W)`` image on the 0..255 scale: a grid, stripes,
brushed or mottled noise, a gradient, or a mix of them. :func:`capture`
photographs it once: a sub-pixel shift (bilinear resampling), a gain and
sensor noise, quantised like a 12-bit sensor. A strip's target and its two
references are three captures of one surface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

try:
    import cv2
except ImportError as exc:  # an optional dependency: only the demo generator needs it
    msg = "the demo dataset generator needs OpenCV: pip install opencv-python-headless"
    raise ImportError(msg) from exc

__all__ = ["SURFACE_KINDS", "CaptureModel", "capture", "make_surface", "shift"]


@dataclass(frozen=True)
class CaptureModel:
    """How much the three captures of one surface differ."""

    max_shift_px: float = 0.25  # per capture and axis: two captures differ by up to 0.5 px
    gain_spread: float = 0.03  # each capture's gain is drawn from 1 +- 3 %
    noise_sigma: float = 1.2  # sensor noise (0..255 scale), before quantisation
    quantum: float = 1.0 / 16.0  # a 12-bit sensor mapped onto 0..255


def _coordinates(height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by a small random angle, so patterns are not axis-perfect."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(-0.05, 0.05)
    return yy * np.cos(angle) + xx * np.sin(angle), xx * np.cos(angle) - yy * np.sin(angle)


def _grid(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    yy, xx = _coordinates(height, width, rng)
    period_y, period_x = rng.uniform(8, 28, size=2)
    sharpness = rng.uniform(2, 8)  # higher: thinner, crisper grid lines
    lines_y = np.abs(np.cos(np.pi * yy / period_y)) ** sharpness
    lines_x = np.abs(np.cos(np.pi * xx / period_x)) ** sharpness
    return np.maximum(lines_y, lines_x) * 2 - 1


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    yy, xx = _coordinates(height, width, rng)
    direction = rng.uniform(0, np.pi)
    period = rng.uniform(5, 40)
    phase = rng.uniform(0, 2 * np.pi)
    return np.sin(2 * np.pi * (yy * np.cos(direction) + xx * np.sin(direction)) / period + phase)


def _noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    field = rng.normal(0, 1, (height, width)).astype(np.float32)
    if rng.random() < 0.5:  # brushed metal: long streaks along one axis
        length = int(rng.integers(8, 40)) * 2 + 1
        ksize = (1, length) if rng.random() < 0.5 else (length, 1)
        field = cv2.GaussianBlur(field, ksize, 0)
    else:  # mottled: isotropic grain
        field = cv2.GaussianBlur(field, (0, 0), rng.uniform(1.0, 4.0))
    return field / (field.std() + 1e-6) / 2.5


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (yy / height - 0.5) * np.cos(direction) + (xx / width - 0.5) * np.sin(direction)
    centre_y, centre_x = rng.uniform(0, height), rng.uniform(0, width)
    vignette = np.exp(-(((yy - centre_y) / height) ** 2 + ((xx - centre_x) / width) ** 2) * 2)
    return ramp * 1.5 + vignette - 0.5


_PATTERNS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "grid": _grid,
    "stripes": _stripes,
    "noise": _noise,
    "gradient": _gradient,
}
SURFACE_KINDS = (*_PATTERNS, "mix")


def make_surface(rng: np.random.Generator, height: int, width: int, kind: str | None = None) -> np.ndarray:
    """Draws a textured surface.

    Args:
        rng: Source of randomness.
        height: Rows.
        width: Columns.
        kind: One of :data:`SURFACE_KINDS`, or ``None`` to draw one.

    Returns:
        float32 ``(H, W)`` on the 0..255 scale, leaving head room for gain and defects.
    """
    kind = kind or str(rng.choice(SURFACE_KINDS))
    if kind == "mix":
        names = rng.choice(list(_PATTERNS), size=int(rng.integers(2, 4)), replace=False)
        weights = rng.dirichlet(np.ones(len(names)))
        pattern = sum(w * _PATTERNS[str(n)](rng, height, width) for w, n in zip(weights, names, strict=True))
    else:
        pattern = _PATTERNS[kind](rng, height, width)
    level = rng.uniform(70, 180)
    amplitude = rng.uniform(8, 35)
    fine_grain = cv2.GaussianBlur(rng.normal(0, 1.5, (height, width)).astype(np.float32), (0, 0), 0.7)
    return np.clip(level + amplitude * pattern + fine_grain, 5, 250).astype(np.float32)


def shift(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Moves ``image`` by a sub-pixel offset with bilinear interpolation (edges reflected)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    height, width = image.shape
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def capture(
    surface: np.ndarray,
    rng: np.random.Generator,
    model: CaptureModel,
    defect_delta: np.ndarray | None = None,
) -> np.ndarray:
    """Photographs ``surface`` once.

    Args:
        surface: float32 ``(H, W)``, 0..255.
        rng: Source of randomness (shift, gain, noise).
        model: Capture parameters.
        defect_delta: float32 ``(H, W)`` added after the shift: a defect seen by this capture only.

    Returns:
        float32 ``(H, W)``, clipped to 0..255 and quantised to ``model.quantum``.
    """
    dy, dx = rng.uniform(-model.max_shift_px, model.max_shift_px, size=2)
    image = shift(surface, float(dy), float(dx))
    if defect_delta is not None:
        image = image + defect_delta
    image = image * (1 + rng.uniform(-model.gain_spread, model.gain_spread))
    image = image + rng.normal(0, model.noise_sigma, image.shape)
    image = np.round(np.clip(image, 0, 255) / model.quantum) * model.quantum
    return image.astype(np.float32)
