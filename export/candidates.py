"""Export's candidates and the decision set they are measured on.

A :class:`Candidate` is one graph that could ship (a graph kind in FP32, or
an INT8 quantisation of one with a calibration method and float islands). A
:class:`DecisionSet` holds the validation samples every candidate runs on, the
reference's outputs on them, and can grow: when the samples cannot decide
between candidates, more are synthesised and the closest candidates are measured
on them too (the reference always), so comparisons stay paired.
:func:`decide` picks among candidates by the paired non-inferiority test of
:mod:`defectkit.evaluation.evidence`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx

from defectkit.evaluation.evidence import Comparison, SampleOutputs, compare, summarise

__all__ = ["FOCUS", "Candidate", "DecisionSet", "decide"]

logger = logging.getLogger("defectkit")

FOCUS = 2  # undecided candidates measured on each extension of the decision set


@dataclasses.dataclass(eq=False)
class Candidate:
    """One graph that could ship, and what was measured of it on the decision set."""

    name: str  # e.g. "fp32 full_frame", "int8 tiled percentile +head"
    precision: str  # "fp32" or "int8"
    kind: str  # the family's graph kind
    model: onnx.ModelProto
    # make_runner() -> an object with run(sample) -> (heatmap or None, score): the family's way to
    # run this graph. Built when needed and released after each measurement: an ONNX Runtime
    # session holds its arena (hundreds of MB for a strip graph), and an export tries many graphs.
    make_runner: Callable[[], Any]
    method: str | None = None  # INT8 calibration method
    islands: tuple[str, ...] = ()  # graph parts kept in float (INT8)
    float_nodes: int = 0
    rank: int = 0  # among candidates decided together, lower is preferred when several pass
    time_ratio: float | None = None  # median per-sample time against the reference's, when ranked by it
    outputs: SampleOutputs | None = None
    seconds: list[float] = dataclasses.field(default_factory=list)
    heatmap_mae: list[float] = dataclasses.field(default_factory=list)  # per sample, vs the reference
    defect_mae: list[float] = dataclasses.field(default_factory=list)  # defect pixels, defective samples
    comparison: Comparison | None = None
    outcome: str = ""  # why it shipped or not, for the report
    _runner: Any = dataclasses.field(default=None, repr=False)

    @property
    def runner(self) -> Any:
        if self._runner is None:
            self._runner = self.make_runner()
        return self._runner

    def release(self) -> None:
        """Drops the runner (its session and memory); the next use builds it again."""
        self._runner = None

    @property
    def measured(self) -> int:
        return 0 if self.outputs is None else len(self.outputs)

    @property
    def ms_per_sample(self) -> float:
        return 1e3 * float(np.median(self.seconds)) if self.seconds else math.nan

    def summary(self) -> dict:
        """What the report shows of this candidate."""
        entry = {
            "precision": self.precision,
            "graph": self.kind,
            "method": self.method,
            "float_islands": list(self.islands),
            "float_nodes": self.float_nodes,
            "samples": self.measured,
            "ms_per_sample": self.ms_per_sample,
            "time_ratio_vs_reference": self.time_ratio,
            "heatmap_mae_vs_reference": float(np.mean(self.heatmap_mae)) if self.heatmap_mae else None,
            "defect_pixel_mae_vs_reference": float(np.mean(self.defect_mae)) if self.defect_mae else None,
            "outcome": self.outcome,
        }
        if self.comparison is not None:
            c = self.comparison
            entry["comparison"] = {
                "verdict": c.verdict,
                "tolerance": c.tolerance,
                "confidence": c.confidence,
                "samples": c.images,
                "defective": c.defective,
                **{
                    m.metric: {
                        "reference": m.reference,
                        "candidate": m.candidate,
                        "drop": m.drop,
                        "interval": list(m.interval),
                        "verdict": m.verdict,
                    }
                    for m in c.metrics.values()
                },
            }
        return entry


class DecisionSet:
    """The samples candidates are compared on, the reference's outputs on them, and how to get more.

    Args:
        samples: The base validation samples (each with ``label`` and ``mask``, (H, W) bool or None).
        reference: Runs one sample: ``(heatmap or None, score)``; what every candidate must match.
        more: ``more(round)`` synthesises another batch of samples (round 1, 2, ...); an empty
            list when there is nothing to synthesise from.
        tolerance: The largest AUROC drop a candidate may show.
        alpha: One-sided error rate of the whole sequence of looks, spent unevenly (by the union
            bound, as Bonferroni but weighted): the last look the set can reach gets ``alpha / 2``,
            each earlier one ``alpha / (2 * max_extensions)``. An early look passes a candidate
            only on strong evidence; the look with the most samples keeps most of the power,
            where a small real loss (a fifth of the tolerance, say) can be shown within it.
        max_extensions: How many times the set may grow.
    """

    def __init__(
        self,
        samples: Sequence[Any],
        reference: Callable[[Any], tuple[np.ndarray | None, float]],
        more: Callable[[int], Sequence[Any]],
        tolerance: float,
        alpha: float = 0.05,
        max_extensions: int = 2,
    ) -> None:
        self.samples = list(samples)
        self.base = len(self.samples)
        self.tolerance, self.alpha, self.max_extensions = tolerance, alpha, max_extensions
        self.extensions = 0
        self._exhausted = False  # nothing more could be synthesised before the limit
        self._ends = [len(self.samples)]  # where the base samples and each extension's end
        self.keep: Candidate | None = None  # the candidate whose runner serves as the reference
        self._more = more
        self._reference_fn = reference
        self._reference_heatmaps: list[np.ndarray | None] = []
        self.reference = summarise([], [], [], [])
        self._measure_reference()

    @property
    def look_alpha(self) -> float:
        """The one-sided error rate of a comparison on every sample the set holds."""
        return self.alpha_for(self.extensions)

    def alpha_for(self, batches: int) -> float:
        """The one-sided error rate of a comparison on the base samples and ``batches`` extensions
        (see the class): a candidate is compared at most once on each such prefix."""
        if self.max_extensions == 0:
            return self.alpha  # one look only
        if batches == self.max_extensions or (self._exhausted and batches == self.extensions):
            return self.alpha / 2
        return self.alpha / (2 * self.max_extensions)

    def _measure_reference(self) -> None:
        new = self.samples[len(self._reference_heatmaps) :]
        heatmaps, scores = zip(*(self._reference_fn(s) for s in new), strict=True) if new else ((), ())
        self._reference_heatmaps.extend(heatmaps)
        self.reference = self.reference.extended(_summary(new, scores, heatmaps))

    def extend(self) -> bool:
        """Adds a batch of synthesised samples; False when the limit is reached or none can be made.

        When none can be made before the limit, the current look becomes the last one (its error
        rate rises to the last look's; the looks taken still sum to at most ``alpha``): the
        caller measures again to compare at it.
        """
        if self.extensions >= self.max_extensions or self._exhausted:
            return False
        more = self._more(self.extensions + 1)
        if not more:
            self._exhausted = True
            return False
        self.extensions += 1
        self.samples.extend(more)
        self._ends.append(len(self.samples))
        self._measure_reference()
        logger.info(
            "[export] the validation samples could not decide: %d more synthesised (%d in all)",
            len(more),
            len(self.samples),
        )
        return True

    def measure(self, candidate: Candidate, batches: int | None = None) -> None:
        """Runs ``candidate`` on the samples it has not seen (of the base samples and the first
        ``batches`` extensions; all when None), then compares it with the reference on them."""
        end = self._ends[self.extensions if batches is None else batches]
        new = self.samples[candidate.measured : end]
        heatmaps, scores = [], []
        for offset, item in enumerate(new):
            start = time.perf_counter()
            heatmap, score = candidate.runner.run(item)
            candidate.seconds.append(time.perf_counter() - start)
            reference = self._reference_heatmaps[candidate.measured + offset]
            if heatmap is not None and reference is not None:
                error = np.abs(heatmap - reference)
                candidate.heatmap_mae.append(float(error.mean()))
                if item.mask is not None and item.mask.any():
                    candidate.defect_mae.append(float(error[item.mask].mean()))
            heatmaps.append(heatmap)
            scores.append(score)
        if new:
            more = _summary(new, scores, heatmaps)
            candidate.outputs = more if candidate.outputs is None else candidate.outputs.extended(more)
        if candidate is not self.keep:
            candidate.release()
        looks = self._ends.index(candidate.measured)  # candidates are measured batch by batch
        candidate.comparison = compare(
            self.reference.head(candidate.measured),
            candidate.outputs,
            self.tolerance,
            alpha=self.alpha_for(looks),
        )


def _summary(samples: Sequence[Any], scores: Sequence[float], heatmaps: Sequence[Any]) -> SampleOutputs:
    """Labels and scores; pixel histograms where every sample has a heatmap and a mask."""
    pixels = all(h is not None for h in heatmaps) and all(s.mask is not None for s in samples)
    return summarise(
        [s.label for s in samples],
        scores,
        list(heatmaps) if pixels else None,
        [s.mask for s in samples] if pixels else None,
    )


def decide(
    pool: Sequence[Candidate], decision: DecisionSet, extend: bool = True, batches: int | None = None
) -> Candidate | None:
    """The candidate to ship from ``pool``: the best-ranked that passes, by its worst upper bound.

    While a candidate of a better rank than every passing one is undecided, the decision set
    grows (up to its limit; never when ``extend`` is False) and the :data:`FOCUS` closest of
    those undecided candidates are measured on the new samples; the others keep the verdict they
    had. An undecided candidate at the end counts as failed. ``batches`` limits the samples to
    the base ones and that many extensions (all when None). Returns None when none passes.
    """
    active = list(pool)
    while True:
        for candidate in active:
            decision.measure(candidate, batches)
        passing = [c for c in pool if c.comparison.verdict == "pass"]
        best_rank = min((c.rank for c in passing), default=math.inf)
        open_ = [c for c in active if c.comparison.verdict == "undecided" and c.rank < best_rank]
        if open_ and extend:
            look_alpha = decision.look_alpha
            if decision.extend():
                # Only the closest stay in play: measuring every undecided candidate on every
                # extension is what made a refusal cost minutes, for candidates that could not win.
                active = sorted(open_, key=lambda c: (c.comparison.worst_upper_bound, c.rank))[:FOCUS]
                continue
            if decision.look_alpha > look_alpha:  # this look became the last: compare at its rate
                active = open_
                continue
        if not passing:
            return None
        return min(
            (c for c in passing if c.rank == best_rank),
            key=lambda c: (c.comparison.worst_upper_bound, float(np.mean(c.heatmap_mae or [0.0]))),
        )
