"""The settings of defect synthesis for ``reference_unet`` training, with their reasons."""

from __future__ import annotations

import math
from dataclasses import dataclass

from defectkit.errors import InvalidArgumentError

__all__ = ["BROAD_KINDS", "FAMILIES", "MIRROR_SIGNS", "SynthesisConfig"]

FAMILIES = ("broad", "seed")
MIRROR_SIGNS = ("same", "opposite")
BROAD_KINDS = ("spot", "elongated", "scratch", "cluster", "blotch", "irregular", "stain")


def _check_range(name: str, value: tuple[float, float], low: float) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1]:
        msg = f"SynthesisConfig.{name} must be a (min, max) pair with {low} <= min <= max, got {value!r}"
        raise InvalidArgumentError(msg)


@dataclass(frozen=True)
class SynthesisConfig:
    """How defects are synthesised on defect-free strip patches.

    A patch is defective with probability ``p_defective``. A defective patch gets
    ``n_defects`` stamps: ``target_only`` of them in the target channel (they alone
    form the ground-truth mask), the rest in the references (ref1 only, ref2 only, or
    the same stamp in both), which the model must learn to ignore.

    Ranges are inclusive ``(min, max)`` pairs: integers for counts, floats for sizes.
    """

    # "broad": spots, elongated spots, scratches and clusters over a wide range of sizes
    # and contrasts; "seed": the seed tool's two small Gaussians at four intensities.
    # Which trains the better model is measured, not assumed.
    family: str = "broad"
    n_defects: tuple[int, int] = (3, 8)  # stamps per defective patch, all channels together
    target_only: tuple[int, int] = (1, 2)  # of those, stamps in the target only (the ground truth)
    p_defective: float = 0.5  # the rest stay clean, so the model also learns "nothing to report"
    # Probability that a patch without target defects gets stamps in its references only (the
    # mask stays empty). Without these, every reference anomaly the model sees sits beside a
    # target defect in the same patch, and a good strip with an anomaly in both references, and
    # nothing else, looks like nothing it was trained on.
    p_reference_only: float = 0.0
    # Probabilities that a reference stamp goes to ref1 only, ref2 only, or both refs. (Weighting
    # both refs up to 0.5, with blotch weight 0.3 and p_all_captures 0.3, measured worse on the
    # demo test split: the model learnt to ignore large faint anomalies in the target too.)
    ref_split: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    # Probability that a both-refs stamp also goes to the target (the same stamp in all three
    # captures): a mark of the surface itself, present everywhere, hence no defect.
    p_all_captures: float = 0.5
    # Probability that a target-only stamp also gets a mirror: the same stamp in both references
    # elsewhere in the patch, labelled background. The pair differs only in which capture holds
    # the anomaly, the one thing that separates a defect from a both-references distractor.
    p_mirror: float = 0.0
    # "same": the mirror is the target stamp as it is. "opposite": the stamp negated, so its
    # target-minus-reference differences equal the target stamp's exactly and only the target's
    # own look tells the defect from the background: the case of a good strip with an anomaly in
    # both references, which differs from its references as a target defect of the other sign.
    mirror_sign: str = "same"
    # Largest sub-pixel shift (pixels, each axis) of ref1 and ref2 against the target, on every
    # patch, clean ones included: captures of one surface never register exactly, and a model
    # trained on perfect registration flags every edge of a slightly shifted reference. 0 disables.
    misregistration_px: float = 0.5
    # A stamp's mask is where its profile reaches this fraction of its peak |value|.
    mask_threshold: float = 0.1

    # --- seed family ------------------------------------------------------------------------
    seed_intensities: tuple[float, ...] = (-80.0, -60.0, 60.0, 80.0)  # 0..255 scale

    # --- broad family -----------------------------------------------------------------------
    # Relative frequency of each kind (spot, elongated, scratch, cluster, blotch, irregular, stain).
    broad_weights: tuple[float, ...] = (0.3, 0.15, 0.2, 0.15, 0.2, 0.0, 0.0)
    amplitude: tuple[float, float] = (15.0, 100.0)  # |peak change| on the 0..255 scale, either sign
    spot_diameter_px: tuple[float, float] = (2.0, 9.0)  # diameter of the mask (0.1-of-peak contour)
    elongated_length_px: tuple[float, float] = (5.0, 14.0)  # mask length along the long axis
    elongated_aspect: tuple[float, float] = (2.0, 4.0)  # long axis / short axis
    scratch_length_px: tuple[float, float] = (5.0, 25.0)
    scratch_width_px: tuple[float, float] = (1.0, 2.0)  # anti-aliased, so widths need not be whole
    cluster_count: tuple[int, int] = (2, 5)  # tiny spots per cluster
    cluster_spot_diameter_px: tuple[float, float] = (2.0, 4.0)
    cluster_radius_px: float = 4.0  # spot centres lie within this distance of the cluster centre
    # Blotches: large irregular flat-topped patches with a soft edge. Without them the model only
    # ever sees anomalies under ~25 px and flags any large one, in the references too.
    blotch_diameter_px: tuple[float, float] = (10.0, 40.0)  # mean diameter of the mask
    blotch_irregularity: float = 0.25  # largest relative bulge of the outline (sum of 3 lobes)
    blotch_edge_px: tuple[float, float] = (1.0, 4.0)  # width of the soft edge ramp (irregular too)
    # Irregular shapes: value noise thresholded inside a disc (DRAEM cuts anomalies out of Perlin
    # noise), for outlines no parametric kind has: bays, necks, islands, uneven shading.
    irregular_diameter_px: tuple[float, float] = (8.0, 40.0)  # of the disc the noise deforms
    irregular_roughness: float = 0.8  # largest noise amplitude against the disc's paraboloid (0.2 up)
    # Stains: irregular shapes as large as a patch, faint, with an edge that fades over a good
    # part of their radius (discolouration, residue). No other kind is over 40 px or this faint,
    # so without them a large faint anomaly in both references is one the model never saw.
    stain_diameter_px: tuple[float, float] = (40.0, 120.0)
    stain_edge_fraction: tuple[float, float] = (0.15, 0.4)  # of the radius: the width of the fade
    stain_amplitude: tuple[float, float] = (8.0, 30.0)  # |peak change|, 0..255 scale, either sign

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            msg = f"SynthesisConfig.family must be one of {FAMILIES}, got {self.family!r}"
            raise InvalidArgumentError(msg)
        _check_range("n_defects", self.n_defects, 1)
        _check_range("target_only", self.target_only, 1)
        if self.target_only[0] > self.n_defects[0]:
            msg = (
                f"SynthesisConfig.target_only {self.target_only!r} asks for more target stamps than "
                f"n_defects {self.n_defects!r} allows"
            )
            raise InvalidArgumentError(msg)
        if not 0.0 <= self.p_defective <= 1.0:
            msg = f"SynthesisConfig.p_defective must lie in [0, 1], got {self.p_defective!r}"
            raise InvalidArgumentError(msg)
        split = self.ref_split
        if len(split) != 3 or min(split) < 0 or not math.isclose(sum(split), 1.0, abs_tol=1e-6):
            msg = (
                f"SynthesisConfig.ref_split must be 3 non-negative probabilities summing to 1, got {split!r}"
            )
            raise InvalidArgumentError(msg)
        if not 0.0 <= self.misregistration_px < 8.0:
            msg = f"SynthesisConfig.misregistration_px must lie in [0, 8), got {self.misregistration_px!r}"
            raise InvalidArgumentError(msg)
        if not 0.0 < self.mask_threshold < 1.0:
            msg = f"SynthesisConfig.mask_threshold must lie in (0, 1), got {self.mask_threshold!r}"
            raise InvalidArgumentError(msg)
        if not self.seed_intensities or 0.0 in self.seed_intensities:
            msg = f"SynthesisConfig.seed_intensities must be non-zero values, got {self.seed_intensities!r}"
            raise InvalidArgumentError(msg)
        if not 0.0 <= self.p_reference_only <= 1.0:
            msg = f"SynthesisConfig.p_reference_only must lie in [0, 1], got {self.p_reference_only!r}"
            raise InvalidArgumentError(msg)
        if not 0.0 <= self.p_mirror <= 1.0:
            msg = f"SynthesisConfig.p_mirror must lie in [0, 1], got {self.p_mirror!r}"
            raise InvalidArgumentError(msg)
        if self.mirror_sign not in MIRROR_SIGNS:
            msg = f"SynthesisConfig.mirror_sign must be same or opposite, got {self.mirror_sign!r}"
            raise InvalidArgumentError(msg)
        if not 0.0 <= self.p_all_captures <= 1.0:
            msg = f"SynthesisConfig.p_all_captures must lie in [0, 1], got {self.p_all_captures!r}"
            raise InvalidArgumentError(msg)
        weights = self.broad_weights
        if len(weights) != len(BROAD_KINDS) or min(weights) < 0 or sum(weights) <= 0:
            msg = (
                f"SynthesisConfig.broad_weights must be {len(BROAD_KINDS)} non-negative weights "
                f"{BROAD_KINDS}, got {weights!r}"
            )
            raise InvalidArgumentError(msg)
        _check_range("amplitude", self.amplitude, 1e-6)
        _check_range("spot_diameter_px", self.spot_diameter_px, 1.0)
        _check_range("elongated_length_px", self.elongated_length_px, 1.0)
        _check_range("elongated_aspect", self.elongated_aspect, 1.0)
        _check_range("scratch_length_px", self.scratch_length_px, 1.0)
        _check_range("scratch_width_px", self.scratch_width_px, 0.5)
        _check_range("cluster_count", self.cluster_count, 1)
        _check_range("cluster_spot_diameter_px", self.cluster_spot_diameter_px, 1.0)
        _check_range("blotch_diameter_px", self.blotch_diameter_px, 2.0)
        _check_range("blotch_edge_px", self.blotch_edge_px, 0.5)
        _check_range("irregular_diameter_px", self.irregular_diameter_px, 2.0)
        _check_range("stain_diameter_px", self.stain_diameter_px, 2.0)
        _check_range("stain_edge_fraction", self.stain_edge_fraction, 0.01)
        _check_range("stain_amplitude", self.stain_amplitude, 1e-6)
        if not 0.2 <= self.irregular_roughness < 1.0:
            msg = (
                f"SynthesisConfig.irregular_roughness must lie in [0.2, 1), got {self.irregular_roughness!r}"
            )
            raise InvalidArgumentError(msg)
        if not 0.0 <= self.blotch_irregularity < 0.5:
            msg = (
                f"SynthesisConfig.blotch_irregularity must lie in [0, 0.5), got {self.blotch_irregularity!r}"
            )
            raise InvalidArgumentError(msg)
        if self.cluster_radius_px < 0:
            msg = f"SynthesisConfig.cluster_radius_px must be >= 0, got {self.cluster_radius_px!r}"
            raise InvalidArgumentError(msg)
