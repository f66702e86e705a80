"""Paired evidence for export's decisions: is a candidate within a tolerance of its reference?

Every choice export makes (graph kind, calibration method, float islands, the
INT8 gate) compares a candidate model with a reference on the *same*
validation images. The quantities are the drops in image AUROC and in pixel
AUROC, reference minus candidate. Their uncertainty comes from a stratified,
paired bootstrap over images: defective and good images are resampled apart
(each resample keeps both classes), and one resample weighs the reference and
the candidate alike, so what the two share cancels. Pixels of one image are not
independent, so images are resampled, never pixels.

The test is one of non-inferiority at a tolerance ``t``, on the one-sided
``1 - alpha`` bounds of the drop:

- ``pass``: the upper bound is at most ``t``: a candidate that really loses
  more than ``t`` passes with probability at most ``alpha``;
- ``fail``: the lower bound is above ``t``: a loss larger than ``t`` is shown;
- ``undecided``: the interval straddles ``t``; more images can decide.

Pixel AUROC is computed from per-image histograms of the heatmap (``BINS``
equal bins on [0, 1]), so a resample only re-weighs histograms; with 4,096
bins it agrees with the exact pooled value to about 1e-4, the same for both
sides of a comparison.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "BINS",
    "Comparison",
    "MetricComparison",
    "SampleOutputs",
    "compare",
    "pair_resolution",
    "paired_time_ratio",
    "summarise",
    "verdict",
]

BINS = 4096
REPLICATES = 2000
_CHUNK = 250  # bootstrap replicates per matrix product (bounds memory: _CHUNK x BINS doubles)


@dataclasses.dataclass
class SampleOutputs:
    """One model's outputs on the decision images, reduced to what the comparisons need.

    ``pixel_hist[i, 0]`` counts image i's background pixels per heatmap bin, ``pixel_hist[i, 1]``
    its defect pixels; None when the model gives no heatmap.
    """

    labels: np.ndarray  # (N,) int: 1 defective
    scores: np.ndarray  # (N,) float64 image scores
    pixel_hist: np.ndarray | None = None  # (N, 2, BINS) float64 counts

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, count: int) -> SampleOutputs:
        """The outputs on the first ``count`` images."""
        hist = None if self.pixel_hist is None else self.pixel_hist[:count]
        return SampleOutputs(self.labels[:count], self.scores[:count], hist)

    def extended(self, more: SampleOutputs) -> SampleOutputs:
        """These outputs followed by ``more``'s (more images of the same decision set)."""
        hist = None
        if self.pixel_hist is not None and more.pixel_hist is not None:
            hist = np.concatenate([self.pixel_hist, more.pixel_hist])
        return SampleOutputs(
            np.concatenate([self.labels, more.labels]), np.concatenate([self.scores, more.scores]), hist
        )


def summarise(
    labels: Sequence[int],
    scores: Sequence[float],
    heatmaps: Sequence[np.ndarray] | None = None,
    masks: Sequence[np.ndarray] | None = None,
) -> SampleOutputs:
    """Labels, image scores and, with heatmaps and masks ((H, W) each), per-image pixel histograms."""
    hist = None
    if heatmaps is not None and masks is not None:
        hist = np.zeros((len(heatmaps), 2, BINS))
        for index, (heatmap, mask) in enumerate(zip(heatmaps, masks, strict=True)):
            bins = np.minimum((np.clip(heatmap, 0.0, 1.0) * BINS).astype(np.int64), BINS - 1).ravel()
            defect = np.asarray(mask, dtype=bool).ravel()
            hist[index, 0] = np.bincount(bins[~defect], minlength=BINS)
            hist[index, 1] = np.bincount(bins[defect], minlength=BINS)
    return SampleOutputs(np.asarray(labels, dtype=np.int64), np.asarray(scores, dtype=np.float64), hist)


def verdict(interval: tuple[float, float], tolerance: float) -> str:
    """``pass`` when the drop's upper bound is within ``tolerance``, ``fail`` when its lower bound
    is above it, else ``undecided``. A negative drop is a gain."""
    low, high = interval
    if high <= tolerance:
        return "pass"
    if low > tolerance:
        return "fail"
    return "undecided"


def interval_side(low: float, high: float, below: str, above: str, null: float = 1.0) -> str:
    """``below`` when the whole interval lies under ``null`` (1 for a ratio, 0 for a difference),
    ``above`` when it lies over it, else "no difference shown": the research scripts' verdict."""
    return below if high < null else above if low > null else "no difference shown"


