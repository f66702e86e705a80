"""Which defects go into which channel of a patch, and the synthesis of one training patch.

A ``reference_unet`` patch has three channels: target, ref1, ref2. The model must
mark defects present in the target and absent from both references, so a defective
training patch carries:

- 1-2 *target-only* stamps, the only ones in the ground-truth mask;
- the remaining stamps in the references, split about evenly between ref1 only,
  ref2 only and both refs (the same stamp in each), a share of the both-refs
  ones (``p_all_captures``) also in the target (a mark of the surface itself):
  differences the model must learn to ignore. ref1 and ref2 always differ by at least one stamp, so the
  model cannot learn that "the references agree" means anything.

Every patch, clean or not, also gets ref1 and ref2 shifted independently by a
sub-pixel amount, as real captures never register exactly.

Order: the references are shifted *before* their stamps are added. Bilinear
interpolation is a low-pass filter (a half-pixel shift averages neighbours 50/50);
shifting after stamping would blur reference stamps but never target stamps, and
the model could then learn "blurred blob = reference defect", a cue real captures
do not have. Stamp positions are random anyway, so shifting them adds nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.synthesis.config import SynthesisConfig
from defectkit.models.reference_unet.synthesis.shapes import Stamp, add_stamp, make_stamp, paint_mask

__all__ = [
    "Allocation",
    "Placement",
    "SynthesisResult",
    "allocate",
    "apply_placements",
    "plan_defects",
    "plan_reference_only",
    "shift_bilinear",
    "synthesize",
    "synthesize_detailed",
]

TARGET, REF1, REF2 = 0, 1, 2
_PLACEMENT_TRIES = 20  # attempts to keep a reference stamp off the target stamps before giving up
_KEEP_OUT_PX = 2  # gap kept between a reference stamp's mask and a target stamp's mask


@dataclass(frozen=True)
class Allocation:
    """How many stamps of a defective patch go where."""

    target_only: int
    ref1_only: int
    ref2_only: int
    both_refs: int

    @property
    def total(self) -> int:
        return self.target_only + self.ref1_only + self.ref2_only + self.both_refs


@dataclass(frozen=True)
class Placement:
    """One stamp placed in a patch: its anchor at ``(y, x)`` in each of ``channels`` (0, 1, 2)."""

    stamp: Stamp
    y: int
    x: int
    channels: tuple[int, ...]

    @property
    def in_mask(self) -> bool:
        """Whether the stamp belongs to the ground truth (target only)."""
        return self.channels == (TARGET,)


@dataclass(frozen=True)
class SynthesisResult:
    """A synthesised patch with the record of how it was made.

    Attributes:
        patch: ``(3, H, W)`` float32, target, ref1, ref2 on the 0..255 scale.
        mask: ``(H, W)`` uint8, 1 where a target-only stamp is.
        placements: The stamps, in the order they were drawn (empty for a clean patch).
        shifts: ``(2, 2)`` float64, the ``(dy, dx)`` applied to ref1 and ref2.
    """

    patch: np.ndarray
    mask: np.ndarray
    placements: list[Placement]
    shifts: np.ndarray

    def distractor_mask(self) -> np.ndarray:
        """``(H, W)`` uint8, 1 inside the stamps that are no defect (in one or both references,
        or in every capture) and 0 on the defects: the pixels a model is most tempted to flag."""
        out = np.zeros_like(self.mask)
        for placement in self.placements:
            if not placement.in_mask:
                paint_mask(out, placement.stamp, placement.y, placement.x)
        out[self.mask.astype(bool)] = 0
        return out


def allocate(rng: np.random.Generator, config: SynthesisConfig) -> Allocation:
    """Draws the stamp counts for one defective patch.

    ``n`` comes from ``config.n_defects``, the target-only count from ``config.target_only``
    (never more than ``n``), and each remaining stamp goes to ref1 only, ref2 only or both
    refs with probabilities ``config.ref_split``. If no stamp went to a single reference
    (all to both, or none left), one is moved from "both" to a random single reference,
    or, when none is left at all, one is added: ref1 and ref2 must differ.
    """
    total = int(rng.integers(config.n_defects[0], config.n_defects[1] + 1))
    target = int(rng.integers(config.target_only[0], min(config.target_only[1], total) + 1))
    destinations = rng.choice(3, size=total - target, p=np.asarray(config.ref_split, dtype=np.float64))
    ref1, ref2, both = (int(c) for c in np.bincount(destinations, minlength=3))
    if ref1 + ref2 == 0:
        both = max(both - 1, 0)
        if rng.random() < 0.5:
            ref1 += 1
        else:
            ref2 += 1
    return Allocation(target_only=target, ref1_only=ref1, ref2_only=ref2, both_refs=both)


def _mask_box(placement: Placement, margin: int) -> tuple[int, int, int, int]:
    """Returns ``(y0, y1, x0, x1)``, the patch box of a placement's mask grown by ``margin``."""
    mask = placement.stamp.mask
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, left = placement.y - placement.stamp.anchor[0], placement.x - placement.stamp.anchor[1]
    return (
        top + int(rows[0]) - margin,
        top + int(rows[-1]) + 1 + margin,
        left + int(cols[0]) - margin,
        left + int(cols[-1]) + 1 + margin,
    )


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def plan_defects(
    shape: tuple[int, int], rng: np.random.Generator, config: SynthesisConfig
) -> list[Placement]:
    """Draws the stamps of one defective patch and where they go.

    Anchors are uniform over the patch, so a stamp near a border is cut by it (as a
    defect at a tile border is at inference). A reference stamp is kept
    ``_KEEP_OUT_PX`` away from every target stamp where ``_PLACEMENT_TRIES`` random
    positions allow it: a reference defect on top of a target defect would make the
    ground truth ("absent from both references") ambiguous.

    Args:
        shape: Patch ``(H, W)``.
        rng: The random source.
        config: The synthesis settings.

    Returns:
        Target-only placements first, then ref1-only, ref2-only and both-refs ones.
    """
    height, width = shape
    allocation = allocate(rng, config)
    placements = []
    for _ in range(allocation.target_only):
        stamp = make_stamp(rng, config)
        placements.append(Placement(stamp, int(rng.integers(height)), int(rng.integers(width)), (TARGET,)))
    keep_out = [_mask_box(p, _KEEP_OUT_PX) for p in placements]
    reference_channels = (
        [(REF1,)] * allocation.ref1_only
        + [(REF2,)] * allocation.ref2_only
        + [(REF1, REF2)] * allocation.both_refs
    )
    return placements + _place_reference_stamps(shape, rng, config, reference_channels, placements, keep_out)


