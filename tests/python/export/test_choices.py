"""Export's decisions pinned on constructed candidates whose right answer is known: the graph
choice, the calibration choice, float islands, growing the decision set, and refusing when
nothing passes.

Each candidate is a fake graph: its runner returns the reference's output for the strip,
transformed (rounded like INT8, degraded on some strips) and after a chosen delay.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from defectkit.export import choices
from defectkit.export.candidates import FOCUS, Candidate, DecisionSet, decide
from defectkit.export.choices import choose_graph, choose_int8
from defectkit.models.reference_unet.export.strips import LabelledStrip

GATE = 0.005
SIZE = 32


def strips(seed: int, good: int = 40, defective: int = 40, background: float = 10) -> list[LabelledStrip]:
    """Strips whose first channel is the reference heatmap (x 255); defects are bright blocks on a
    Beta(1, background) background."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(good + defective):
        heatmap = rng.beta(1, background, (SIZE, SIZE))
        mask = np.zeros((SIZE, SIZE), bool)
        if index >= good:
            y, x = rng.integers(0, SIZE - 6, 2)
            mask[y : y + 5, x : x + 5] = True
            heatmap[mask] = rng.uniform(0.35, 0.95, int(mask.sum()))
        strip = np.repeat((255 * heatmap)[None], 3, axis=0).astype(np.float32)
        out.append(LabelledStrip(f"s{index}", "defect" if index >= good else "good", strip, mask))
    return out


def reference(sample: LabelledStrip) -> tuple[np.ndarray, float]:
    heatmap = sample.strip[0] / 255.0
    return heatmap, float(heatmap.max())


class FakeRunner:
    def __init__(self, transform=None, delay: float = 0.0, degrade: set[str] | None = None) -> None:
        self.transform, self.delay, self.degrade = transform, delay, degrade or set()

    def run(self, sample: LabelledStrip) -> tuple[np.ndarray, float]:
        time.sleep(self.delay)
        strip = sample.strip
        heatmap, _ = reference(sample)
        if self.transform is not None:
            heatmap = self.transform(heatmap)
        key = float(strip[0].sum())  # which strip this is, without its name
        if key in self.degrade:
            heatmap = heatmap * 0.3  # the defect fades below the good strips' backgrounds
        return heatmap, float(heatmap.max())


def rounded(heatmap: np.ndarray) -> np.ndarray:
    return np.round(heatmap * 255) / 255


def candidate(name: str, runner: FakeRunner, precision: str = "fp32", **fields) -> Candidate:
    return Candidate(
        name=name, precision=precision, kind=name.split()[1], model=None, make_runner=lambda: runner, **fields
    )


def decision_set(base: list[LabelledStrip], more=None, max_extensions: int = 2) -> DecisionSet:
    return DecisionSet(base, reference, more or (lambda r: []), tolerance=GATE, max_extensions=max_extensions)


def degraded(base: list[LabelledStrip], count: int) -> set[str]:
    """The keys of the first ``count`` defective strips."""
    return {float(s.strip[0].sum()) for s in [s for s in base if s.label][:count]}


def test_the_faster_graph_ships_when_it_passes() -> None:
    base = strips(0)
    tiled = candidate("fp32 tiled", FakeRunner(delay=0.006))
    full = candidate("fp32 full_frame", FakeRunner(rounded, delay=0.0015))
    chosen, reason = choose_graph([tiled, full], tiled, decision_set(base))
    assert chosen is full
    assert full.rank == 0 and full.time_ratio < 0.5 and "fastest" in reason


def test_a_faster_graph_that_loses_accuracy_does_not_ship() -> None:
    base = strips(1)
    tiled = candidate("fp32 tiled", FakeRunner(delay=0.006))
    full = candidate("fp32 full_frame", FakeRunner(delay=0.0015, degrade=degraded(base, 8)))
    chosen, reason = choose_graph([tiled, full], tiled, decision_set(base))
    assert chosen is tiled
    assert full.comparison.verdict == "fail"
    assert "full_frame" in reason


def test_a_graph_not_shown_faster_does_not_displace_the_reference() -> None:
    # A little slower rather than exactly as fast: equal speeds are "shown faster" 5% of the time
    # by design (a one-sided 95% bound), which a test must not depend on.
    base = strips(2)
    tiled = candidate("fp32 tiled", FakeRunner(delay=0.001))
    same_speed = candidate("fp32 full_frame", FakeRunner(rounded, delay=0.0012))
    chosen, _ = choose_graph([tiled, same_speed], tiled, decision_set(base))
    assert chosen is tiled and same_speed.rank == 2


