"""Configuration of the reference UNet (target + two references -> defect logits)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from defectkit.errors import InvalidArgumentError

__all__ = ["FUSIONS", "UNetConfig"]

FUSIONS = ("stack", "compare")


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

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            msg = f"UNetConfig.fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}"
            raise InvalidArgumentError(msg)
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
