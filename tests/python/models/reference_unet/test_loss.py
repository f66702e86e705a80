"""FocalLoss against a hand-computed value; gamma schedules at their ends and middle."""

from __future__ import annotations

import math

import pytest
import torch

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet import FocalLoss, gamma_at


def test_focal_loss_two_pixels_by_hand() -> None:
    # Pixel 0: defect, logits (0, ln 3) -> p = 3/4.  Pixel 1: background, logits (0, 0) -> p = 1/2.
    logits = torch.tensor([[[[0.0, 0.0]], [[math.log(3.0), 0.0]]]])  # (1, 2, 1, 2)
    target = torch.tensor([[[[1.0, 0.0]]]])  # (1, 1, 1, 2)
    alpha, gamma = 0.75, 2.0
    defect = alpha * (1 - 0.75) ** gamma * -math.log(0.75)
    background = (1 - alpha) * 0.5**gamma * -math.log(1 - 0.5)
    expected = (defect + background) / 2  # = 0.028403...
    loss = FocalLoss(alpha=alpha)(logits, target, gamma=gamma)
    assert loss.ndim == 0
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(loss) == pytest.approx(0.0284034, abs=1e-6)


def test_focal_loss_smoothing_clamps_confident_mistakes() -> None:
    logits = torch.tensor([[[[0.0]], [[-200.0]]]], requires_grad=True)  # p(defect) ~ 0, target defect
    target = torch.ones(1, 1, 1, 1)
    loss = FocalLoss(alpha=0.75, smoothing=1e-5)(logits, target, gamma=1.0)
    expected = 0.75 * (1 - 1e-5) * -math.log(1e-5)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-4)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_focal_loss_integer_target_and_gamma_zero_is_weighted_cross_entropy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 4, 4)
    target = (torch.rand(2, 1, 4, 4) > 0.5).long()
    log_p = torch.log_softmax(logits, dim=1)
    t = target[:, 0].float()
    expected = -(0.75 * t * log_p[:, 1] + 0.25 * (1 - t) * log_p[:, 0]).mean()
    loss = FocalLoss(alpha=0.75, smoothing=0.0)(logits, target, gamma=0.0)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_focal_loss_rejects_bad_shapes() -> None:
    loss = FocalLoss()
    with pytest.raises(InvalidArgumentError):
        loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4), gamma=2.0)
    with pytest.raises(InvalidArgumentError):
        loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4), gamma=2.0)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("cosine", (1.0, 2.0, 3.0)), ("linear", (1.0, 2.0, 3.0)), ("constant", (1.0, 1.0, 1.0))],
)
def test_gamma_schedules(kind: str, expected: tuple[float, float, float]) -> None:
    values = tuple(gamma_at(progress, start=1.0, end=3.0, kind=kind) for progress in (0.0, 0.5, 1.0))
    assert values == pytest.approx(expected)


def test_gamma_cosine_is_slow_at_the_ends() -> None:
    assert gamma_at(0.25, kind="cosine") == pytest.approx(1.0 + 2.0 * (1 - math.cos(math.pi / 4)) / 2)
    assert gamma_at(0.25, kind="cosine") < gamma_at(0.25, kind="linear")


def test_gamma_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="schedule"):
        gamma_at(0.5, kind="step")
    with pytest.raises(InvalidArgumentError):
        gamma_at(1.5)


def test_distractor_term_by_hand() -> None:
    # Pixel 0: a distractor at p = 1/2; pixel 1: plain background at p = 1/4 (logits (ln 3, 0)).
    logits = torch.tensor([[[[0.0, math.log(3.0)]], [[0.0, 0.0]]]])  # (1, 2, 1, 2)
    target = torch.zeros(1, 1, 1, 2)
    distractors = torch.tensor([[[[1.0, 0.0]]]])
    gamma, weight = 3.0, 0.2
    focal = 0.25 * (0.5**gamma * -math.log(0.5) + 0.25**gamma * -math.log(0.75)) / 2
    expected = focal + weight * -math.log(0.5) / 2  # the distractor's cross-entropy, no focal factor
    loss_fn = FocalLoss(alpha=0.75)
    assert float(loss_fn(logits, target, gamma, distractors, distractor_weight=weight)) == pytest.approx(
        expected, rel=1e-5
    )
    assert float(loss_fn(logits, target, gamma, distractors)) == pytest.approx(focal, rel=1e-5)  # weight 0
    with pytest.raises(InvalidArgumentError, match="distractors"):
        loss_fn(logits, target, gamma, torch.zeros(1, 1, 2, 1), distractor_weight=weight)
