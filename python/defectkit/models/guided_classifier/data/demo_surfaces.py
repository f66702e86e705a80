"""Textured inspection images and small defects for the ``guided_classifier`` demo dataset.

A surface is a float32 ``(S, S)`` image on the 0..255 scale: a level, one or two textures
(grain, woven threads, stripes), an illumination gradient, an optional broad, faint blotch
(harmless variation that normal and defect images alike carry, so it is no cue), and sensor
noise. A defect is one small mark, 8-24 px across, 40-90 grey levels darker or
brighter: a blob, a spot, a scratch or a crack-like polyline. Being small against the image,
a defect is a few patches among hundreds: pooling every patch dilutes it, pooling under the
predicted mask does not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

try:
    import cv2
except ImportError as exc:  # an optional dependency: the training extra brings it
    msg = "the guided_classifier demo generator needs OpenCV: pip install 'defectkit[train]'"
    raise ImportError(msg) from exc

__all__ = [
    "DEFECT_CONTRAST",
    "DEFECT_KINDS",
    "DEFECT_SIZE",
    "LINE_WIDTH",
    "TEXTURE_KINDS",
    "make_surface",
    "paint_defect",
]

# Sized so the demo's small ViT, trained from random weights for minutes, can learn them: with
# 4-20 px and 15-60 grey levels neither it nor a CNN of the same budget learned anything in 20
# epochs (docs/experiments/guided_classifier.md, experiments/guided_classifier/learning_probe.py).
DEFECT_SIZE = (8, 24)  # px, the defect's extent (longest side)
DEFECT_CONTRAST = (40.0, 90.0)  # grey levels, darker or brighter
LINE_WIDTH = (2, 4)  # px, of scratches and cracks, [low, high): 1 px lines fall below the mask's grid
BLOTCH_PROBABILITY = 0.5  # of a broad faint blotch on any image: variation that is no defect


def _rotated_grid(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates turned by a small random angle (textures are never axis-perfect)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(-0.08, 0.08)
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return rows * cos - cols * sin, rows * sin + cols * cos


def _grain(rng: np.random.Generator, size: int) -> np.ndarray:
    """Isotropic grain: white noise blurred to a random correlation length."""
    field = cv2.GaussianBlur(rng.standard_normal((size, size), np.float32), (0, 0), rng.uniform(0.7, 2.5))
    return field / (field.std() + 1e-6)


def _weave(rng: np.random.Generator, size: int) -> np.ndarray:
    """Woven threads: cells alternate between horizontal and vertical threads, like a basket weave."""
    rows, cols = _rotated_grid(rng, size)
    cell = rng.uniform(5.0, 14.0)
    threads = rng.integers(2, 4)  # threads per cell
    checker = (np.floor(rows / cell) + np.floor(cols / cell)) % 2
    along_rows = np.sin(2 * np.pi * threads * rows / cell)
    along_cols = np.sin(2 * np.pi * threads * cols / cell)
    return np.where(checker > 0, along_rows, along_cols).astype(np.float32)


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Parallel stripes in any direction, from soft (a sine) to crisp (a saturated one)."""
    rows, cols = _rotated_grid(rng, size)
    direction = rng.uniform(0, np.pi)
    phase = (rows * np.cos(direction) + cols * np.sin(direction)) * (2 * np.pi / rng.uniform(4.0, 24.0))
    crispness = rng.uniform(0.5, 4.0)
    return (np.tanh(crispness * np.sin(phase)) / np.tanh(crispness)).astype(np.float32)


_TEXTURES: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "grain": _grain,
    "weave": _weave,
    "stripes": _stripes,
}
TEXTURE_KINDS = tuple(_TEXTURES)


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """Uneven lighting: a linear ramp from -1 to 1 across the image in a random direction."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    direction = rng.uniform(0, 2 * np.pi)
    return (rows * np.cos(direction) + cols * np.sin(direction)) * np.float32(2 / np.sqrt(2))


def _blotch(rng: np.random.Generator, size: int) -> np.ndarray:
    """A broad, faint stain (sigma a tenth to a quarter of the image): harmless variation."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = rng.uniform(0, size, 2)
    sigma = rng.uniform(0.1, 0.25) * size
    return np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma**2)).astype(np.float32)