@dataclasses.dataclass(frozen=True)
class MetricComparison:
    """One metric of a paired comparison; ``drop`` is reference minus candidate."""

    metric: str
    reference: float
    candidate: float
    drop: float
    interval: tuple[float, float]  # one-sided (1 - alpha) lower and upper bounds of the drop
    verdict: str


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A candidate against its reference on the same images."""

    images: int
    defective: int
    tolerance: float
    confidence: float  # one-sided, of each bound
    metrics: dict[str, MetricComparison]

    @property
    def verdict(self) -> str:
        """``fail`` if any metric fails, ``pass`` if every one passes, else ``undecided``."""
        verdicts = {m.verdict for m in self.metrics.values()}
        if "fail" in verdicts:
            return "fail"
        return "pass" if verdicts == {"pass"} else "undecided"

    @property
    def worst_upper_bound(self) -> float:
        """The largest upper bound over the metrics: how close the candidate is shown to be."""
        return max(m.interval[1] for m in self.metrics.values())

    def describe(self) -> str:
        parts = [
            f"{m.metric} {m.candidate:.4f} vs {m.reference:.4f}, drop {m.drop:+.4f} "
            f"[{m.interval[0]:+.4f}, {m.interval[1]:+.4f}]"
            for m in self.metrics.values()
        ]
        return f"{'; '.join(parts)} on {self.images} images: {self.verdict} at tolerance {self.tolerance}"


def pair_resolution(labels: Sequence[int]) -> float:
    """How much one misordered (defective, good) pair moves image AUROC: 1 / (P * N)."""
    labels = np.asarray(labels)
    pairs = int(labels.sum()) * int((1 - labels).sum())
    return math.inf if pairs == 0 else 1.0 / pairs


def _pair_matrix(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """(P, N): 1 where the defective image outscores the good one, 0.5 for a tie, else 0."""
    difference = scores[positive][:, None] - scores[negative][None, :]
    return (difference > 0) + 0.5 * (difference == 0)


def _hist_auroc(background: np.ndarray, defect: np.ndarray) -> np.ndarray:
    """AUROC of pooled histograms, one per row: (B, BINS) each -> (B,)."""
    below = np.cumsum(background, axis=1) - background  # background pixels in lower bins
    wins = (defect * (below + 0.5 * background)).sum(axis=1)
    total = defect.sum(axis=1) * background.sum(axis=1)
    return np.divide(wins, total, out=np.full(len(total), np.nan), where=total > 0)


def _weights(labels: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates, N) resampling counts: each class resampled with replacement, to its own size."""
    weights = np.zeros((replicates, len(labels)))
    for cls in (0, 1):
        members = np.flatnonzero(labels == cls)
        if members.size:
            weights[:, members] = rng.multinomial(
                members.size, np.full(members.size, 1 / members.size), replicates
            )
    return weights


def compare(
    reference: SampleOutputs,
    candidate: SampleOutputs,
    tolerance: float,
    *,
    alpha: float = 0.05,
    replicates: int = REPLICATES,
    seed: int = 0,
) -> Comparison:
    """Paired non-inferiority of ``candidate`` against ``reference`` on image and pixel AUROC.

    Raises:
        ValueError: the two were measured on different images, or the images hold one class only.
    """
    labels = reference.labels
    if not np.array_equal(labels, candidate.labels):
        msg = "reference and candidate were measured on different images"
        raise ValueError(msg)
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if not positive.size or not negative.size:
        msg = f"a comparison needs defective and good images; got {positive.size} and {negative.size}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    weights = _weights(labels, replicates, rng)  # (B, N), one resample for every metric
    image_ref = _pair_matrix(reference.scores, positive, negative)
    image_cand = _pair_matrix(candidate.scores, positive, negative)
    pairs = positive.size * negative.size
    image_drops = (
        np.einsum("bp,pn,bn->b", weights[:, positive], image_ref - image_cand, weights[:, negative]) / pairs
    )
    drops = {"image_auroc": (image_ref.mean(), image_cand.mean(), image_drops)}
    if reference.pixel_hist is not None and candidate.pixel_hist is not None:
        values = []
        for hist in (reference.pixel_hist, candidate.pixel_hist):
            full = _hist_auroc(hist[:, 0].sum(0)[None], hist[:, 1].sum(0)[None])[0]
            boot = np.concatenate(
                [
                    _hist_auroc(w @ hist[:, 0], w @ hist[:, 1])
                    for w in np.array_split(weights, max(1, replicates // _CHUNK))
                ]
            )
            values.append((full, boot))
        (ref_full, ref_boot), (cand_full, cand_boot) = values
        drops["pixel_auroc"] = (ref_full, cand_full, ref_boot - cand_boot)
    metrics = {}
    for name, (ref_value, cand_value, boot) in drops.items():
        boot = boot[np.isfinite(boot)]
        interval = (float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha)))
        metrics[name] = MetricComparison(
            name,
            float(ref_value),
            float(cand_value),
            float(ref_value - cand_value),
            interval,
            verdict(interval, tolerance),
        )
    return Comparison(len(labels), int(positive.size), tolerance, 1 - alpha, metrics)


def paired_time_ratio(
    candidate: Sequence[float], reference: Sequence[float], *, alpha: float = 0.05, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Median of the per-image time ratios candidate / reference (the same images, in order) and
    its one-sided ``1 - alpha`` bounds from a bootstrap over images."""
    n = min(len(candidate), len(reference))
    if n == 0:
        return math.nan, (math.nan, math.nan)
    ratios = np.asarray(candidate[:n], dtype=np.float64) / np.asarray(reference[:n], dtype=np.float64)
    rng = np.random.default_rng(seed)
    medians = np.median(ratios[rng.integers(0, n, size=(REPLICATES, n))], axis=1)
    return float(np.median(ratios)), (
        float(np.quantile(medians, alpha)),
        float(np.quantile(medians, 1 - alpha)),
    )