def int8_factory(behaviour: dict, calls: list):
    """make(fp32, method, islands) over a table: (method, islands) -> FakeRunner."""

    def make(fp32: Candidate, method: str, islands: tuple[str, ...]) -> Candidate:
        calls.append((method, islands))
        runner = behaviour.get((method, islands), behaviour.get((method, "*")))
        made = candidate(
            f"int8 {fp32.kind} {method}{''.join(' +' + i for i in islands)}",
            runner,
            precision="int8",
            method=method,
            islands=islands,
            float_nodes=10 * len(islands),
        )
        return made

    return make


def test_calibration_choice_follows_the_gate_not_the_closest_heatmap() -> None:
    """minmax has the smaller heatmap error but loses defects; entropy only rounds: entropy ships."""
    base = strips(3)
    fp32 = candidate("fp32 tiled", FakeRunner())
    lost = degraded(base, 8)
    behaviour = {
        ("minmax", ()): FakeRunner(degrade=lost),
        ("entropy", ()): FakeRunner(lambda h: rounded(h + 0.01)),
    }
    calls: list = []
    tried: list[Candidate] = []
    chosen = choose_int8(
        [fp32],
        ["minmax", "entropy"],
        lambda g: ["head"],
        int8_factory(behaviour, calls),
        decision_set(base),
        tried,
    )
    minmax = next(c for c in tried if c.method == "minmax")
    assert np.mean(minmax.heatmap_mae) < np.mean(chosen.heatmap_mae)
    assert chosen.method == "entropy" and chosen.islands == ()
    assert all(islands == () for _, islands in calls)  # no float island where none is needed


def test_float_islands_only_where_the_gate_needs_them() -> None:
    base = strips(4)
    fp32 = candidate("fp32 tiled", FakeRunner())
    lost = degraded(base, 8)
    behaviour = {
        ("minmax", ()): FakeRunner(degrade=lost),
        ("percentile", ()): FakeRunner(degrade=lost),
        ("minmax", ("head",)): FakeRunner(rounded),
        ("minmax", ("input",)): FakeRunner(degrade=lost),
        ("minmax", ("input", "head")): FakeRunner(rounded),
    }
    calls: list = []
    tried: list[Candidate] = []
    make = int8_factory(behaviour, calls)
    chosen = choose_int8(
        [fp32], ["minmax", "percentile"], lambda g: ["input", "head"], make, decision_set(base), tried
    )
    assert chosen is not None and chosen.islands == ("head",)


def test_a_second_graph_is_tried_before_refusing() -> None:
    base = strips(5)
    full, tiled = candidate("fp32 full_frame", FakeRunner()), candidate("fp32 tiled", FakeRunner())
    lost = degraded(base, 8)

    def make(fp32: Candidate, method: str, islands: tuple[str, ...]) -> Candidate:
        runner = FakeRunner(rounded) if fp32 is tiled and not islands else FakeRunner(degrade=lost)
        return candidate(f"int8 {fp32.kind} {method}", runner, "int8", method=method, islands=islands)

    tried: list[Candidate] = []
    chosen = choose_int8([full, tiled], ["minmax"], lambda g: ["head"], make, decision_set(base), tried)
    assert chosen is not None and chosen.kind == "tiled"


def test_nothing_passes_nothing_is_chosen_and_the_search_stops_when_float_does_not_help() -> None:
    base = strips(6)
    fp32 = candidate("fp32 tiled", FakeRunner())
    lost = degraded(base, 8)
    behaviour = {("minmax", "*"): FakeRunner(degrade=lost)}
    tried: list[Candidate] = []
    calls: list = []
    chosen = choose_int8(
        [fp32],
        ["minmax"],
        lambda g: ["input", "head"],
        int8_factory(behaviour, calls),
        decision_set(base),
        tried,
    )
    assert chosen is None
    # Neither part brought the bound down, so no pair of them was tried.
    assert [c.islands for c in tried] == [(), ("input",), ("head",)]
    assert all(c.comparison.verdict == "fail" for c in tried)


