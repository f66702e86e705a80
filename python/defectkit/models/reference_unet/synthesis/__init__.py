"""Defect synthesis for ``reference_unet`` training: stamps, their allocation to channels, misregistration.

Typical use, once per training patch::

    rng = np.random.default_rng([seed, epoch, index])
    patch, mask = synthesize(clean_patch, rng, SynthesisConfig())  # (3, p, p) float32, (p, p) uint8
"""

from __future__ import annotations

from defectkit.models.reference_unet.synthesis.allocation import (
    Allocation,
    Placement,
    SynthesisResult,
    allocate,
    apply_placements,
    plan_defects,
    shift_bilinear,
    synthesize,
    synthesize_detailed,
)
from defectkit.models.reference_unet.synthesis.config import BROAD_KINDS, FAMILIES, SynthesisConfig
from defectkit.models.reference_unet.synthesis.shapes import (
    SEED_SHAPES,
    Stamp,
    add_stamp,
    broad_stamp,
    gaussian_profile,
    make_stamp,
    paint_mask,
    seed_stamp,
)

__all__ = [
    "BROAD_KINDS",
    "FAMILIES",
    "SEED_SHAPES",
    "Allocation",
    "Placement",
    "Stamp",
    "SynthesisConfig",
    "SynthesisResult",
    "add_stamp",
    "allocate",
    "apply_placements",
    "broad_stamp",
    "gaussian_profile",
    "make_stamp",
    "paint_mask",
    "plan_defects",
    "seed_stamp",
    "shift_bilinear",
    "synthesize",
    "synthesize_detailed",
]