def make_surface(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[str]]:
    """Draws a defect-free surface.

    Args:
        rng: Source of randomness.
        size: Side ``S`` in pixels.

    Returns:
        ``(surface, textures)``: float32 ``(S, S)`` on the 0..255 scale, kept within 20..235
        so a defect has room either way, and the names of the textures in it.
    """
    names = [str(n) for n in rng.choice(TEXTURE_KINDS, size=int(rng.integers(1, 3)), replace=False)]
    surface = np.full((size, size), rng.uniform(70, 180), np.float32)
    for name in names:
        surface += np.float32(rng.uniform(5.0, 16.0)) * _TEXTURES[name](rng, size)
    surface += np.float32(rng.uniform(0, 25)) * _gradient(rng, size)
    if rng.random() < BLOTCH_PROBABILITY:
        surface += np.float32(rng.choice([-1, 1]) * rng.uniform(4, 12)) * _blotch(rng, size)
    surface += rng.normal(0, rng.uniform(1.0, 3.0), (size, size)).astype(np.float32)
    return np.clip(surface, 20, 235), names


def _blob(rng: np.random.Generator, canvas: np.ndarray, centre: np.ndarray, extent: float) -> None:
    axes = (max(int(extent / 2), 2), max(int(extent / 2 * rng.uniform(0.4, 1.0)), 1))
    cv2.ellipse(canvas, tuple(int(c) for c in centre), axes, rng.uniform(0, 180), 0, 360, 1, -1)


def _spot(rng: np.random.Generator, canvas: np.ndarray, centre: np.ndarray, extent: float) -> None:
    radius = max(round(min(extent, 8) / 2), 2)  # spots stay small: 4-8 px across
    cv2.circle(canvas, tuple(int(c) for c in centre), radius, 1, -1)


def _scratch(rng: np.random.Generator, canvas: np.ndarray, centre: np.ndarray, extent: float) -> None:
    angle = rng.uniform(0, np.pi)
    half = extent / 2 * np.array([np.cos(angle), np.sin(angle)])
    start, end = (centre - half).round().astype(int), (centre + half).round().astype(int)
    cv2.line(
        canvas, tuple(int(v) for v in start), tuple(int(v) for v in end), 1, int(rng.integers(*LINE_WIDTH))
    )


def _crack(rng: np.random.Generator, canvas: np.ndarray, centre: np.ndarray, extent: float) -> None:
    """A polyline of 3-5 vertices: a walk whose heading turns by up to 60 degrees a step."""
    vertices = int(rng.integers(3, 6))
    step = extent / (vertices - 1)
    heading = rng.uniform(0, 2 * np.pi)
    points = [np.zeros(2)]
    for _ in range(vertices - 1):
        heading += rng.uniform(-np.pi / 3, np.pi / 3)
        points.append(points[-1] + step * np.array([np.cos(heading), np.sin(heading)]))
    path = np.array(points)
    path += centre - (path.min(axis=0) + path.max(axis=0)) / 2  # centred on ``centre``
    cv2.polylines(canvas, [path.round().astype(np.int32)], False, 1, int(rng.integers(*LINE_WIDTH)))


_DEFECTS: dict[str, Callable[[np.random.Generator, np.ndarray, np.ndarray, float], None]] = {
    "blob": _blob,
    "spot": _spot,
    "scratch": _scratch,
    "crack": _crack,
}
DEFECT_KINDS = tuple(_DEFECTS)


def paint_defect(
    rng: np.random.Generator, surface: np.ndarray, kind: str | None = None
) -> tuple[np.ndarray, str]:
    """Paints one small defect onto ``surface`` in place.

    The shape is drawn binary (that is the mask a labeller would draw); the intensity change
    follows it with softened edges.

    Args:
        rng: Source of randomness.
        surface: float32 ``(S, S)``, 0..255; changed in place.
        kind: One of :data:`DEFECT_KINDS`, or ``None`` to draw one.

    Returns:
        ``(mask, kind)``: bool ``(S, S)``, True on the defect.
    """
    kind = kind or str(rng.choice(DEFECT_KINDS))
    size = surface.shape[0]
    extent = rng.uniform(*DEFECT_SIZE)
    margin = extent / 2 + 2
    centre = rng.uniform(margin, size - margin, 2)  # (x, y), as OpenCV draws
    canvas = np.zeros(surface.shape, np.uint8)
    _DEFECTS[kind](rng, canvas, centre, extent)
    shape = canvas.astype(np.float32)
    alpha = np.maximum(shape, cv2.GaussianBlur(shape, (0, 0), 0.8))  # full inside, soft edges
    contrast = rng.uniform(*DEFECT_CONTRAST) * rng.choice([-1.0, 1.0])
    surface += np.float32(contrast) * alpha
    np.clip(surface, 0, 255, out=surface)
    return canvas.astype(bool), kind
