"""Defect stamps: small signed intensity patterns and their masks, drawn in a local window.

A :class:`Stamp` is never larger than the defect it holds (a few pixels to ~55 px
square, a ``stain`` up to ~250); :func:`add_stamp` adds it into a channel through a
clipped window, so synthesis never materialises an array the size of the image.

Two families:

- ``seed`` reproduces the seed tool: a peak-normalised Gaussian, 3x3 (sigma 1.3)
  or 3 rows x 5 columns (sigma_y 1.0, sigma_x 1.5), centred on a whole pixel,
  times an intensity from ``{-80, -60, 60, 80}``.
- ``broad`` widens the distribution: round spots 2-9 px across, elongated rotated
  spots, short anti-aliased scratches, clusters of tiny spots and large irregular
  soft-edged blotches (10-40 px), with amplitudes from faint to strong of either
  sign and sub-pixel centres; optionally ragged ``irregular`` shapes and large faint
  ``stain`` s (40-120 px, 8-30 grey levels) whose edges fade out.

In both, a stamp's mask is where its profile reaches ``mask_threshold`` (0.1) of
its peak magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.synthesis.config import BROAD_KINDS, SynthesisConfig

__all__ = [
    "SEED_SHAPES",
    "Stamp",
    "add_stamp",
    "broad_stamp",
    "gaussian_profile",
    "make_stamp",
    "paint_mask",
    "seed_stamp",
    "stamp_window",
]

# The seed tool's kernels: (height, width, sigma_y, sigma_x).
SEED_SHAPES: tuple[tuple[int, int, float, float], ...] = ((3, 3, 1.3, 1.3), (3, 5, 1.0, 1.5))


@dataclass(frozen=True)
class Stamp:
    """A defect pattern in its own small window.

    Attributes:
        values: ``(h, w)`` float32, the signed change added to a channel (0..255 scale).
        mask: ``(h, w)`` bool, where ``|values|`` reaches the mask threshold of the peak.
        anchor: ``(row, col)`` of the window pixel that lands on the placement point; it is
            always inside the mask, so a stamp anchored in a patch always shows there.
        kind: What the stamp depicts (``"seed"``, ``"spot"``, ``"elongated"``, ...).
    """

    values: np.ndarray
    mask: np.ndarray
    anchor: tuple[int, int]
    kind: str


def gaussian_profile(height: int, width: int, sigma_y: float, sigma_x: float) -> np.ndarray:
    """Returns a Gaussian centred in an odd-sized window, scaled so its peak is exactly 1.

    Args:
        height: Window rows (odd).
        width: Window columns (odd).
        sigma_y: Standard deviation along rows, pixels.
        sigma_x: Standard deviation along columns, pixels.

    Returns:
        ``(height, width)`` float64, ``exp(-(dy^2 / 2 sigma_y^2 + dx^2 / 2 sigma_x^2))``.
    """
    if height % 2 == 0 or width % 2 == 0:
        msg = f"gaussian_profile needs an odd window, got {height}x{width}"
        raise InvalidArgumentError(msg)
    dy = np.arange(height, dtype=np.float64) - height // 2
    dx = np.arange(width, dtype=np.float64) - width // 2
    return np.exp(-(dy[:, None] ** 2) / (2 * sigma_y**2) - dx[None, :] ** 2 / (2 * sigma_x**2))


def _stamp(profile: np.ndarray, amplitude: float, threshold: float, kind: str) -> Stamp:
    """Scales a non-negative profile to peak 1, then to ``amplitude``; masks it at ``threshold``.

    The anchor is the window's centre when the mask holds it (every kind but ``irregular``
    guarantees that), otherwise the profile's peak.
    """
    profile = profile / profile.max()
    values = (profile * amplitude).astype(np.float32)
    mask = profile >= threshold
    anchor = (profile.shape[0] // 2, profile.shape[1] // 2)
    if not mask[anchor]:
        anchor = np.unravel_index(int(profile.argmax()), profile.shape)
        anchor = (int(anchor[0]), int(anchor[1]))
    return Stamp(values=values, mask=mask, anchor=anchor, kind=kind)


def seed_stamp(rng: np.random.Generator, config: SynthesisConfig) -> Stamp:
    """Draws one seed-tool defect: a 3x3 or 3x5 Gaussian at one of ``config.seed_intensities``.

    The profile is not re-normalised after sampling: centred on a whole pixel, its
    peak is exactly 1 already, so values are the seed tool's bit for bit.
    """
    height, width, sigma_y, sigma_x = SEED_SHAPES[int(rng.integers(len(SEED_SHAPES)))]
    intensity = float(config.seed_intensities[int(rng.integers(len(config.seed_intensities)))])
    return _stamp(gaussian_profile(height, width, sigma_y, sigma_x), intensity, config.mask_threshold, "seed")


def _contour_factor(threshold: float) -> float:
    """Radius of a Gaussian's ``threshold``-of-peak contour, in sigmas (2.146 at 0.1)."""
    return math.sqrt(2.0 * math.log(1.0 / threshold))


