"""An exponential moving average of the weights, the model that validation and export see.

With a constant learning rate the weights keep jumping between nearby solutions,
and the per-epoch validation scores jump with them; the average of the last few
hundred steps sits between those solutions and is steadier. Written by hand
(a dozen lines) rather than with ``torch.optim.swa_utils.AveragedModel``, whose
state dict prefixes every key with ``module.``: here the averaged weights are a
plain ``ReferenceUNet`` state dict, so checkpoints stay loadable by
``load_model`` and the exporter unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import torch


class WeightAverage:
    """``average = decay * average + (1 - decay) * weights`` after every optimiser step.

    The decay ramps up as ``(1 + t) / (10 + t)`` over the first steps (as timm's
    ModelEma does), so the random initial weights are forgotten quickly.
    Floating-point buffers (batch-norm statistics) are averaged like weights;
    integer ones (batch counts) are copied.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.steps = 0
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        pairs = zip(self.model.state_dict().values(), model.state_dict().values(), strict=True)
        for average, current in pairs:
            if average.is_floating_point():
                average.lerp_(current.detach(), 1.0 - decay)
            else:
                average.copy_(current)

    def state(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load(self, weights: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        self.model.load_state_dict(weights)
        self.steps = int(state["steps"])
