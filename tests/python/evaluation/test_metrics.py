"""Metrics with known answers, the evaluation report, and the written artefacts (panel PNG, CSV)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from defectkit.evaluation import auroc, evaluate, f1_optimal_threshold, flagged_at, pixel_auroc
from defectkit.models.reference_unet.panels import save_panel, write_scores_csv


def test_auroc_perfect_reversed_and_undefined() -> None:
    labels = [0, 0, 1, 1]
    assert auroc(labels, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auroc(labels, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert auroc(labels, [0.5, 0.5, 0.5, 0.5]) == 0.5
    with pytest.warns(RuntimeWarning, match="one class"):
        assert math.isnan(auroc([1, 1], [0.1, 0.2]))


def test_f1_optimal_threshold_separates_the_classes() -> None:
    threshold, f1 = f1_optimal_threshold([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.9])
    assert 0.3 < threshold < 0.7
    assert threshold == pytest.approx(0.5)
    assert f1 == 1.0
    # A negative scored between the positives: calling the top three defective (P = 2/3, R = 1)
    # beats calling only the top one (P = 1, R = 1/2).
    threshold, f1 = f1_optimal_threshold([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.9])
    assert f1 == pytest.approx(0.8)
    assert threshold == pytest.approx(0.15)


def test_pixel_auroc_pools_pixels() -> None:
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    heatmap = mask.astype(np.float32) * 0.8 + 0.1
    assert pixel_auroc([mask, np.zeros((4, 4), bool)], [heatmap, np.full((4, 4), 0.1, np.float32)]) == 1.0
    assert pixel_auroc([mask], [1.0 - heatmap]) == 0.0


def _record(category: str, label: int, hot: bool, with_mask: bool = True) -> dict:
    mask = np.zeros((8, 8), bool)
    if label:
        mask[2:5, 2:5] = True
    heatmap = (
        np.where(mask if hot else ~mask, 0.9, 0.05).astype(np.float32) if label else np.full((8, 8), 0.05)
    )
    return {
        "category": category,
        "label": label,
        "mask": mask if (label and with_mask) else None,
        "heatmap": heatmap,
        "score": float(heatmap.max()) if hot or not label else 0.01,
    }


def test_evaluate_report() -> None:
    records = [
        _record("good", 0, hot=False),
        _record("good", 0, hot=False),
        _record("scratch", 1, hot=True),
        _record("scratch", 1, hot=True),
        _record("dent", 1, hot=False),  # missed: low score, heatmap inverted
        _record("dent", 1, hot=True, with_mask=False),  # no mask: image metrics only
    ]
    report = evaluate(records)
    json.dumps(report)  # JSON-able
    assert report["count"] == 6
    assert set(report["thresholds"]) == {"image", "pixel", "image_f1", "pixel_f1"}
    assert report["per_category"]["scratch"] == {"image_auroc": 1.0, "pixel_auroc": 1.0, "count": 2}
    assert report["per_category"]["dent"]["count"] == 2
    assert report["per_category"]["dent"]["image_auroc"] == pytest.approx(0.5)
    # dent's masked image is inverted (defect 0.05, rest 0.9); the good images' 0.05 pixels tie with it.
    positives_tied_with_good = 0.5 * (2 * 64) / (2 * 64 + 64 - 9)
    assert report["per_category"]["dent"]["pixel_auroc"] == pytest.approx(positives_tied_with_good)
    assert 0.0 < report["image_auroc"] < 1.0
    assert 0.05 < report["thresholds"]["image"] < 0.9


def test_save_panel_writes_a_png(tmp_path) -> None:
    rng = np.random.default_rng(0)
    strip = (rng.random((3, 976, 176)) * 255).astype(np.float32)
    heatmap = rng.random((976, 176)).astype(np.float32)
    mask = np.zeros((976, 176), bool)
    mask[400:450, 60:100] = True
    path = save_panel(tmp_path / "sub" / "panel.png", strip, heatmap, mask, title="strip_000 score=0.42")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert 20_000 < len(data) < 5_000_000
    save_panel(tmp_path / "nomask.png", strip / 255.0, heatmap, None)
    assert (tmp_path / "nomask.png").stat().st_size > 20_000


def test_write_scores_csv(tmp_path) -> None:
    rows = [{"file": "a.tif", "score": 0.5}, {"file": "b.tif", "score": 0.25, "category": "dent"}]
    path = write_scores_csv(tmp_path / "scores.csv", rows)
    with path.open(newline="") as handle:
        read = list(csv.DictReader(handle))
    assert read == [
        {"file": "a.tif", "score": "0.5", "category": ""},
        {"file": "b.tif", "score": "0.25", "category": "dent"},
    ]


def test_flagged_at_counts_good_and_defective_strips_at_or_above_the_threshold() -> None:
    scores = [
        {"category": "good", "score": 0.2},
        {"category": "good", "score": 0.6},
        {"category": "scratch", "score": 0.5},
        {"category": "blob", "score": 0.9},
        {"category": "blob", "score": 0.4},
    ]
    assert flagged_at(scores, 0.5) == {"good": 2, "good_flagged": 1, "defective": 3, "defective_flagged": 2}