def _grid(half: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets from a sub-pixel centre, over a ``(2 half + 1)``-square window."""
    centre_y, centre_x = rng.uniform(-0.5, 0.5, size=2)
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    return offsets[:, None] - centre_y, offsets[None, :] - centre_x


def _spot(rng: np.random.Generator, config: SynthesisConfig) -> np.ndarray:
    sigma = rng.uniform(*config.spot_diameter_px) / (2.0 * _contour_factor(config.mask_threshold))
    dy, dx = _grid(math.ceil(3.5 * sigma) + 1, rng)
    return np.exp(-(dy**2 + dx**2) / (2.0 * sigma**2))


def _elongated(rng: np.random.Generator, config: SynthesisConfig) -> np.ndarray:
    sigma_long = rng.uniform(*config.elongated_length_px) / (2.0 * _contour_factor(config.mask_threshold))
    sigma_short = max(sigma_long / rng.uniform(*config.elongated_aspect), 0.35)
    angle = rng.uniform(0.0, math.pi)
    dy, dx = _grid(math.ceil(3.5 * sigma_long) + 1, rng)
    along = dx * math.cos(angle) + dy * math.sin(angle)
    across = -dx * math.sin(angle) + dy * math.cos(angle)
    return np.exp(-(along**2) / (2.0 * sigma_long**2) - across**2 / (2.0 * sigma_short**2))


def _scratch(rng: np.random.Generator, config: SynthesisConfig) -> np.ndarray:
    length = rng.uniform(*config.scratch_length_px)
    width = rng.uniform(*config.scratch_width_px)
    angle = rng.uniform(0.0, math.pi)
    dy, dx = _grid(math.ceil(length / 2 + width / 2) + 1, rng)
    # Distance from each pixel centre to the segment; the profile is the coverage of a pixel
    # by a band of that width (box filter), so the line is anti-aliased, ends included.
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    along = np.clip(dx * cos_a + dy * sin_a, -length / 2, length / 2)
    distance = np.hypot(dx - along * cos_a, dy - along * sin_a)
    return np.clip(width / 2 + 0.5 - distance, 0.0, 1.0)


def _cluster(rng: np.random.Generator, config: SynthesisConfig) -> np.ndarray:
    count = int(rng.integers(config.cluster_count[0], config.cluster_count[1] + 1))
    sigmas = rng.uniform(*config.cluster_spot_diameter_px, size=count) / (
        2.0 * _contour_factor(config.mask_threshold)
    )
    radius = config.cluster_radius_px * np.sqrt(rng.uniform(0.0, 1.0, size=count))  # uniform in a disc
    radius[0] = 0.0  # one spot on the anchor, so a placed cluster always shows (and masks) its anchor pixel
    theta = rng.uniform(0.0, 2.0 * math.pi, size=count)
    strength = rng.uniform(0.5, 1.0, size=count)  # spots of one cluster differ in contrast
    dy, dx = _grid(math.ceil(config.cluster_radius_px + 3.5 * sigmas.max()) + 1, rng)
    profile = np.zeros(np.broadcast_shapes(dy.shape, dx.shape))
    for k in range(count):
        cy, cx = radius[k] * math.sin(theta[k]), radius[k] * math.cos(theta[k])
        spot = strength[k] * np.exp(-((dy - cy) ** 2 + (dx - cx) ** 2) / (2.0 * sigmas[k] ** 2))
        np.maximum(profile, spot, out=profile)  # max, not sum: overlapping spots do not add up
    return profile


def _blotch(rng: np.random.Generator, config: SynthesisConfig) -> np.ndarray:
    """A large irregular patch: a star-shaped outline (three random lobes on a circle), flat
    inside, with a linear soft edge and a gentle tilt of the plateau."""
    radius = rng.uniform(*config.blotch_diameter_px) / 2.0
    edge = rng.uniform(*config.blotch_edge_px)
    lobes = np.array([2, 3, 5])
    share = rng.dirichlet(np.ones(len(lobes))) * config.blotch_irregularity * rng.uniform(0.3, 1.0)
    phases = rng.uniform(0.0, 2.0 * math.pi, size=len(lobes))
    half = math.ceil(radius * (1.0 + config.blotch_irregularity) + edge) + 1
    dy, dx = _grid(half, rng)
    rho = np.hypot(dy, dx)
    theta = np.arctan2(dy, dx)
    outline = radius * (
        1.0 + sum(a * np.cos(k * theta + f) for a, k, f in zip(share, lobes, phases, strict=True))
    )
    inside = np.clip((outline - rho) / edge + 0.5, 0.0, 1.0)  # 1 inside, linear ramp over `edge` px
    tilt_angle = rng.uniform(0.0, 2.0 * math.pi)
    tilt = 1.0 + rng.uniform(0.0, 0.4) * (dx * math.cos(tilt_angle) + dy * math.sin(tilt_angle)) / (half + 1)
    return inside * tilt  # the centre is inside and its tilt >= 0.6 of the peak: the anchor is masked


def _value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A smooth random field over a ``size``-square window, unit standard deviation, within [-2, 2].

    Value noise: N(0, 1) values on a ``(cells + 1)``-square lattice, interpolated with a
    smoothstep so the field has no creases; a cheap cousin of the Perlin noise DRAEM
    thresholds into anomaly shapes, and enough for shapes a few lattice cells across.
    """
    lattice = rng.normal(size=(cells + 1, cells + 1))
    position = np.linspace(0.0, cells, size)
    cell = np.minimum(position.astype(int), cells - 1)
    t = position - cell
    t = t * t * (3.0 - 2.0 * t)
    rows = lattice[cell] * (1.0 - t)[:, None] + lattice[cell + 1] * t[:, None]  # (size, cells + 1)
    field = rows[:, cell] * (1.0 - t)[None, :] + rows[:, cell + 1] * t[None, :]
    return np.clip(field / max(float(field.std()), 1e-9), -2.0, 2.0)


def _irregular(rng: np.random.Generator, config: SynthesisConfig) -> np.ndarray:
    """A ragged shape: where an ellipse's paraboloid plus two octaves of value noise stays above
    zero, so the outline wanders, bays and islands appear; a third field shades the inside."""
    radius = rng.uniform(*config.irregular_diameter_px) / 2.0
    roughness = rng.uniform(0.2, config.irregular_roughness)
    return _ragged(rng, radius, roughness, rng.uniform(*config.blotch_edge_px))


def _stain(rng: np.random.Generator, config: SynthesisConfig) -> np.ndarray:
    """A large ragged shape whose edge fades over 15-40 % of its radius (its amplitude is faint)."""
    radius = rng.uniform(*config.stain_diameter_px) / 2.0
    roughness = rng.uniform(0.2, config.irregular_roughness)
    return _ragged(rng, radius, roughness, radius * rng.uniform(*config.stain_edge_fraction))


def _ragged(rng: np.random.Generator, radius: float, roughness: float, edge: float) -> np.ndarray:
    """The ``irregular`` profile of a given radius, roughness and edge width (pixels)."""
    half = math.ceil(radius * math.sqrt(1.0 + 2.0 * roughness) + edge) + 1  # |noise| <= 2
    dy, dx = _grid(half, rng)
    size = 2 * half + 1
    angle, aspect = rng.uniform(0.0, math.pi), rng.uniform(0.5, 1.0)  # aspect < 1 only ever shrinks
    along = (dx * math.cos(angle) + dy * math.sin(angle)) / radius
    across = (-dx * math.sin(angle) + dy * math.cos(angle)) / (radius * aspect)
    cells = int(rng.integers(2, 5))
    noise = 0.65 * _value_noise(rng, size, cells) + 0.35 * _value_noise(rng, size, 2 * cells + 1)
    rho2 = along**2 + across**2
    # A core at a third of the radius stays inside whatever the noise does, so no draw is empty
    # and the centre (the anchor) is always masked.
    level = np.maximum(1.0 - rho2 + roughness * noise, 1.0 - 9.0 * rho2)
    # The level falls by about 2/radius per pixel at the rim: a ramp `edge` px wide spans that times edge.
    inside = np.clip(level * radius / (2.0 * edge) + 0.5, 0.0, 1.0)
    shading = 1.0 + rng.uniform(0.0, 0.4) * _value_noise(rng, size, int(rng.integers(2, 5)))
    return inside * shading


_BROAD_PROFILES = {
    "spot": _spot,
    "elongated": _elongated,
    "scratch": _scratch,
    "cluster": _cluster,
    "blotch": _blotch,
    "irregular": _irregular,
    "stain": _stain,
}


def broad_stamp(rng: np.random.Generator, config: SynthesisConfig) -> Stamp:
    """Draws one broad-family defect: its kind by ``config.broad_weights``, amplitude and sign at random."""
    weights = np.asarray(config.broad_weights, dtype=np.float64)
    kind = BROAD_KINDS[int(rng.choice(len(BROAD_KINDS), p=weights / weights.sum()))]
    profile = _BROAD_PROFILES[kind](rng, config)
    magnitude = config.stain_amplitude if kind == "stain" else config.amplitude
    amplitude = rng.uniform(*magnitude) * (1.0 if rng.random() < 0.5 else -1.0)
    return _stamp(profile, amplitude, config.mask_threshold, kind)


def make_stamp(rng: np.random.Generator, config: SynthesisConfig) -> Stamp:
    """Draws one defect of ``config.family``."""
    return seed_stamp(rng, config) if config.family == "seed" else broad_stamp(rng, config)


def stamp_window(
    shape: tuple[int, int], stamp: Stamp, y: int, x: int
) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Returns the (image, stamp) slices where a stamp anchored at ``(y, x)`` overlaps an image.

    Args:
        shape: Image ``(H, W)``.
        stamp: The stamp.
        y: Image row of the stamp's anchor.
        x: Image column of the stamp's anchor.

    Returns:
        ``((rows, cols) in the image, (rows, cols) in the stamp)``, or ``None`` when the
        stamp falls wholly outside the image.
    """
    h, w = stamp.values.shape
    top, left = y - stamp.anchor[0], x - stamp.anchor[1]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, shape[0]), min(left + w, shape[1])
    if y0 >= y1 or x0 >= x1:
        return None
    image = (slice(y0, y1), slice(x0, x1))
    local = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    return image, local


def add_stamp(channel: np.ndarray, stamp: Stamp, y: int, x: int) -> None:
    """Adds a stamp into ``channel`` ``(H, W)`` in place, clipped at the borders; no value clipping."""
    window = stamp_window(channel.shape, stamp, y, x)
    if window is not None:
        channel[window[0]] += stamp.values[window[1]]


def paint_mask(mask: np.ndarray, stamp: Stamp, y: int, x: int) -> None:
    """Marks a stamp's mask in ``mask`` ``(H, W)`` in place (logical or), clipped at the borders."""
    window = stamp_window(mask.shape, stamp, y, x)
    if window is not None:
        mask[window[0]] |= stamp.mask[window[1]].astype(mask.dtype)
