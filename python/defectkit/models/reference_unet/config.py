"""Configuration of reference_unet: the network's shape (UNetConfig) and the family's training settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from defectkit.errors import InvalidArgumentError

if TYPE_CHECKING:
    from defectkit.models.reference_unet.synthesis import SynthesisConfig

__all__ = ["FUSIONS", "ReferenceUNetConfig", "UNetConfig"]

FUSIONS = ("stack", "compare")
STRIDES = (1, 2)
READOUTS = (0, 1, 3)


def stride_problem(input_stride: object, head_stride: object, fusion: str, readout: object = 0) -> str | None:
    """What is wrong with a pair of strides (and the full-resolution readout), in one sentence, or None."""
    for name, value in (("input_stride", input_stride), ("head_stride", head_stride), ("readout", readout)):
        allowed = READOUTS if name == "readout" else STRIDES
        if value not in allowed or isinstance(value, bool):
            return f"{name} must be one of {allowed}, got {value!r}"
    if input_stride > head_stride:  # type: ignore[operator]
        return f"input_stride {input_stride} needs head_stride >= it (no full-resolution features to decode)"
    if fusion == "compare" and (input_stride, head_stride) != (1, 1):
        return "fusion 'compare' runs at full resolution only (input_stride and head_stride 1)"
    if readout and (input_stride, head_stride) != (1, 2):
        return f"readout {readout} needs input_stride 1 and head_stride 2 (block1 beside a half-res head)"
    return None


@dataclass
class UNetConfig:
    """Shape of a :class:`~defectkit.models.reference_unet.ReferenceUNet`.

    Attributes:
        in_channels: Input channels, in order target, ref1, ref2.
        num_classes: Output classes; class 1 is "defect in the target, absent from both references".
        width: Base width ``w`` of the network; the encoder widths are w, 2w, 4w, 8w, 8w, 8w.
        fusion: How the captures meet. ``stack``: as channels of one input (DRAEM, the seed).
            ``compare``: each capture through one shared encoder, and at every scale the target's
            features joined with their smallest absolute difference to a reference's.
    """

    in_channels: int = 3  # target, ref1, ref2 (a production ROI channel is never fed to the model)
    num_classes: int = 2  # background / defect, as in DRAEM's discriminative network
    # 64 reproduces the seed (DRAEM's base width); the default will be chosen by a width study.
    width: int = 64
    fusion: str = "stack"
    # DRAEM's network has a full-resolution level in the encoder (block1) and in the decoder (up4,
    # db4, the classifier); the INT8 strip graph spent about half its time there (#18,
    # docs/experiments/reference_unet.md). head_stride 2: the decoder stops at half resolution and
    # the defect logit is upsampled 2x (bilinear). input_stride 2 as well: no block1 either, the
    # captures enter at half resolution as 4x the channels (pixel unshuffle).
    input_stride: int = 1
    head_stride: int = 1
    # Kernel size of a conv reading block1's full-resolution features into the logit, added to the
    # upsampled half-resolution logit (head_stride 2): the pixel detail back at one conv's cost. 0: none.
    readout: int = 0

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            msg = f"UNetConfig.fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}"
            raise InvalidArgumentError(msg)
        problem = stride_problem(self.input_stride, self.head_stride, self.fusion, self.readout)
        if problem:
            raise InvalidArgumentError(f"UNetConfig: {problem}")
        for name in ("in_channels", "num_classes", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                msg = f"UNetConfig.{name} must be a positive int, got {value!r}"
                raise InvalidArgumentError(msg)
        if self.fusion == "compare" and self.in_channels < 2:
            msg = f"fusion 'compare' needs a target and a reference, got in_channels {self.in_channels}"
            raise InvalidArgumentError(msg)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-able dict of the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        """Builds a config from :meth:`to_dict` output. Unknown keys raise ``InvalidArgumentError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"unknown UNetConfig keys {unknown}; expected a subset of {sorted(known)}"
            raise InvalidArgumentError(msg)
        return cls(**data)