def _place_reference_stamps(
    shape: tuple[int, int],
    rng: np.random.Generator,
    config: SynthesisConfig,
    reference_channels: list[tuple[int, ...]],
    targets: list[Placement],
    keep_out: list[tuple[int, int, int, int]],
) -> list[Placement]:
    """Places new stamps in ``reference_channels``, and mirrors of ``targets`` in both references."""
    height, width = shape
    if config.p_all_captures > 0:
        # A both-refs stamp is, with p_all_captures, also in the target: a mark on the surface
        # itself, seen by every capture, which is no defect either.
        reference_channels = [
            (TARGET, REF1, REF2) if c == (REF1, REF2) and rng.random() < config.p_all_captures else c
            for c in reference_channels
        ]
    reference_stamps: list[tuple[Stamp | None, tuple[int, ...]]] = [(None, c) for c in reference_channels]
    if config.p_mirror > 0:
        mirrored = [p.stamp for p in targets if rng.random() < config.p_mirror]
        if config.mirror_sign == "opposite":
            mirrored = [replace(stamp, values=-stamp.values) for stamp in mirrored]
        reference_stamps += [(stamp, (REF1, REF2)) for stamp in mirrored]
    placements = []
    for stamp, channels in reference_stamps:
        stamp = stamp or make_stamp(rng, config)  # drawn here, so the random stream stays in order
        for _ in range(_PLACEMENT_TRIES):
            placement = Placement(stamp, int(rng.integers(height)), int(rng.integers(width)), channels)
            if not any(_overlaps(_mask_box(placement, 0), box) for box in keep_out):
                break
        placements.append(placement)
    return placements


def plan_reference_only(
    shape: tuple[int, int], rng: np.random.Generator, config: SynthesisConfig
) -> list[Placement]:
    """Draws the stamps of a patch whose target is clean: every stamp is in ref1, ref2, both refs
    or all three captures, so the ground truth stays empty.

    ``n_defects`` stamps (less the one target-only stamp a defective patch has at least), split by
    ``ref_split``. Unlike a defective patch's, these references may agree: a good strip with the
    same anomaly in both references is exactly what a line must not reject.
    """
    total = int(rng.integers(max(1, config.n_defects[0] - 1), max(1, config.n_defects[1] - 1) + 1))
    destinations = rng.choice(3, size=total, p=np.asarray(config.ref_split, dtype=np.float64))
    choices = [(REF1,), (REF2,), (REF1, REF2)]
    return _place_reference_stamps(shape, rng, config, [choices[int(d)] for d in destinations], [], [])


