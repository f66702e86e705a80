"""Export's candidates and the decision set they are measured on.

A :class:`Candidate` is one graph that could ship (a graph kind in FP32, or
an INT8 quantisation of one with a calibration method and float islands). A
:class:`DecisionSet` holds the validation samples every candidate runs on, the
reference's outputs on them, and can grow: when the samples cannot decide
between candidates, more are synthesised and every candidate measured so far
is measured on them too, so comparisons stay paired.
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

__all__ = ["Candidate", "DecisionSet", "decide"]

logger = logging.getLogger("defectkit")


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
        alpha: One-sided error rate of the whole sequence of looks; each look gets
            ``alpha / (1 + max_extensions)`` (Bonferroni), so looking again after an undecided
            result does not raise the chance that a real loss passes.
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
        self.keep: Candidate | None = None  # the candidate whose runner serves as the reference
        self._more = more
        self._reference_fn = reference
        self._reference_heatmaps: list[np.ndarray | None] = []
        self.reference = summarise([], [], [], [])
        self._measure_reference()

    @property
    def look_alpha(self) -> float:
        return self.alpha / (1 + self.max_extensions)

    def _measure_reference(self) -> None:
        new = self.samples[len(self._reference_heatmaps) :]
        heatmaps, scores = zip(*(self._reference_fn(s) for s in new), strict=True) if new else ((), ())
        self._reference_heatmaps.extend(heatmaps)
        self.reference = self.reference.extended(_summary(new, scores, heatmaps))

    def extend(self) -> bool:
        """Adds a batch of synthesised samples; False when the limit is reached or none can be made."""
        if self.extensions >= self.max_extensions:
            return False
        more = self._more(self.extensions + 1)
        if not more:
            return False
        self.extensions += 1
        self.samples.extend(more)
        self._measure_reference()
        logger.info(
            "[export] the validation samples could not decide: %d more synthesised (%d in all)",
            len(more),
            len(self.samples),
        )
        return True

    def measure(self, candidate: Candidate) -> None:
        """Runs ``candidate`` on the samples it has not seen, then compares it with the reference."""
        new = self.samples[candidate.measured :]
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
        candidate.comparison = compare(
            self.reference, candidate.outputs, self.tolerance, alpha=self.look_alpha
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


def decide(pool: Sequence[Candidate], decision: DecisionSet) -> Candidate | None:
    """The candidate to ship from ``pool``: the best-ranked that passes, by its worst upper bound.

    While a candidate of a better rank than every passing one is undecided, the decision set
    grows (up to its limit) and every candidate is measured again; an undecided candidate at the
    limit counts as failed. Returns None when none passes.
    """
    while True:
        for candidate in pool:
            decision.measure(candidate)
        passing = [c for c in pool if c.comparison.verdict == "pass"]
        best_rank = min((c.rank for c in passing), default=math.inf)
        if (
            any(c.comparison.verdict == "undecided" and c.rank < best_rank for c in pool)
            and decision.extend()
        ):
            continue
        if not passing:
            return None
        return min(
            (c for c in passing if c.rank == best_rank),
            key=lambda c: (c.comparison.worst_upper_bound, float(np.mean(c.heatmap_mae or [0.0]))),
        )
