"""The demos' export step: a refused INT8 gate ships FP32 alone and the demo goes on; any other
export failure stops it. (What export writes on a refusal: reference_unet's export tests.)"""

from __future__ import annotations

import json
import pathlib

import pytest

import defectkit
from defectkit.models import demo_export

REFUSAL = "no INT8 candidate was shown within 0.005 AUROC of the trained network (29 tried)"


def _fake_export(seen: list, refuse: bool, error: Exception | None = None):
    """Stands in for ``defectkit export``'s run(): writes the report a real export writes."""

    def run(args) -> int:
        seen.append(args)
        if error is not None:
            raise error
        args.out.mkdir(parents=True, exist_ok=True)
        report = {"graph": "full_frame", "decision": {"samples": 80, "extensions": 0}}
        gate = {"passed": True, "image_auroc": {"drop": 0.001}}
        report["int8"] = (
            {"refused": REFUSAL}
            if refuse
            else {"graph": "full_frame", "method": "minmax", "float_islands": [], "gate": gate}
        )
        (args.out / "export_report.json").write_text(json.dumps(report))
        return 0

    return run


def test_a_refused_int8_ships_fp32_alone_and_says_why(tmp_path: pathlib.Path, monkeypatch, capsys) -> None:
    seen: list = []
    monkeypatch.setattr("defectkit.cli.export.run", _fake_export(seen, refuse=True))
    report = demo_export.export_for_demo(tmp_path / "run", tmp_path / "artifact")
    assert seen[0].int8 and seen[0].fp32_if_refused and not seen[0].allow_accuracy_drop
    assert demo_export.shipped(report) == ["model_fp32.onnx"]
    assert demo_export.int8_summary(report) == {"gate_passed": False, "refused": REFUSAL}
    assert (
        "INT8 refused by the gate (why: the export lines above); the demo goes on" in capsys.readouterr().out
    )


def test_a_passed_gate_ships_both(tmp_path: pathlib.Path, monkeypatch) -> None:
    seen: list = []
    monkeypatch.setattr("defectkit.cli.export.run", _fake_export(seen, refuse=False))
    report = demo_export.export_for_demo(tmp_path / "run", tmp_path / "artifact", ["--calibration", "minmax"])
    assert seen[0].calibration == "minmax"
    assert demo_export.shipped(report) == ["model_fp32.onnx", "model_int8.onnx"]
    assert demo_export.int8_summary(report)["gate_passed"]


def test_any_other_export_failure_stops_the_demo(tmp_path: pathlib.Path, monkeypatch) -> None:
    seen: list = []
    failure = defectkit.Error("run/best.pt: not a checkpoint")
    monkeypatch.setattr("defectkit.cli.export.run", _fake_export(seen, refuse=False, error=failure))
    with pytest.raises(defectkit.Error, match=r"export of .*run failed"):
        demo_export.export_for_demo(tmp_path / "run", tmp_path / "artifact")
