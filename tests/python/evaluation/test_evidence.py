"""The paired non-inferiority test behind every export decision, on data of the demo's size.

The demo's valid/ split holds 40 good and 40 defective strips; the constructed
sets below have that many images, scores that separate the classes about as
well as the demo model does (image AUROC near 0.97) and heatmaps whose defect
pixels are only partly separated from the background.
"""

from __future__ import annotations

import numpy as np
import pytest

from defectkit.evaluation.evidence import (
    BINS,
    compare,
    interval_side,
    pair_resolution,
    paired_time_ratio,
    summarise,
    verdict,
)
from defectkit.export.pipeline import ALPHA, GATE, MAX_EXTENSIONS

# The error rates export spends (DecisionSet.alpha_for): the strictest is that of an early look,
# the most lenient the last look's. Rounding must pass even at the strictest; a real loss must be
# refused even at the most lenient.
FIRST_LOOK_ALPHA = ALPHA / (2 * MAX_EXTENSIONS)
LAST_LOOK_ALPHA = ALPHA / 2
SIZE = 48  # heatmap side: small, the statistics do not depend on it


def demo_sized(seed: int, good: int = 40, defective: int = 40):
    """Labels, image scores, heatmaps and masks of a constructed validation split."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(good, int), np.ones(defective, int)]
    scores = np.r_[rng.normal(0.45, 0.06, good), rng.normal(0.66, 0.08, defective)]
    heatmaps, masks = [], []
    for label in labels:
        heatmap = rng.beta(1, 12, (SIZE, SIZE)).astype(np.float32)
        mask = np.zeros((SIZE, SIZE), bool)
        if label:
            y, x = rng.integers(0, SIZE - 8, 2)
            mask[y : y + 6, x : x + 6] = True
            heatmap[mask] = rng.beta(5, 3, int(mask.sum()))
        heatmaps.append(heatmap)
        masks.append(mask)
    return labels, scores, heatmaps, masks


def quantised(values, levels: int = 255):
    """What an INT8 graph's last QuantizeLinear does to a probability: steps of 1/255."""
    return np.round(np.asarray(values) * levels) / levels


@pytest.mark.parametrize("seed", range(5))
def test_int8_rounding_alone_passes_the_gate(seed) -> None:
    """Outputs that differ only by INT8's output rounding (1/255 steps) must not be refused."""
    labels, scores, heatmaps, masks = demo_sized(seed)
    reference = summarise(labels, scores, heatmaps, masks)
    candidate = summarise(labels, quantised(scores), [quantised(h) for h in heatmaps], masks)
    result = compare(reference, candidate, GATE, alpha=FIRST_LOOK_ALPHA)
    assert result.verdict == "pass", result.describe()


@pytest.mark.parametrize("seed", range(5))
def test_a_real_image_auroc_loss_above_the_tolerance_is_refused(seed) -> None:
    """Six of forty defects scored among the good strips: a loss of several times the gate."""
    labels, scores, heatmaps, masks = demo_sized(seed)
    worse = scores.copy()
    missed = np.flatnonzero(labels == 1)[:6]
    worse[missed] = np.random.default_rng(seed).normal(0.45, 0.06, missed.size)
    reference = summarise(labels, scores, heatmaps, masks)
    result = compare(reference, summarise(labels, worse, heatmaps, masks), GATE, alpha=LAST_LOOK_ALPHA)
    assert result.metrics["image_auroc"].drop > 2 * GATE
    assert result.verdict != "pass", result.describe()
    assert result.metrics["image_auroc"].verdict == "fail"


@pytest.mark.parametrize("seed", range(5))
def test_a_real_pixel_auroc_loss_above_the_tolerance_is_refused(seed) -> None:
    """Defect pixels of a quarter of the defective strips dimmed into the background."""
    labels, scores, heatmaps, masks = demo_sized(seed)
    dimmed = [h.copy() for h in heatmaps]
    for index in np.flatnonzero(labels == 1)[:10]:
        dimmed[index][masks[index]] *= 0.25
    reference = summarise(labels, scores, heatmaps, masks)
    result = compare(reference, summarise(labels, scores, dimmed, masks), GATE, alpha=LAST_LOOK_ALPHA)
    assert result.metrics["pixel_auroc"].drop > 2 * GATE
    assert result.metrics["pixel_auroc"].verdict == "fail"
    assert result.verdict == "fail"


