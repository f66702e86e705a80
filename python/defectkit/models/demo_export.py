"""The export step both families' demos share: ``defectkit export RUN --out DIR --int8`` as a user
runs it, and what the demo does when the INT8 gate refuses.

A refusal is the gate doing its job: no INT8 candidate was *shown* within its tolerance of the
trained network on this run and machine (a real loss, or validation samples too few to tell a small
loss from none, after every extension). The demo then ships the FP32 artifact alone
(``--fp32-if-refused``) and goes on with it, saying so, rather than stopping: FP32 is what a user
would ship then. Anything else that goes wrong stops the demo.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Sequence

import defectkit

INT8 = "model_int8.onnx"
FP32 = "model_fp32.onnx"


def export_for_demo(run: pathlib.Path, out: pathlib.Path, extra: Sequence[str] = ()) -> dict:
    """Exports ``run`` into ``out`` (FP32, and INT8 when the gate passes it); returns
    ``export_report.json``'s content (``report["int8"] == {"refused": reason}`` after a refusal)."""
    from defectkit.cli import main

    start = time.perf_counter()
    if main(["export", str(run), "--out", str(out), "--int8", "--fp32-if-refused", *extra]) != 0:
        msg = f"demo: export of {run} failed (see above)"
        raise defectkit.Error(msg)
    report = json.loads((out / "export_report.json").read_text())
    if "refused" in report["int8"]:
        print("[demo] INT8 refused by the gate (why: the export lines above); the demo goes on with FP32")
    print(f"[demo] exported in {(time.perf_counter() - start) / 60:.1f} min -> {out}")
    return report


def shipped(report: dict) -> list[str]:
    """The artifacts the export wrote, FP32 first (INT8 only when the gate passed it)."""
    return [FP32] if "refused" in report["int8"] else [FP32, INT8]


def int8_summary(report: dict) -> dict:
    """The INT8 part of a demo summary: the gate's choices, or the refusal."""
    q = report["int8"]
    if "refused" in q:
        return {"gate_passed": False, "refused": q["refused"]}
    return {
        "int8_graph": q["graph"],
        "int8_method": q["method"],
        "float_islands": q["float_islands"],
        "gate_passed": q["gate"]["passed"],
        "int8_image_drop": q["gate"]["image_auroc"]["drop"],
    }
