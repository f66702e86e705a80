"""Augmentation of the clean training patches, before defects are synthesised on them.

A training set of a few dozen good strips shows the network only a few hundred surfaces,
which it soon knows by heart: measured on the demo dataset, a model told apart a blob in
the target from the same blob in both references on surfaces it trained on (97 % of
pairs ranked right) far better than on new surfaces of the same kind (67 %). These
augmentations make new surfaces out of the known ones. Each moves the three captures
together, so what the model must learn, the comparison, is unchanged.

- ``dihedral``: a random multiple of 90 degrees and a mirror with probability 1/2.
- ``mix``: the texture of another patch of the training set, centred on its mean and
  scaled by a random factor, added to this one (capture to capture), so surfaces become
  blends no strip shows.
- ``levels``: the patch's contrast scaled about its mean by a factor from
  :data:`LEVELS_CONTRAST` and its level moved by :data:`LEVELS_OFFSET` grey levels, so the
  network cannot tell a surface by its brightness and recall how bright it should be.
- ``invert``: with probability 1/2, ``255 - x``: dark marks become bright ones.
- ``jitter``: the patch is cut up to half a patch away from its grid position (clamped to
  the strip), so an epoch shows crops no earlier epoch showed, not the same few hundred.

A spec names them joined by ``+`` (``"mix+invert"``), or is ``"none"``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from defectkit.errors import InvalidArgumentError

__all__ = [
    "AUGMENTATIONS",
    "augment_patch",
    "change_levels",
    "dihedral_transform",
    "jitter_corner",
    "mix_surfaces",
    "parse_augment",
]

AUGMENTATIONS = ("jitter", "dihedral", "mix", "levels", "invert")
MIX_STRENGTH = (0.25, 1.0)  # range of the factor on the other patch's texture
LEVELS_CONTRAST = (0.6, 1.5)  # range of the contrast factor of ``levels``
LEVELS_OFFSET = 40.0  # largest shift of the level of ``levels``, grey levels (0..255 scale), either sign


def parse_augment(spec: str) -> tuple[str, ...]:
    """The augmentation names of a spec (``"none"``, or names of :data:`AUGMENTATIONS` joined by ``+``).

    Raises:
        InvalidArgumentError: an unknown or repeated name.
    """
    if spec == "none":
        return ()
    names = tuple(spec.split("+"))
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown or len(set(names)) != len(names):
        msg = f"augment must be 'none' or names from {', '.join(AUGMENTATIONS)} joined by '+', got {spec!r}"
        raise InvalidArgumentError(msg)
    return names


def jitter_corner(
    corner: tuple[int, int], shape: tuple[int, int], patch: int, rng: np.random.Generator
) -> tuple[int, int]:
    """``corner`` (y, x) moved by up to ``patch // 2`` pixels per axis, kept inside an ``(H, W)`` image."""
    reach = patch // 2
    return tuple(
        int(np.clip(start + rng.integers(-reach, reach + 1), 0, length - patch))
        for start, length in zip(corner, shape, strict=True)
    )


def dihedral_transform(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the 8 rotations and reflections of a square ``(C, p, p)`` patch, drawn by ``rng``."""
    turns, mirror = int(rng.integers(4)), bool(rng.random() < 0.5)
    out = np.rot90(patch, k=turns, axes=(1, 2))
    return out[:, :, ::-1] if mirror else out


def mix_surfaces(patch: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``patch + s * (other - mean(other))``, capture by capture, ``s`` uniform in :data:`MIX_STRENGTH`.

    One mean for all of ``other``'s captures keeps their differences of gain and registration.
    """
    strength = rng.uniform(*MIX_STRENGTH)
    return patch + np.float32(strength) * (other - np.float32(other.mean()))


def change_levels(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``mean + c * (patch - mean) + b``, one ``c`` and ``b`` for all captures (differences scale by c)."""
    contrast = rng.uniform(*LEVELS_CONTRAST)
    offset = rng.uniform(-LEVELS_OFFSET, LEVELS_OFFSET)
    mean = np.float32(patch.mean())
    return mean + np.float32(contrast) * (patch - mean) + np.float32(offset)


def augment_patch(
    patch: np.ndarray,
    names: tuple[str, ...],
    rng: np.random.Generator,
    other_patch: Callable[[np.random.Generator], np.ndarray],
) -> np.ndarray:
    """Applies ``names`` in the order of :data:`AUGMENTATIONS` to a clean ``(3, p, p)`` patch.

    ``jitter`` moves where the patch is cut, so the caller applies it (:func:`jitter_corner`)
    before cutting; here it is a no-op.

    Args:
        patch: target, ref1, ref2 on the 0..255 scale; not modified.
        names: From :func:`parse_augment`.
        rng: The patch's augmentation stream.
        other_patch: Draws the partner of ``mix`` (another clean patch of the training set).

    Returns:
        ``(3, p, p)`` float32 (not clipped: a mix may leave 0..255 slightly).
    """
    out = np.asarray(patch, dtype=np.float32)
    if "dihedral" in names:
        out = dihedral_transform(out, rng)
    if "mix" in names:
        out = mix_surfaces(out, other_patch(rng), rng)
    if "levels" in names:
        out = change_levels(out, rng)
    if "invert" in names and rng.random() < 0.5:
        out = np.float32(255.0) - out
    return np.ascontiguousarray(out, dtype=np.float32)