def one_pair_swapped(base: list[LabelledStrip]) -> type[FakeRunner]:
    """A runner that pushes the weakest defect of ``base`` just below its strongest good strip."""
    scores = sorted((reference(s)[1], s.label, float(s.strip[0].sum())) for s in base)
    weakest = min(s for s in scores if s[1] == 1)[2]
    strongest_good = max(s[0] for s in scores if s[1] == 0)

    class OnePairSwapped(FakeRunner):
        def run(self, sample):
            heatmap, _ = reference(sample)
            if float(sample.strip[0].sum()) == weakest:
                heatmap = np.minimum(heatmap, strongest_good - 1e-3)
            return heatmap, float(heatmap.max())

    return OnePairSwapped


def test_an_undecided_candidate_gets_more_strips_then_passes() -> None:
    """Ten strips cannot resolve one swapped pair (1/25 of AUROC); the synthesised ones can."""
    base = strips(7, good=5, defective=5)
    more = strips(8, background=40)  # darker good strips: the pushed-down defect still beats them
    OnePairSwapped = one_pair_swapped(base)

    decision = decision_set(base, more=lambda r: more)
    swapped = candidate("int8 tiled minmax", OnePairSwapped(), "int8")
    assert decide([swapped], decision) is swapped
    assert decision.extensions == 1 and len(decision.samples) == 10 + 80
    assert swapped.measured == 90

    strict = decision_set(base, more=lambda r: more, max_extensions=0)
    assert decide([candidate("int8 tiled minmax", OnePairSwapped(), "int8")], strict) is None


def test_the_looks_spend_alpha_unevenly_and_never_more_than_alpha() -> None:
    base = strips(9, good=5, defective=5)
    decision = decision_set(base, more=lambda r: strips(10 + r, good=5, defective=5), max_extensions=4)
    rates = [decision.look_alpha]
    while decision.extend():
        rates.append(decision.look_alpha)
    assert len(rates) == 5 and rates[-1] == decision.alpha / 2
    assert all(rate == decision.alpha / 8 for rate in rates[:-1])
    assert sum(rates) <= decision.alpha + 1e-12


def test_a_set_that_cannot_grow_makes_the_current_look_the_last() -> None:
    decision = decision_set(strips(11), max_extensions=4)  # nothing to synthesise from
    assert decision.look_alpha == decision.alpha / 8
    assert not decision.extend()
    assert decision.look_alpha == decision.alpha / 2 and decision.extensions == 0


def test_only_the_closest_undecided_candidates_are_measured_on_new_strips() -> None:
    """Five candidates the ten base strips cannot decide; the extension runs only FOCUS of them."""
    base = strips(12, good=5, defective=5)
    more = strips(13, background=40)
    decision = decision_set(base, more=lambda r: more, max_extensions=1)
    swapped = one_pair_swapped(base)
    pool = [candidate(f"int8 tiled m{i}", swapped(), "int8") for i in range(5)]
    decide(pool, decision)
    assert decision.extensions == 1
    measured = sorted(c.measured for c in pool)
    assert measured == [10] * (len(pool) - FOCUS) + [90] * FOCUS


class DimSome(FakeRunner):
    """Dims a fraction of the strips (drawn per strip, the same on every call) by ``factor``: a
    loss spread over the strips, which only many of them can tell from none."""

    def __init__(self, fraction: float, factor: float) -> None:
        super().__init__()
        self.fraction, self.factor = fraction, factor

    def run(self, sample: LabelledStrip) -> tuple[np.ndarray, float]:
        heatmap, _ = reference(sample)
        key = int(sample.strip[0].sum()) % 2**32
        if np.random.default_rng(key).random() < self.fraction:
            heatmap = heatmap * self.factor
        return heatmap, float(heatmap.max())


@pytest.mark.parametrize(("factor", "ships"), [(0.75, True), (0.6, False)])
def test_a_small_real_loss_is_confirmed_on_a_grown_set_and_a_larger_one_refused(factor, ships) -> None:
    """Every INT8 candidate loses a little, spread over the strips, as the AMD EPYC's did: the
    screen (80 strips) cannot show it within the tolerance; the confirmation on more strips
    shows a small loss (image drop ~0.001) within it and a larger one (~0.03) outside it. Only
    the finalists (the closest, and the closest without float islands) see the new strips."""
    base = strips(14)
    decision = decision_set(base, more=lambda r: strips(100 + r), max_extensions=6)
    behaviour = {("minmax", "*"): DimSome(0.1, factor), ("percentile", "*"): DimSome(0.1, factor)}
    tried: list[Candidate] = []
    chosen = choose_int8(
        [candidate("fp32 tiled", FakeRunner())],
        ["minmax", "percentile"],
        lambda g: ["input", "head"],
        int8_factory(behaviour, []),
        decision,
        tried,
    )
    assert decision.extensions >= 1
    assert all(c.comparison.verdict == "undecided" for c in tried if c.measured == len(base))
    assert 1 <= sum(c.measured > len(base) for c in tried) <= FOCUS
    if ships:
        assert chosen is not None and chosen.comparison.verdict == "pass" and chosen.islands == ()
    else:
        assert chosen is None


