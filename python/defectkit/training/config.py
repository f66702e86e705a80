"""Training settings: what every family shares, with the family's own nested (``family_config``)."""

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


OPTIMIZERS = ("adam", "adamw")
# Saved by runs before the family seam: the shared fields under their old names.
_RENAMED = {"patch_budget": "sample_budget"}


def _default_family_config() -> Any:
    from defectkit import families

    return families.get(families.DEFAULT_FAMILY).config_class()


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs besides the data; saved as ``RUN/config.json``.

    The fields here are what every family shares (data, budget, optimiser, seed, device,
    precision, EMA, checkpoint choice); ``family_config`` holds the family's own settings
    (:attr:`defectkit.models.family.Family.config_class`). Defaults are reference_unet's recipe
    (docs/experiments/reference_unet.md).
    """

    data: str = ""  # the dataset folder (reference_unet: MVTec layout, train/good, optional valid/)
    out: str = ""  # the run folder
    family: str = "reference_unet"  # defectkit.families name
    family_config: Any = dataclasses.field(default_factory=_default_family_config)
    epochs: int = 0  # 0: as many as it takes to show the network sample_budget training items
    sample_budget: int = 10_000  # with epochs 0: 6 epochs of the demo's 96 strips (1,728 patches)
    batch_size: int = 16
    accumulate: int = 1  # gradient accumulation: the optimiser steps every this many batches
    optimizer: str = "adam"  # "adam" or "adamw"
    lr: float = 3e-4  # MultiStepLR x lr_gamma at lr_milestones of the epochs
    weight_decay: float = 0.0
    lr_milestones: tuple[float, float] = (0.8, 0.9)
    lr_gamma: float = 0.2
    seed: int = 0
    workers: int = 0  # DataLoader workers; 0 loads in the training process
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    # Where the model trains: "cpu", "cuda" (or "cuda:N"), or "auto" (cuda when available).
    # Checkpoints hold CPU tensors whatever the device, so any machine loads them.
    device: str = "cpu"
    # Arithmetic of the forward and backward passes: "fp32", "bf16" (autocast; weights, optimiser
    # state and checkpoints stay fp32), or "auto": bf16 where the device computes it natively
    # (a CPU with AVX512-BF16 or AMX, a CUDA GPU with bf16), else fp32. bf16 trains reference_unet
    # width 16 about 2x faster on the development CPU; it is the only setting that changes numerics.
    precision: str = "auto"
    # Validation, best.pt and export use an exponential moving average of the weights with this
    # decay per optimiser step (0: the raw weights). 0.99 averages over ~100 steps (~4 epochs).
    ema_decay: float = 0.0
    # best.pt is the epoch with the best validation metric (the family's selection_metric) among
    # those from this fraction of training on (0.8: the first learning-rate drop). reference_unet's
    # pixel AUROC saturates at 0.99+ within a few epochs, so over all epochs it picked under-trained
    # ones: in the recipe sweep best.pt scored below last.pt in 15 of 21 recipes. 0: every epoch.
    best_from: float = 0.8

    def validate(self) -> None:
        """Raises InvalidArgumentError on settings that cannot train."""
        problems = []
        if self.epochs < 0:
            problems.append(f"epochs must be >= 1, or 0 to follow sample_budget, got {self.epochs}")
        if self.sample_budget < 1:
            problems.append(f"sample_budget must be >= 1, got {self.sample_budget}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.accumulate < 1:
            problems.append(f"accumulate must be >= 1, got {self.accumulate}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not _is_device_name(self.device):
            problems.append(f"device must be cpu, cuda, cuda:N or auto, got {self.device!r}")
        if not 0.0 <= self.best_from < 1.0:
            problems.append(f"best_from must lie in [0, 1), got {self.best_from}")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        from defectkit import families

        family = families.get(self.family)
        if not isinstance(self.family_config, family.config_class):
            problems.append(
                f"family_config must be a {family.config_class.__name__} for family {self.family!r}, "
                f"got {type(self.family_config).__name__}"
            )
        else:
            problems.extend(self.family_config.problems())
        if problems:
            msg = "invalid training settings: " + "; ".join(problems)
            raise InvalidArgumentError(msg)

    def with_epochs_for(self, items_per_epoch: int) -> TrainConfig:
        """This config with ``epochs`` set: as given, or (if 0) ``ceil(sample_budget / items_per_epoch)``."""
        if self.epochs:
            return self
        epochs = max(1, math.ceil(self.sample_budget / max(1, items_per_epoch)))
        return dataclasses.replace(self, epochs=epochs)

    def first_best_candidate(self) -> int:
        """The first epoch (0-based) that may become best.pt (see ``best_from``); needs ``epochs`` set."""
        if self.epochs < 1:
            msg = "first_best_candidate needs epochs set (TrainConfig.with_epochs_for)"
            raise InvalidArgumentError(msg)
        return min(round(self.best_from * self.epochs), self.epochs - 1)

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["family_config"] = self.family_config.to_dict()
        return json.loads(json.dumps(values))  # tuples become lists, as config.json holds them

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config from :meth:`to_dict` output, or from a run saved before the family seam
        (one flat dict: the family's settings beside the shared ones, ``patch_budget``)."""
        from defectkit import families

        shared = {f.name for f in dataclasses.fields(cls)}
        values = {_RENAMED.get(k, k): v for k, v in values.items()}
        family = families.get(values.get("family", families.DEFAULT_FAMILY))
        own = dict(values.get("family_config") or {})
        own.update({k: v for k, v in values.items() if k not in shared})  # a flat, older config
        converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in shared}
        converted["family"] = family.name
        converted["family_config"] = family.config_class.from_dict(own)
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