def test_a_better_candidate_passes_whatever_the_size_of_its_gain() -> None:
    """The sign: a negative drop is a gain, never a failure."""
    labels, scores, heatmaps, masks = demo_sized(0)
    better = scores + 0.3 * labels  # every defect now outscores every good strip
    result = compare(
        summarise(labels, scores, heatmaps, masks), summarise(labels, better, heatmaps, masks), GATE
    )
    assert result.metrics["image_auroc"].drop < -GATE
    assert result.metrics["image_auroc"].candidate == 1.0
    assert result.verdict == "pass"


def test_the_verdict_at_the_limit() -> None:
    assert verdict((-0.01, GATE), GATE) == "pass"  # the upper bound may reach the tolerance
    assert verdict((-0.01, np.nextafter(GATE, 1.0)), GATE) == "undecided"
    assert verdict((GATE, 0.02), GATE) == "undecided"  # the lower bound must exceed it to fail
    assert verdict((np.nextafter(GATE, 1.0), 0.02), GATE) == "fail"
    assert verdict((-0.03, -0.02), GATE) == "pass"


def test_an_identical_candidate_has_a_zero_drop_and_a_zero_width_interval() -> None:
    labels, scores, heatmaps, masks = demo_sized(1)
    outputs = summarise(labels, scores, heatmaps, masks)
    result = compare(outputs, outputs, GATE)
    for metric in result.metrics.values():
        assert metric.drop == 0.0 and metric.interval == (0.0, 0.0)
    assert result.verdict == "pass" and result.images == 80 and result.defective == 40


def test_point_estimates_match_the_exact_aurocs() -> None:
    """Image AUROC exactly; pixel AUROC from BINS-bin histograms within 1e-3 of the pooled value."""
    from defectkit.evaluation.metrics import auroc, pixel_auroc

    labels, scores, heatmaps, masks = demo_sized(2)
    worse = scores - 0.1 * labels
    result = compare(
        summarise(labels, scores, heatmaps, masks), summarise(labels, worse, heatmaps, masks), GATE
    )
    image = result.metrics["image_auroc"]
    assert image.reference == pytest.approx(auroc(labels, scores), abs=1e-12)
    assert image.candidate == pytest.approx(auroc(labels, worse), abs=1e-12)
    assert result.metrics["pixel_auroc"].reference == pytest.approx(pixel_auroc(masks, heatmaps), abs=1e-3)
    assert BINS >= 1024


def test_images_measured_differently_cannot_be_compared() -> None:
    labels, scores, _, _ = demo_sized(3)
    other = labels.copy()
    other[0] = 1 - other[0]
    with pytest.raises(ValueError, match="different images"):
        compare(summarise(labels, scores), summarise(other, scores), GATE)
    with pytest.raises(ValueError, match="defective and good"):
        compare(summarise(labels * 0, scores), summarise(labels * 0, scores), GATE)


def test_pair_resolution_is_one_over_the_pairs() -> None:
    assert pair_resolution([0] * 4 + [1] * 6) == pytest.approx(1 / 24)  # the old 10-strip valid/
    assert pair_resolution([0] * 40 + [1] * 40) == pytest.approx(1 / 1600)
    assert pair_resolution([1, 1]) == float("inf")


def test_a_time_ratio_is_shown_below_one_only_for_a_real_speed_up() -> None:
    rng = np.random.default_rng(0)
    reference = 0.10 + rng.normal(0, 0.01, 80)
    ratio, (_, high) = paired_time_ratio(0.6 * reference, reference)
    assert ratio == pytest.approx(0.6) and high < 1.0
    _, (low, high) = paired_time_ratio(reference + rng.normal(0, 0.01, 80), reference)
    assert low < 1.0 < high  # the same graph timed twice: not shown faster


@pytest.mark.parametrize(
    ("low", "high", "null", "expected"),
    [(0.8, 0.95, 1.0, "below"), (1.02, 1.2, 1.0, "above"), (0.9, 1.1, 1.0, "no difference shown"),
     (0.95, 1.0, 1.0, "no difference shown"), (-0.2, -0.01, 0.0, "below"), (0.01, 0.3, 0.0, "above")],
)  # fmt: skip
def test_a_side_is_named_only_when_the_whole_interval_lies_on_it(low, high, null, expected) -> None:
    assert interval_side(low, high, "below", "above", null=null) == expected
