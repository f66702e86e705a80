"""Training settings, one dataclass; defaults follow the seed's tool (DRAEM's recipe)."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from typing import TYPE_CHECKING, Any

from defectkit.errors import InvalidArgumentError

if TYPE_CHECKING:
    import torch


PRECISIONS = ("fp32", "bf16", "auto")


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs besides the data; saved as ``RUN/config.json``."""

    data: str = ""  # MVTec-layout folder (train/good, optional valid/)
    out: str = ""  # the run folder
    # The demo recipe, measured on the demo dataset (README, "reference_unet on the demo dataset"):
    # width 16 at lr 3e-4 for about 10,000 patches: 25 epochs of the 24-strip set trained better
    # than 15 at 1e-3 over 8 seeds (image AUROC 0.966 vs 0.891 on the 20 test strips, 0.927 vs
    # 0.849 on 100); the same budget spread over 96 strips (6 epochs) generalises better still.
    # About 6 min on 2 CPU cores with bf16. DRAEM's own recipe (width 64, 700 epochs, batch 8,
    # lr 1e-4) is far beyond a CPU.
    epochs: int = 0  # 0: as many as it takes to show the network patch_budget patches
    patch_budget: int = 10_000  # with epochs 0: 6 epochs of 96 strips (1,728 patches), 24 of 24
    batch_size: int = 16
    lr: float = 3e-4  # Adam; MultiStepLR x0.2 at 80% and 90% of the epochs
    lr_milestones: tuple[float, float] = (0.8, 0.9)
    lr_gamma: float = 0.2
    width: int = 16  # UNet width; 64 is the seed's model (far too slow to train on a CPU)
    # How the UNet meets the captures (defectkit.models.reference_unet.UNetConfig.fusion):
    # "stack" (DRAEM's input channels) or "compare" (shared encoder, per-scale differences).
    fusion: str = "stack"
    patch_size: int = 0  # 0: by image type (strip 128, square 256)
    n_defects: tuple[int, int] = (3, 8)  # defects per defective patch, inclusive
    p_defective: float = 0.5
    p_reference_only: float = 0.0  # share of the other patches that get reference-only stamps
    synthesis: str = "broad"  # "seed" (two Gaussian shapes) or "broad" (sizes, lines, clusters)
    misregistration_px: float = 0.5  # max sub-pixel shift of the references during training
    # Relative frequency of each broad-family defect kind: spot, elongated, scratch, cluster,
    # blotch, irregular, stain (defectkit.synthesis.SynthesisConfig.broad_weights).
    broad_weights: tuple[float, ...] = (0.3, 0.15, 0.2, 0.15, 0.2, 0.0, 0.0)
    # Augmentation of the clean patches (defectkit.data.augment): "none", or names from
    # jitter, dihedral, mix, levels, invert joined by "+".
    augment: str = "none"
    # Each target-only defect also appears, elsewhere, in both references (labelled background):
    # on the demo test split this lifted image AUROC from 0.84 to 0.96 (width 16, 15 epochs).
    p_mirror: float = 1.0
    # The mirror's sign against its target stamp: "same" or "opposite" (SynthesisConfig.mirror_sign).
    # "opposite" raised 100-strip test image AUROC for each of seeds 0-4 (mean 0.950 against 0.930
    # with "same", defects missed 0.6 against 2.8 of 60; README, the seed table).
    mirror_sign: str = "opposite"
    # Weight of a cross-entropy term on the pixels of synthetic stamps that are no defect (in the
    # references, or in every capture), which the focal loss alone leaves at p ~ 0.55; 0: off.
    distractor_weight: float = 0.0
    gamma_schedule: str = "cosine"  # focal-loss gamma over training: cosine, linear or constant
    gamma_start: float = 1.0
    gamma_end: float = 3.0
    focal_alpha: float = 0.75
    seed: int = 0
    cache_size: int = 128  # decoded strips kept per data-loading process (~2 MB each at 976 x 176)
    workers: int = 0  # DataLoader workers; 0 loads in the training process
    holdout: int = 2  # train/good strips held out for validation when there is no valid/
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    # Where the model trains: "cpu", "cuda" (or "cuda:N"), or "auto" (cuda when available).
    # Checkpoints hold CPU tensors whatever the device, so any machine loads them.
    device: str = "cpu"
    # Arithmetic of the forward and backward passes: "fp32", "bf16" (autocast; weights, optimiser
    # state and checkpoints stay fp32), or "auto": bf16 where the device computes it natively
    # (a CPU with AVX512-BF16 or AMX, a CUDA GPU with bf16), else fp32. bf16 trains width 16
    # about 2x faster on the development CPU; it is the only setting that changes numerics.
    precision: str = "auto"
    # Validation, best.pt and export use an exponential moving average of the weights with this
    # decay per optimiser step (0: the raw weights). 0.99 averages over ~100 steps (~4 epochs).
    ema_decay: float = 0.0
    # best.pt is the epoch with the best validation pixel AUROC among those from this fraction of
    # training on (0.8: the first learning-rate drop). Pixel AUROC saturates at 0.99+ within a few
    # epochs, so over all epochs it picked under-trained ones: in the recipe sweep best.pt scored
    # below last.pt in 15 of 21 recipes. 0 considers every epoch.
    best_from: float = 0.8

    def validate(self) -> None:
        """Raises InvalidArgumentError on settings that cannot train."""
        problems = []
        if self.epochs < 0:
            problems.append(f"epochs must be >= 1, or 0 to follow patch_budget, got {self.epochs}")
        if self.patch_budget < 1:
            problems.append(f"patch_budget must be >= 1, got {self.patch_budget}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.width < 1:
            problems.append(f"width must be >= 1, got {self.width}")
        if self.patch_size and self.patch_size % 32:
            problems.append(
                f"patch_size must be a multiple of 32 (the UNet pools 5 times), got {self.patch_size}"
            )
        lo, hi = self.n_defects
        if not 1 <= lo <= hi:
            problems.append(f"n_defects must be 1 <= min <= max, got {self.n_defects}")
        if self.gamma_schedule not in ("cosine", "linear", "constant"):
            problems.append(f"gamma_schedule must be cosine, linear or constant, got {self.gamma_schedule!r}")
        from defectkit.models.reference_unet.config import FUSIONS
        from defectkit.synthesis.config import MIRROR_SIGNS

        if self.mirror_sign not in MIRROR_SIGNS:
            problems.append(f"mirror_sign must be one of {', '.join(MIRROR_SIGNS)}, got {self.mirror_sign!r}")

        if self.fusion not in FUSIONS:
            problems.append(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if not _is_device_name(self.device):
            problems.append(f"device must be cpu, cuda, cuda:N or auto, got {self.device!r}")
        if self.distractor_weight < 0:
            problems.append(f"distractor_weight must be >= 0, got {self.distractor_weight}")
        if not 0.0 <= self.best_from < 1.0:
            problems.append(f"best_from must lie in [0, 1), got {self.best_from}")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        from defectkit.data.augment import parse_augment

        try:
            parse_augment(self.augment)
        except InvalidArgumentError as exc:
            problems.append(str(exc))
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if problems:
            msg = "invalid training settings: " + "; ".join(problems)
            raise InvalidArgumentError(msg)

    def with_epochs_for(self, patches_per_epoch: int) -> TrainConfig:
        """This config with ``epochs`` set: as given, or (if 0) ``ceil(patch_budget / patches_per_epoch)``."""
        if self.epochs:
            return self
        epochs = max(1, math.ceil(self.patch_budget / max(1, patches_per_epoch)))
        return dataclasses.replace(self, epochs=epochs)

    def first_best_candidate(self) -> int:
        """The first epoch (0-based) that may become best.pt (see ``best_from``); needs ``epochs`` set."""
        if self.epochs < 1:
            msg = "first_best_candidate needs epochs set (TrainConfig.with_epochs_for)"
            raise InvalidArgumentError(msg)
        return min(round(self.best_from * self.epochs), self.epochs - 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            msg = f"unknown training settings: {unknown}"
            raise InvalidArgumentError(msg)
        converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        weights = converted.get("broad_weights")
        if weights is not None and len(weights) < len(cls.broad_weights):
            # New broad kinds are appended and off by default, so a run saved before one existed
            # (5 weights before irregular, 6 before stain) trained with it at weight 0.
            converted["broad_weights"] = weights + (0.0,) * (len(cls.broad_weights) - len(weights))
        # Runs saved before mirror_sign existed trained with mirrors of the same sign.
        converted.setdefault("mirror_sign", "same")
        return cls(**converted)

    def save(self, path: pathlib.Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def _is_device_name(name: str) -> bool:
    if name in ("cpu", "cuda", "auto"):
        return True
    prefix, _, index = name.partition(":")
    return prefix == "cuda" and index.isdigit()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device a ``TrainConfig.device`` names, checked against this machine.

    ``"auto"`` is CUDA when available, else the CPU. Plain ``"cuda"`` under torchrun
    means this process's GPU, ``cuda:LOCAL_RANK``.

    Raises:
        InvalidArgumentError: an unknown name, or CUDA asked for where there is none.
    """
    import torch

    if not _is_device_name(name):
        msg = f"device must be cpu, cuda, cuda:N or auto, got {name!r}"
        raise InvalidArgumentError(msg)
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        msg = f"device {name!r}: CUDA is not available on this machine (torch {torch.__version__})"
        raise InvalidArgumentError(msg)
    index = int(name.partition(":")[2] or local_rank)
    if index >= torch.cuda.device_count():
        msg = f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        raise InvalidArgumentError(msg)
    return torch.device("cuda", index)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype a ``TrainConfig.precision`` asks for on ``device``: None means fp32.

    ``"auto"`` picks bf16 only where the hardware computes it natively: emulated bf16
    (a CPU without AVX512-BF16) would be slower than fp32, not faster.
    """
    import torch

    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