@pytest.mark.parametrize(("min_gain", "rounds"), [(0.1, 2), (0.5, 1)])
def test_the_greedy_search_goes_on_only_while_an_island_gains_enough(monkeypatch, min_gain, rounds) -> None:
    """The "input" island brings the bound down by 0.00125 (0.0275 -> 0.02625 on these strips):
    worth a second round when the least gain is a tenth of the tolerance, not when it is half."""
    monkeypatch.setattr(choices, "MIN_GAIN", min_gain)
    base = strips(15)
    worse, better = DimSome(0.1, 0.62), DimSome(0.1, 0.65)
    behaviour = {("minmax", ()): worse, ("minmax", ("head",)): worse}
    behaviour |= {("minmax", ("input",)): better, ("minmax", ("input", "head")): better}
    tried: list[Candidate] = []
    choose_int8(
        [candidate("fp32 tiled", FakeRunner())],
        ["minmax"],
        lambda g: ["input", "head"],
        int8_factory(behaviour, []),
        decision_set(base, max_extensions=0),
        tried,
    )
    first, by_input = tried[0], next(c for c in tried if c.islands == ("input",))
    gain = first.comparison.worst_upper_bound - by_input.comparison.worst_upper_bound
    assert gain == pytest.approx(0.00125)
    assert max(len(c.islands) for c in tried) == rounds


def test_the_screen_runs_on_the_base_samples_even_when_the_graph_choice_grew_the_set() -> None:
    base = strips(16)
    decision = decision_set(base, more=lambda r: strips(200 + r), max_extensions=4)
    assert decision.extend()  # as when the FP32 graph choice needed more strips
    tried: list[Candidate] = []
    chosen = choose_int8(
        [candidate("fp32 tiled", FakeRunner())],
        ["minmax"],
        lambda g: ["head"],
        int8_factory({("minmax", ()): FakeRunner(rounded)}, []),
        decision,
        tried,
    )
    assert chosen is tried[0] and chosen.measured == len(base) and len(decision.samples) == 2 * len(base)
    assert chosen.comparison.confidence == 1 - decision.alpha / 8  # the first look's rate


@pytest.mark.parametrize(("factor", "kind"), [(0.75, "full_frame"), (0.6, "tiled")])
def test_a_faster_graph_undecided_on_the_screen_is_confirmed_before_a_slower_pass_ships(factor, kind) -> None:
    """Full-frame INT8 loses a little, spread over the strips (undecided on the screen's 80);
    tiled INT8 passes the screen. The faster full frame gets the grown set: a small loss (~0.001)
    is shown within the tolerance and ships; a larger one (~0.03) is not, and the tiled pass ships."""
    base = strips(14)  # the strips on which the small loss is undecided (see the test above)
    decision = decision_set(base, more=lambda r: strips(100 + r), max_extensions=6)
    full, tiled = candidate("fp32 full_frame", FakeRunner()), candidate("fp32 tiled", FakeRunner())

    def make(fp32: Candidate, method: str, islands: tuple[str, ...]) -> Candidate:
        runner = DimSome(0.1, factor) if fp32 is full else FakeRunner(rounded)
        return candidate(f"int8 {fp32.kind} {method}", runner, "int8", method=method, islands=islands)

    tried: list[Candidate] = []
    chosen = choose_int8([full, tiled], ["minmax"], lambda g: ["head"], make, decision, tried)
    assert chosen is not None and chosen.kind == kind and chosen.comparison.verdict == "pass"
    screened_tiled = next(c for c in tried if c.kind == "tiled")
    assert screened_tiled.measured == len(base)  # the tiled pass is not measured again
    assert decision.extensions >= 1 and any(c.kind == "full_frame" and c.measured > len(base) for c in tried)
