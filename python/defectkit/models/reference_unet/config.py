"""Configuration of the reference UNet (target + two references -> defect logits)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from defectkit.errors import InvalidArgumentError

__all__ = ["UNetConfig"]


@dataclass
class UNetConfig:
    """Shape of a :class:`~defectkit.models.reference_unet.ReferenceUNet`.

    Attributes:
        in_channels: Input channels, in order target, ref1, ref2.
        num_classes: Output classes; class 1 is "defect in the target, absent from both references".
        width: Base width ``w`` of the network; the encoder widths are w, 2w, 4w, 8w, 8w, 8w.
    """

    in_channels: int = 3  # target, ref1, ref2 (a production ROI channel is never fed to the model)
    num_classes: int = 2  # background / defect, as in DRAEM's discriminative network
    # 64 reproduces the seed (DRAEM's base width); the default will be chosen by a width study.
    width: int = 64

    def __post_init__(self) -> None:
        for name in ("in_channels", "num_classes", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                msg = f"UNetConfig.{name} must be a positive int, got {value!r}"
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
