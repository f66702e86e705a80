"""Export's two choices, as rules over candidates: which graph kind ships, and which INT8 model.

Both follow one rule (:func:`defectkit.export.candidates.decide`): a candidate
ships only when the paired comparison shows it within the tolerance of the
trained network; among those that pass, the fastest kind, and of equally fast
ones the one shown closest. Candidates come from factories, so the rules can be
tested on constructed candidates whose right answer is known.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from defectkit.evaluation.evidence import paired_time_ratio
from defectkit.export.candidates import Candidate, DecisionSet, decide

__all__ = ["choose_graph", "choose_int8"]

# The least a float island must bring the worst upper bound down (as a fraction of the tolerance)
# for the greedy search to keep it and go on: float nodes cost time, and a bound that moves by a
# ten-thousandth (seen on the AMD EPYC, 2026-12-01) is noise in where the loss lies, not a fix.
MIN_GAIN = 0.05

# make(fp32, method, islands) -> an INT8 candidate of that FP32 graph
MakeInt8 = Callable[[Candidate, str, tuple[str, ...]], Candidate]


def choose_graph(
    pool: Sequence[Candidate], reference: Candidate, decision: DecisionSet
) -> tuple[Candidate | None, str]:
    """The FP32 graph to ship from ``pool`` (which holds ``reference``): the fastest that passes.

    A graph ranks before the reference only when it is shown faster on the same samples (the
    upper bound of its median per-sample time ratio is below 1), otherwise after it.
    """
    for candidate in pool:
        decision.measure(candidate)
    reference.rank = 1
    for candidate in pool:
        if candidate is not reference:
            ratio, (_, high) = paired_time_ratio(candidate.seconds, reference.seconds)
            candidate.time_ratio = ratio
            candidate.rank = 0 if high < 1.0 else 2
    chosen = decide(pool, decision)
    if chosen is None:
        return None, "no graph passed"
    reason = f"fastest graph shown within {decision.tolerance} AUROC of the trained network"
    if chosen.time_ratio is not None:
        reason += f" ({chosen.time_ratio:.2f}x the reference graph's time per sample)"
    faster = [c.name for c in pool if c.rank < chosen.rank]
    if faster:
        reason += f"; faster but not shown within it: {', '.join(faster)}"
    return chosen, reason


def choose_int8(
    graphs: Sequence[Candidate],
    methods: Sequence[str],
    groups: Callable[[Candidate], Sequence[str]],
    make: MakeInt8,
    decision: DecisionSet,
    tried: list[Candidate],
) -> Candidate | None:
    """The INT8 model to ship, or None when none passes; every candidate built lands in ``tried``.

    Screening, on the base samples (not the extensions an earlier choice added): for each FP32
    graph in order, INT8 end to end with each calibration method; only if none passes, parts of
    the graph (``groups(fp32)``) kept in float, added greedily (each round the part that brought
    the worst upper bound down most stays; the search ends when none brings it down by
    :data:`MIN_GAIN` of the tolerance), fewest float nodes preferred.

    Confirmation, when the screen passed none, or passed only candidates of a later (slower)
    graph: the closest undecided candidate of the graphs before it and the closest of them
    without float islands are decided on a growing set (see :func:`decide`); a small real loss
    needs more samples than the screen holds to be shown within the tolerance, and only
    candidates that can win are worth measuring on them. One of them that passes ships; else
    the screen's pass, if any.
    """
    start = len(tried)
    order = {graph.kind: index for index, graph in enumerate(graphs)}
    screened: Candidate | None = None
    for fp32 in graphs:
        screened = _screen(fp32, methods, groups, make, decision, tried)
        if screened is not None:
            break
    # With a pass in graph k, only the graphs before it can still give something faster: on the
    # AMD EPYC a full-frame INT8 undecided on the screen lost to a tiled one with three float
    # islands that passed it, at 1.8x the time per strip (docs/experiments/reference_unet.md).
    last = len(graphs) if screened is None else order[screened.kind]
    undecided = [c for c in tried[start:] if c.comparison.verdict == "undecided" and order[c.kind] < last]
    if not undecided:
        return screened
    closest = min(undecided, key=_closeness)
    plain = min((c for c in undecided if not c.islands), key=_closeness, default=closest)
    finalists = list(dict.fromkeys((plain, closest)))
    for candidate in finalists:  # the chosen graph first, then fewer float nodes: faster
        candidate.rank = order[candidate.kind] * 1_000_000 + candidate.float_nodes
    return decide(finalists, decision) or screened


def _closeness(candidate: Candidate) -> tuple[float, int]:
    return candidate.comparison.worst_upper_bound, candidate.float_nodes


def _screen(
    fp32: Candidate,
    methods: Sequence[str],
    groups: Callable[[Candidate], Sequence[str]],
    make: MakeInt8,
    decision: DecisionSet,
    screened: list[Candidate],
) -> Candidate | None:
    """One graph's screening rounds on the base samples; the candidate that passed, or None."""
    pool = [make(fp32, method, ()) for method in methods]
    screened.extend(pool)
    chosen = decide(pool, decision, extend=False, batches=0)
    if chosen is not None:
        return chosen
    best = min(pool, key=_closeness)
    names = list(groups(fp32))
    kept: tuple[str, ...] = ()
    bound = best.comparison.worst_upper_bound
    while len(kept) < len(names):
        pool = [make(fp32, best.method, (*kept, name)) for name in names if name not in kept]
        for candidate in pool:
            candidate.rank = candidate.float_nodes  # fewer float nodes: faster
        screened.extend(pool)
        chosen = decide(pool, decision, extend=False, batches=0)
        if chosen is not None:
            return chosen
        closest = min(pool, key=_closeness)
        if closest.comparison.worst_upper_bound > bound - MIN_GAIN * decision.tolerance:
            break  # no part brought the bound down by enough to be worth its float nodes
        kept, bound = closest.islands, closest.comparison.worst_upper_bound
    return None