def apply_placements(patch: np.ndarray, placements: list[Placement]) -> tuple[np.ndarray, np.ndarray]:
    """Adds placed stamps to a copy of a patch and draws the mask of the target-only ones.

    Args:
        patch: ``(3, H, W)`` float32, target, ref1, ref2 on the 0..255 scale; not modified.
        placements: Stamps and where they go.

    Returns:
        ``(patch, mask)``: ``(3, H, W)`` float32 with the stamps added (no clipping), and
        ``(H, W)`` uint8, 1 inside target-only stamp masks.
    """
    out = np.array(patch, dtype=np.float32, copy=True)
    mask = np.zeros(out.shape[1:], dtype=np.uint8)
    for placement in placements:
        for channel in placement.channels:
            add_stamp(out[channel], placement.stamp, placement.y, placement.x)
        if placement.in_mask:
            paint_mask(mask, placement.stamp, placement.y, placement.x)
    return out, mask


def shift_bilinear(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Moves an image's content by ``(dy, dx)`` pixels, bilinear, edges reflected.

    ``out[y, x] = image(y - dy, x - dx)``, with the image mirrored past its edges
    (``fedcba|abcdef``, OpenCV's ``BORDER_REFLECT``). Unlike ``cv2.warpAffine`` the
    sub-pixel weights are exact (no 1/32-pixel quantisation) and no thread pool is used,
    which keeps DataLoader workers fork-safe.

    Args:
        image: ``(H, W)`` array.
        dy: Shift down, pixels.
        dx: Shift right, pixels.

    Returns:
        ``(H, W)`` float32.
    """
    height, width = image.shape
    pad = math.ceil(max(abs(dy), abs(dx))) + 1
    padded = np.pad(np.asarray(image, dtype=np.float64), pad, mode="symmetric")
    iy, ix = math.floor(-dy), math.floor(-dx)
    fy, fx = -dy - iy, -dx - ix
    y0, x0 = pad + iy, pad + ix

    def window(oy: int, ox: int) -> np.ndarray:
        return padded[y0 + oy : y0 + oy + height, x0 + ox : x0 + ox + width]

    out = (1 - fy) * ((1 - fx) * window(0, 0) + fx * window(0, 1)) + fy * (
        (1 - fx) * window(1, 0) + fx * window(1, 1)
    )
    return out.astype(np.float32)


def synthesize_detailed(
    patch: np.ndarray, rng: np.random.Generator, config: SynthesisConfig
) -> SynthesisResult:
    """Like :func:`synthesize`, and also returns the stamps and shifts it drew."""
    patch = np.asarray(patch)
    if patch.ndim != 3 or patch.shape[0] != 3 or 0 in patch.shape:
        msg = f"synthesize expects a (3, H, W) patch (target, ref1, ref2), got shape {patch.shape}"
        raise InvalidArgumentError(msg)
    # Draw order is fixed (defective?, shifts, stamps) so one rng state gives one patch.
    defective = bool(rng.random() < config.p_defective)
    shifts = np.zeros((2, 2))
    out = np.array(patch, dtype=np.float32, copy=True)
    if config.misregistration_px > 0:
        shifts = rng.uniform(-config.misregistration_px, config.misregistration_px, size=(2, 2))
        out[REF1] = shift_bilinear(out[REF1], *shifts[0])
        out[REF2] = shift_bilinear(out[REF2], *shifts[1])
    if defective:
        placements = plan_defects(out.shape[1:], rng, config)
    elif config.p_reference_only > 0 and rng.random() < config.p_reference_only:
        placements = plan_reference_only(out.shape[1:], rng, config)
    else:
        placements = []
    out, mask = apply_placements(out, placements)
    return SynthesisResult(patch=out, mask=mask, placements=placements, shifts=shifts)


def synthesize(
    patch: np.ndarray, rng: np.random.Generator, config: SynthesisConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Makes one training patch: misregistered references and, with ``config.p_defective``, defects.

    Args:
        patch: ``(3, H, W)`` defect-free target, ref1, ref2 on the 0..255 scale; not modified.
        rng: The random source; the same state gives the same output.
        config: The synthesis settings.

    Returns:
        ``(patch, mask)``: ``(3, H, W)`` float32 (stamps added without clipping) and
        ``(H, W)`` uint8 ground truth, 1 on target-only defects, all 0 on a clean patch.

    Raises:
        InvalidArgumentError: ``patch`` is not ``(3, H, W)``.
    """
    result = synthesize_detailed(patch, rng, config)
    return result.patch, result.mask