@dataclass
class ReferenceUNetConfig:
    """reference_unet's training settings, nested in ``TrainConfig.family_config``; every field is
    a ``defectkit train`` option. Defaults follow the recipe measured in docs/experiments."""

    # The demo recipe, measured on the demo dataset: width 16 at lr 3e-4 for about 10,000 patches;
    # 96 training strips (6 epochs) generalised better than 24 (25 epochs) over 5 seeds.
    width: int = 16  # UNet width; 64 is the seed's model (far too slow to train on a CPU)
    # How the UNet meets the captures (UNetConfig.fusion): "stack" (DRAEM's input channels) or
    # "compare" (shared encoder, per-scale differences).
    fusion: str = "stack"
    # Where the UNet leaves full resolution (UNetConfig): head_stride 2 stops the decoder at half
    # resolution and upsamples the logit (INT8 1.44x faster, one process per artifact; over seeds
    # 0-4 on the demo, test image AUROC 0.957 against 0.940 but pixel AUROC 0.985 (0.970-0.996)
    # against 0.993 (0.991-0.997), so not the default); input_stride 2 also leaves out the
    # encoder's full-resolution block (pixel unshuffle): image and pixel AUROC both dropped
    # (docs/experiments/reference_unet.md).
    input_stride: int = 1
    head_stride: int = 1
    # head_stride 2: a conv of this kernel size reads block1 into the logit (UNetConfig). readout 1
    # over seeds 0-4: pixel AUROC 0.992 (paired -0.002 against DRAEM) but image AUROC 0.937 (-0.004):
    # not the default either (docs/experiments/reference_unet.md, "A full-resolution readout").
    readout: int = 0
    patch_size: int = 0  # 0: by image type (strip 128, square 256)
    n_defects: tuple[int, int] = (3, 8)  # defects per defective patch, inclusive
    p_defective: float = 0.5
    p_reference_only: float = 0.0  # share of the other patches that get reference-only stamps
    synthesis: str = "broad"  # "seed" (two Gaussian shapes) or "broad" (sizes, lines, clusters)
    misregistration_px: float = 0.5  # max sub-pixel shift of the references during training
    # Relative frequency of each broad-family defect kind: spot, elongated, scratch, cluster,
    # blotch, irregular, stain (synthesis.SynthesisConfig.broad_weights).
    broad_weights: tuple[float, ...] = (0.3, 0.15, 0.2, 0.15, 0.2, 0.0, 0.0)
    # Augmentation of the clean patches (data.augment): "none", or names from jitter, dihedral,
    # mix, levels, invert joined by "+".
    augment: str = "none"
    # Each target-only defect also appears, elsewhere, in both references (labelled background):
    # on the demo test split this lifted image AUROC from 0.84 to 0.96 (width 16, 15 epochs).
    p_mirror: float = 1.0
    # The mirror's sign against its target stamp: "same" or "opposite". "opposite" raised 100-strip
    # test image AUROC for each of seeds 0-4 (mean 0.950 against 0.930 with "same").
    mirror_sign: str = "opposite"
    # Weight of a cross-entropy term on the pixels of synthetic stamps that are no defect (in the
    # references, or in every capture), which the focal loss alone leaves at p ~ 0.55; 0: off.
    distractor_weight: float = 0.0
    gamma_schedule: str = "cosine"  # focal-loss gamma over training: cosine, linear or constant
    gamma_start: float = 1.0
    gamma_end: float = 3.0
    focal_alpha: float = 0.75
    cache_size: int = 128  # decoded strips kept per data-loading process (~2 MB each at 976 x 176)
    holdout: int = 2  # train/good strips held out for validation when there is no valid/

    def problems(self) -> list[str]:
        """Settings that cannot train, one sentence each."""
        from defectkit.models.reference_unet.data.augment import parse_augment
        from defectkit.models.reference_unet.loss import GAMMA_SCHEDULES
        from defectkit.models.reference_unet.synthesis.config import MIRROR_SIGNS

        problems = []
        if self.width < 1:
            problems.append(f"width must be >= 1, got {self.width}")
        if self.patch_size and self.patch_size % 32:
            problems.append(
                f"patch_size must be a multiple of 32 (the UNet pools 5 times), got {self.patch_size}"
            )
        lo, hi = self.n_defects
        if not 1 <= lo <= hi:
            problems.append(f"n_defects must be 1 <= min <= max, got {self.n_defects}")
        if self.gamma_schedule not in GAMMA_SCHEDULES:
            problems.append(f"gamma_schedule must be cosine, linear or constant, got {self.gamma_schedule!r}")
        if self.mirror_sign not in MIRROR_SIGNS:
            problems.append(f"mirror_sign must be one of {', '.join(MIRROR_SIGNS)}, got {self.mirror_sign!r}")
        if self.fusion not in FUSIONS:
            problems.append(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        stride = stride_problem(self.input_stride, self.head_stride, self.fusion, self.readout)
        if stride:
            problems.append(stride)
        if self.distractor_weight < 0:
            problems.append(f"distractor_weight must be >= 0, got {self.distractor_weight}")
        try:
            parse_augment(self.augment)
        except InvalidArgumentError as exc:
            problems.append(str(exc))
        return problems

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReferenceUNetConfig:
        """The config from saved values (lists become tuples); unknown keys raise
        ``InvalidArgumentError``. Fills what older runs did not record with what they trained with."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            msg = f"unknown reference_unet settings: {unknown}"
            raise InvalidArgumentError(msg)
        converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        weights = converted.get("broad_weights")
        if weights is not None and len(weights) < len(cls.broad_weights):
            # New broad kinds are appended and off by default, so a run saved before one existed
            # (5 weights before irregular, 6 before stain) trained with it at weight 0.
            converted["broad_weights"] = weights + (0.0,) * (len(cls.broad_weights) - len(weights))
        # Runs saved before mirror_sign existed trained with mirrors of the same sign.
        converted.setdefault("mirror_sign", "same")
        # Runs saved before input_stride existed trained DRAEM's full-resolution network.
        converted.setdefault("input_stride", 1)
        converted.setdefault("head_stride", 1)
        converted.setdefault("readout", 0)
        return cls(**converted)

    def network(self) -> UNetConfig:
        """The network shape these settings train."""
        return UNetConfig(
            width=self.width, fusion=self.fusion, input_stride=self.input_stride,
            head_stride=self.head_stride, readout=self.readout,
        )  # fmt: skip

    def synthesis_settings(self, p_defective: float | None = None) -> SynthesisConfig:
        """The defect synthesis these settings train with (another share of defective patches if
        ``p_defective`` is given: validation and calibration strips)."""
        from defectkit.models.reference_unet.synthesis import SynthesisConfig

        return SynthesisConfig(
            family=self.synthesis,
            n_defects=tuple(self.n_defects),
            p_defective=self.p_defective if p_defective is None else p_defective,
            p_reference_only=self.p_reference_only,
            misregistration_px=self.misregistration_px,
            p_mirror=self.p_mirror,
            mirror_sign=self.mirror_sign,
            broad_weights=tuple(self.broad_weights),
        )
