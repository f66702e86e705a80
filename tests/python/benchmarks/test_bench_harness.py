"""benchmarks/ (``make bench``): how it pools, which configurations it lists, and the
guided_classifier helpers (random-weight run folder, export, the timed steps) at a tiny size.

Never timings: what a run measures depends on the machine.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
TINY = dict(image_size=64, patch_size=8, decoder_channels=16, classifier_hidden=(32, 16))


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    """benchmarks.run and benchmarks.guided, imported as ``python -m benchmarks.run`` does."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.run"), importlib.import_module("benchmarks.guided")


def test_run_py_pools_tool_rounds_conservatively(bench) -> None:
    run, _ = bench
    rounds = [
        {"runs": 10, "strips_per_s": 10.0, "min_ms": 90, "p50_ms": 100, "p90_ms": 110, "p99_ms": 120,
         "max_ms": 121},
        {"runs": 10, "strips_per_s": 5.0, "min_ms": 180, "p50_ms": 200, "p90_ms": 210, "p99_ms": 220,
         "max_ms": 230},
    ]  # fmt: skip
    pooled = run._pool_tool(rounds)
    assert pooled["runs"] == 20
    assert pooled["min_ms"] == 90
    assert pooled["p50_ms"] == 150  # median of the two rounds' p50s
    assert pooled["p99_ms"] == 220  # the worst round's
    assert pooled["strips_per_s"] == pytest.approx(20 / 3.0)  # 1 s + 2 s of timed runs


def test_the_guided_models_are_vits14_at_224_and_the_demo_defaults(bench) -> None:
    from defectkit.models.guided_classifier.config import GuidedClassifierConfig

    _, guided = bench
    vit_s = guided.guided_config("vits14_224")
    assert (vit_s.backbone, vit_s.size, vit_s.patch_size, vit_s.image_size) == ("dinov2", "S", 14, 224)
    assert vit_s.shape() == (384, 12, 6, 1536)  # DINOv2-S
    assert guided.guided_config("demo_128") == GuidedClassifierConfig()
    assert guided.TARGET_MODEL == "vits14_224"


def _fake_guided(guided, tmp_path: pathlib.Path) -> dict:
    """What ``guided.setup`` returns, without building anything."""
    return {
        key: {"label": spec["label"], "run": str(tmp_path / f"run_{key}"), "out": str(tmp_path / key),
              "images": str(tmp_path / f"images_{key}"), "gflop": 1.0}
        for key, spec in guided.MODELS.items()
    }  # fmt: skip


def test_configurations_list_every_guided_row_beside_the_strip_rows(bench, tmp_path, monkeypatch) -> None:
    run, guided = bench
    monkeypatch.setattr(guided, "openvino_ep_library", lambda: None)  # `make bench` had not installed it
    paths = {"artifacts": {}, "guided": _fake_guided(guided, tmp_path)}
    names = [c["name"] for c in run.configurations(paths, tool="defectkit-bench")]
    for label in ("ViT-S/14 224", "demo ViT 128"):
        assert f"PyTorch eager {label} FP32" in names
        assert f"ORT Python {label} FP32" in names
        for precision in ("FP32", "INT8"):
            assert f"defectkit Python {label} {precision}" in names
            assert f"defectkit-bench {label} {precision}" in names
    assert len(names) == len(set(names)) == 12
    without_tool = run.configurations(paths, tool=None)
    assert not [c for c in without_tool if c["kind"] == "tool"]
    ort = next(c for c in without_tool if c["kind"] == "guided_ort")
    assert ort["artifact"].endswith("model_fp32.onnx")


def test_ratios_and_targets_of_guided_rows(bench, tmp_path, monkeypatch) -> None:
    run, guided = bench
    monkeypatch.setattr(guided, "openvino_ep_library", lambda: None)
    guided_paths = _fake_guided(guided, tmp_path)
    speeds = {"guided_torch": 1.0, "guided_ort": 4.0, "classifier": 12.0, "tool": 9.0}
    rows = []
    for config in run.configurations({"guided": guided_paths}, tool="defectkit-bench"):
        rate = speeds[config["kind"]] * (2.0 if config["precision"] == "int8" else 1.0)
        rows.append({**config, "strips_per_s": rate})
    guided.add_ratios(rows)
    int8 = next(r for r in rows if r["name"] == "defectkit Python ViT-S/14 224 INT8")
    assert int8["images_per_s"] == 24.0
    assert int8["speedup_vs_ort_fp32"] == pytest.approx(6.0)
    assert int8["speedup_vs_torch"] == pytest.approx(24.0)
    gate = {"int8": {"gate": {"passed": False}}}
    verdicts = guided.targets(rows, {key: {"report": gate} for key in guided_paths})
    assert [v["met"] for v in verdicts] == [True, True]
    assert all("RANDOM" in v["accuracy"] for v in verdicts)
    assert "decoded once" in verdicts[0]["measured"]  # the tool's ratio beside the judged row


