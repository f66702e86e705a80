"""Procedural defects of the demo strip dataset, with their ground-truth masks.

The kinds are chosen to be unlike the Gaussian spots a simple training-time
synthesiser makes: thin scratches of one to three segments, irregular blobs,
ring-shaped pits, faint large smudges and clusters of small spots. Each is a
signed intensity change (``delta``) to add to one or more captures, and the
pixels a labeller would mark (``mask``).
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

__all__ = ["DEFECT_KINDS", "Defect", "paint_defect"]


@dataclass(frozen=True)
class Defect:
    """A defect: ``delta`` float32 ``(H, W)`` (0..255 scale) and ``mask`` bool ``(H, W)``."""

    kind: str
    delta: np.ndarray
    mask: np.ndarray


def _sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


def _window(
    height: int, width: int, centre: tuple[float, float], radius: float
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """The image window around ``centre`` and its coordinates relative to the centre."""
    cy, cx = centre
    top, bottom = max(int(cy - radius), 0), min(int(cy + radius) + 2, height)
    left, right = max(int(cx - radius), 0), min(int(cx + radius) + 2, width)
    yy, xx = np.mgrid[top:bottom, left:right].astype(np.float32)
    return (slice(top, bottom), slice(left, right)), yy - cy, xx - cx


def _centre(rng: np.random.Generator, height: int, width: int, margin: float) -> tuple[float, float]:
    margin_y, margin_x = min(margin, height / 2 - 1), min(margin, width / 2 - 1)
    return rng.uniform(margin_y, height - margin_y), rng.uniform(margin_x, width - margin_x)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    field = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), max(sigma, 0.5))
    return field / (field.std() + 1e-6)


def _scratch(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A thin polyline of 1-3 segments, mostly along the strip, 30-260 px long."""
    segments = int(rng.integers(1, 4))
    length = rng.uniform(30, 260)
    heading = rng.uniform(-np.pi / 3, np.pi / 3) + (np.pi / 2 if rng.random() < 0.7 else 0.0)
    points = [np.array(_centre(rng, height, width, 10.0))]
    for _ in range(segments):
        heading += rng.uniform(-0.4, 0.4)
        step = length / segments * np.array([np.sin(heading), np.cos(heading)])
        points.append(np.clip(points[-1] + step, 2, [height - 3, width - 3]))
    canvas = np.zeros((height, width), np.uint8)
    polyline = np.round(np.array(points)[:, ::-1] * 16).astype(np.int32)  # (x, y), 4 fractional bits
    cv2.polylines(canvas, [polyline], False, 255, int(rng.integers(1, 4)), cv2.LINE_AA, shift=4)
    alpha = canvas.astype(np.float32) / 255
    return alpha * _sign(rng) * rng.uniform(30, 70), alpha >= 0.5


def _blob(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """An irregular patch, 12-60 px across, with a ragged outline and uneven shading."""
    radius = rng.uniform(6, 30)
    window, dy, dx = _window(height, width, _centre(rng, height, width, radius + 2), radius * 1.6)
    angle = rng.uniform(0, np.pi)
    ry, rx = radius * rng.uniform(0.5, 1.0), radius * rng.uniform(0.5, 1.0)
    u, v = dy * np.cos(angle) + dx * np.sin(angle), dx * np.cos(angle) - dy * np.sin(angle)
    distance = np.sqrt((u / ry) ** 2 + (v / rx) ** 2)
    ragged = distance + 0.25 * np.clip(_smooth_noise(rng, dy.shape, radius / 4), -2.5, 2.5)
    alpha = cv2.GaussianBlur((ragged < 1).astype(np.float32), (0, 0), 1.0)
    shading = 1 + 0.2 * _smooth_noise(rng, dy.shape, radius / 3)
    delta, mask = np.zeros((height, width), np.float32), np.zeros((height, width), bool)
    delta[window] = alpha * shading * _sign(rng) * rng.uniform(25, 60)
    mask[window] = alpha >= 0.5
    return delta, mask


def _pit(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A ring-shaped pit: a sharp rim 3-12 px in radius around a softer, opposite floor."""
    radius, rim = rng.uniform(3, 12), rng.uniform(1.0, 2.5)
    window, dy, dx = _window(height, width, _centre(rng, height, width, radius + 4), radius + 3 * rim)
    r = np.sqrt(dy**2 + (dx * rng.uniform(0.8, 1.25)) ** 2)
    ring = np.exp(-(((r - radius) / rim) ** 2))
    floor = 1 / (1 + np.exp((r - radius) * 2))  # a soft disc inside the rim
    contrast = _sign(rng) * rng.uniform(35, 70)
    delta, mask = np.zeros((height, width), np.float32), np.zeros((height, width), bool)
    delta[window] = contrast * (ring - 0.4 * floor)
    mask[window] = r <= radius + rim
    return delta, mask


def _smudge(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A faint, large, cloudy stain 50-140 px across, only 12-20 grey levels deep."""
    radius = rng.uniform(25, 70)
    window, dy, dx = _window(height, width, _centre(rng, height, width, radius / 2), radius * 1.5)
    ry, rx = radius, radius * rng.uniform(0.4, 1.0)
    envelope = np.exp(-((dy / ry) ** 2 + (dx / rx) ** 2) * 1.5)
    alpha = np.clip(envelope * (1 + 0.3 * _smooth_noise(rng, dy.shape, radius / 5)), 0, 1)
    delta, mask = np.zeros((height, width), np.float32), np.zeros((height, width), bool)
    delta[window] = alpha * _sign(rng) * rng.uniform(12, 20)
    mask[window] = alpha >= 0.5
    return delta, mask


def _cluster(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """3-8 small spots (1.5-4 px) scattered over a 25-70 px region, all dark or all bright."""
    spread = rng.uniform(12, 35)
    centre = _centre(rng, height, width, spread + 5)
    window, dy, dx = _window(height, width, centre, spread + 8)
    alpha = np.zeros(dy.shape, np.float32)
    for _ in range(int(rng.integers(3, 9))):
        oy, ox = rng.uniform(-spread, spread, size=2)
        size = rng.uniform(1.5, 4.0)
        alpha = np.maximum(alpha, np.exp(-(((dy - oy) ** 2 + (dx - ox) ** 2) / size**2)))
    delta, mask = np.zeros((height, width), np.float32), np.zeros((height, width), bool)
    delta[window] = alpha * _sign(rng) * rng.uniform(30, 60)
    mask[window] = alpha >= 0.5
    return delta, mask


_PAINTERS: dict[str, Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]] = {
    "scratch": _scratch,
    "blob": _blob,
    "pit": _pit,
    "smudge": _smudge,
    "cluster": _cluster,
}
DEFECT_KINDS = tuple(_PAINTERS)


def paint_defect(kind: str, rng: np.random.Generator, height: int, width: int) -> Defect:
    """Draws one defect of ``kind`` (one of :data:`DEFECT_KINDS`) on an ``(H, W)`` strip.

    Returns:
        The defect; its mask is never empty (an unlucky empty draw is drawn again).
    """
    while True:
        delta, mask = _PAINTERS[kind](rng, height, width)
        if mask.any():
            return Defect(kind, delta.astype(np.float32), mask)