def test_the_openvino_ep_row_is_judged_on_its_own(bench, tmp_path, monkeypatch) -> None:
    """With the OpenVINO EP's library installed, the ViT INT8 artifact runs on it too, and the
    targets are judged for each provider apart: the slower CPU row is not hidden behind it."""
    run, guided = bench
    monkeypatch.setattr(guided, "openvino_ep_library", lambda: "/opt/ov/libonnxruntime.so.1")
    monkeypatch.setattr("defectkit.benchmarking.machine_info", lambda: {"cpu_flags": []})  # no bf16 row
    guided_paths = _fake_guided(guided, tmp_path)
    configs = run.configurations({"guided": guided_paths}, tool=None)
    on_ep = [c for c in configs if c.get("provider") == "openvino"]
    labels = [m["label"] for m in guided.MODELS.values()]
    assert [c["name"] for c in on_ep] == [f"defectkit Python {label} INT8, OpenVINO EP" for label in labels]
    for config in on_ep:
        assert config["library"] == "/opt/ov/libonnxruntime.so.1"
        assert config["artifact"].endswith("model_int8.onnx")
    speeds = {"guided_torch": 1.0, "guided_ort": 4.0, "classifier": 6.0}
    rows = [{**c, "strips_per_s": speeds[c["kind"]] * (4.0 if c.get("provider") else 1.0)} for c in configs]
    guided.add_ratios(rows)
    gate = {"int8": {"gate": {"passed": True}}}
    verdicts = guided.targets(rows, {key: {"report": gate} for key in guided_paths})
    assert [("OpenVINO EP" in v["target"], v["met"]) for v in verdicts] == [
        (False, False), (False, True), (True, True), (True, True)
    ]  # CPU: 1.5x ORT FP32 (missed), 6x PyTorch; EP: 6x and 24x
    assert [bool(v.get("profile_of")) for v in verdicts] == [False, False, True, True]  # EP: not profiled


def test_a_random_guided_run_exports_and_every_timed_step_runs(bench, tmp_path) -> None:
    from defectkit.models.guided_classifier.config import GuidedClassifierConfig
    from defectkit.models.guided_classifier.data.demo import make_demo_images

    _, guided = bench
    data = make_demo_images(
        tmp_path / "data", num_defect=4, num_normal=4, val=(4, 4), test=(2, 2), size=64, progress=False
    )
    config = GuidedClassifierConfig(**TINY)
    folder = guided.write_random_guided_run(tmp_path / "run", data, config)
    assert (folder / "best.pt").is_file() and (folder / "config.json").is_file()
    report = guided.export_guided(folder, tmp_path / "out", data, calibration_count=2)
    assert (tmp_path / "out" / "model_int8.onnx").is_file()
    assert report["int8"]["float_islands"] == []  # end to end: the float groups were hidden
    assert report["int8"]["gate"]["passed"] in (True, False)  # random weights: either, never refused
    images = guided.bench_images(data, tmp_path / "images")
    pngs = sorted(images.glob("*.png"))
    assert len(pngs) == guided.BENCH_IMAGES
    assert guided.gflop_per_image(folder, TINY["image_size"]) > 0
    common = {"family": "guided_classifier", "run": str(folder)}
    for kind, precision in (("guided_torch", "fp32"), ("guided_ort", "fp32"), ("classifier", "int8")):
        artifact = str(tmp_path / "out" / f"model_{precision}.onnx")
        step = guided.step({**common, "kind": kind, "artifact": artifact}, threads=1)
        out = step(pngs[0])
        probabilities = getattr(out, "probabilities", None)
        if probabilities is None:
            probabilities = out[0]
        # INT8 end to end quantises the output softmax too: probabilities in steps of 1/255
        tolerance = 1e-4 if precision == "fp32" else 0.02
        assert np.isclose(float(np.asarray(probabilities).sum()), 1.0, atol=tolerance)


def test_the_guided_report_renders_without_strip_rows(bench, tmp_path, monkeypatch) -> None:
    run, guided = bench
    monkeypatch.setattr(guided, "openvino_ep_library", lambda: None)
    from benchmarks import report

    guided_paths = _fake_guided(guided, tmp_path)
    rows = []
    for config in run.configurations({"guided": guided_paths}, tool=None):
        stats = {"runs": 4, "min_ms": 1.0, "p50_ms": 2.0, "p90_ms": 3.0, "p99_ms": 4.0, "max_ms": 4.0,
                 "strips_per_s": 100.0, "peak_rss_mib": 50.0, "gflop_per_strip": 1.0, "gflop_per_s": 100.0,
                 "fraction_of_peak": 0.1}  # fmt: skip
        rows.append({**config, **stats})
    guided.add_ratios(rows)
    gate = {"int8": {"gate": {"passed": False}}}
    profile = {"kernel_ms_per_run": 1.0, "ops": [{"op": "QGemm", "share": 1.0}], "groups": {"int8": 1.0}}
    result = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"cpu": "cpu", "cpu_flags": [], "cores": 2, "host": "h", "load_average": [1.0, 1.0, 1.0]},
        "threads": 2, "pinned_cores": [0, 1], "command": "test", "rounds": 1, "strips": "-", "images": "-",
        "weights": "random", "configs": rows,
        "targets": guided.targets(rows, {key: {"report": gate} for key in guided_paths}),
        "profiles": {f"guided_{guided.TARGET_MODEL} {p}": profile for p in ("fp32", "int8")},
        "guided": {key: {"label": v["label"], "gflop": 1.0, "config": dataclasses.asdict(
            guided.guided_config(key))} for key, v in guided_paths.items()},
        "exports": {}, "setup_s": 1.0, "total_s": 60.0,
    }  # fmt: skip
    text = report.markdown(result)
    assert "## guided_classifier: images" in text and "reference_unet" not in text
    assert "| defectkit Python ViT-S/14 224 INT8 |" in text
    assert "ViT-S/14 224 INT8 through the C++ runtime >= 2.5x" in text
    report.plot(result, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
