"""The trained-model table of ``make bench``: OpenVINO peers' verdicts, the report, and the
throughput measurement (one Inspector, several threads) on a tiny artifact.

OpenVINO itself is a bench-only dependency: nothing here imports it.
"""

from __future__ import annotations

import importlib
import pathlib

import numpy as np
import pytest

from runtime.artifacts import strip_values, write_artifact

ROOT = pathlib.Path(__file__).resolve().parents[3]
OURS = {p: f"defectkit Python {p.upper()} full_frame (trained)" for p in ("fp32", "int8")}
PEERS = ("OpenVINO INT8 (NNCF defaults)", "OpenVINO INT8 (NNCF accuracy control)")


@pytest.fixture
def modules(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(ROOT))
    names = ("openvino_peer", "throughput", "report")
    return tuple(importlib.import_module(f"benchmarks.{m}") for m in names)


def _trained(image_auroc: dict[str, float]) -> dict:
    configs = [
        {"name": OURS["fp32"], "kind": "inspector", "precision": "fp32"},
        {"name": OURS["int8"], "kind": "inspector", "precision": "int8"},
        *({"name": name, "kind": "openvino", "precision": "int8"} for name in PEERS),
    ]
    accuracy = {c["name"]: {"image_auroc": image_auroc[c["name"]], "pixel_auroc": 0.99} for c in configs}
    for entry in accuracy.values():
        entry["strips"] = 100
    return {"configs": configs, "accuracy": accuracy, "run": "demo_out/reference_unet/run"}


def _rows(speeds: dict[str, float]) -> list[dict]:
    stats = {"p50_ms": 10.0, "p90_ms": 12.0, "peak_rss_mib": 100.0, "graph": "full_frame", "table": "trained"}
    return [{"name": n, "strips_per_s": s, "speedup_vs_seed": s / 0.5, **stats} for n, s in speeds.items()]


def test_faster_and_as_accurate_meets_the_peer_targets(modules) -> None:
    peer, _, _ = modules
    trained = _trained({OURS["fp32"]: 0.98, OURS["int8"]: 0.98, PEERS[0]: 0.90, PEERS[1]: 0.97})
    rows = _rows({OURS["fp32"]: 10.0, OURS["int8"]: 40.0, PEERS[0]: 30.0, PEERS[1]: 20.0})
    verdicts = {v["target"]: v for v in peer.targets(rows, trained)}
    assert verdicts["trained default INT8 (Python Inspector, read included) >= 70x the seed pipeline"]["met"]
    assert verdicts["trained INT8 >= 2.5x FP32"]["met"]
    for name in PEERS:
        assert verdicts[f"defectkit INT8 at least as fast as {name} at equal or better image AUROC"]["met"]


def test_slower_or_less_accurate_misses_them(modules) -> None:
    peer, _, _ = modules
    trained = _trained({OURS["fp32"]: 0.98, OURS["int8"]: 0.96, PEERS[0]: 0.90, PEERS[1]: 0.97})
    rows = _rows({OURS["fp32"]: 10.0, OURS["int8"]: 20.0, PEERS[0]: 30.0, PEERS[1]: 10.0})
    verdicts = peer.targets(rows, trained)
    assert [v["met"] for v in verdicts] == [False, False, False, False]
    # faster than the accuracy-control peer but less accurate: still missed, and the note says why
    assert "worse" in verdicts[3]["measured"] and verdicts[3]["measured"].startswith("2.00x")


def test_the_openvino_provider_rows_are_judged_beside_the_cpu_ones(modules) -> None:
    """The same FP32 and INT8 artifacts on ONNX Runtime's OpenVINO provider get their own
    verdicts: INT8 over FP32 per provider (never INT8 on one over FP32 on the other), x seed and
    against the OpenVINO peers."""
    peer, _, _ = modules
    on_ep = {p: f"defectkit Python {p.upper()} full_frame, OpenVINO EP (trained)" for p in ("fp32", "int8")}
    trained = _trained({OURS["fp32"]: 0.98, OURS["int8"]: 0.98, PEERS[0]: 0.90, PEERS[1]: 0.97})
    for precision, name in on_ep.items():
        trained["configs"].append({"name": name, "kind": "inspector", "precision": precision,
                                   "provider": "openvino", "library": "/x/libonnxruntime.so.1"})  # fmt: skip
        trained["accuracy"][name] = {"image_auroc": 0.98, "pixel_auroc": 0.99, "strips": 100}
    rows = _rows({OURS["fp32"]: 10.0, OURS["int8"]: 20.0, PEERS[0]: 30.0, PEERS[1]: 20.0,
                  on_ep["fp32"]: 12.0, on_ep["int8"]: 40.0})  # fmt: skip
    verdicts = {v["target"]: v for v in peer.targets(rows, trained)}
    assert verdicts["trained INT8 >= 2.5x FP32"]["measured"].startswith("2.00x")  # the CPU rows
    assert not verdicts["trained INT8 >= 2.5x FP32"]["met"]
    assert verdicts["trained INT8 >= 2.5x FP32 on the OpenVINO EP"]["measured"].startswith("3.33x")
    assert verdicts["trained INT8 >= 2.5x FP32 on the OpenVINO EP"]["met"]
    assert verdicts["trained default INT8 on the OpenVINO EP (Python Inspector, read included) >= 70x the seed"]["met"]
    for name in PEERS:
        assert verdicts[f"defectkit INT8 on the OpenVINO EP at least as fast as {name} at equal or better image AUROC"]["met"]
    assert not verdicts[f"defectkit INT8 at least as fast as {PEERS[0]} at equal or better image AUROC"]["met"]
    assert len(verdicts) == 8  # 2 x seed, 2 INT8 / FP32, 4 peer comparisons: the FP32 EP row judged once


def test_without_a_trained_demo_the_rows_are_skipped_with_the_reason(modules, tmp_path) -> None:
    peer, _, report = modules
    trained = peer.setup(tmp_path / "work", tmp_path / "demo_out" / "reference_unet", print)
    assert "make demo" in trained["skipped"] and str(tmp_path / "demo_out") in trained["skipped"]
    assert peer.configurations(trained) == [] and peer.targets([], trained) == []
    assert "skipped: " in "\n".join(report._trained_table({"trained": trained}, []))


def test_the_report_shows_accuracy_beside_speed(modules) -> None:
    _, _, report = modules
    trained = _trained({OURS["fp32"]: 0.98, OURS["int8"]: 0.981, PEERS[0]: 0.9, PEERS[1]: 0.972})
    rows = _rows({OURS["fp32"]: 10.0, OURS["int8"]: 40.0, PEERS[0]: 30.0, PEERS[1]: 20.0})
    text = "\n".join(report._trained_table({"trained": trained}, rows))
    assert f"| {PEERS[0]} | full_frame | 10 | 12 | 30.00 | 60.0 | 100 | 0.900 | 0.990 |" in text


def test_one_inspector_serves_several_threads(modules, tmp_path) -> None:
    _, throughput, _ = modules
    from defectkit.data.strip_io import write_strip

    artifact = write_artifact(tmp_path / "tiled.onnx", "tiled", (37, 29))
    strips = []
    for seed in range(3):
        strips.append(tmp_path / f"s{seed}.tif")
        write_strip(strips[-1], strip_values(3, 37, 29, seed).astype("uint8"), compression=None)
    plan = throughput.plan({"tiny": str(artifact)}, threads=2)
    assert [(p["intra_op_threads"], p["concurrency"]) for p in plan] == [
        (1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4)
    ]  # fmt: skip
    results = [throughput.measure(spec, strips, 2, 0.3) for spec in plan if spec["intra_op_threads"] == 1]
    assert all(r["strips"] > 0 and r["peak_rss_mib"] > 0 for r in results)
    text = "\n".join(throughput.summary(results))
    assert "| tiny | 1 |" in text and "Best here: tiny" in text


def test_a_failing_inspection_is_raised_not_counted(modules, tmp_path) -> None:
    _, throughput, _ = modules
    import defectkit

    artifact = write_artifact(tmp_path / "tiled.onnx", "tiled", (37, 29))
    spec = {"label": "tiny", "artifact": str(artifact), "intra_op_threads": 1, "concurrency": 2}
    with pytest.raises(defectkit.Error):
        throughput.measure(spec, [tmp_path / "missing.tif"], 1, 0.2)


def test_the_ep_rows_include_int8_with_the_static_input_shape(modules, tmp_path, monkeypatch) -> None:
    """With the EP installed the trained table runs both artifacts on it, and the INT8 one again
    with its input shape given; the paired study times those two against the OpenVINO peers."""
    peer, _, _ = modules
    artifact = write_artifact(tmp_path / "model_int8.onnx", graph="full_frame", size=(40, 24))
    (tmp_path / "export_report.json").write_text('{"graph": "full_frame", "int8": {"graph": "full_frame"}}')
    files = {"fp32": "fp32.xml", "int8_default": "d.xml", "int8_accuracy": "a.xml"}
    trained = {"fp32": str(artifact), "int8": str(artifact), "files": files}
    monkeypatch.setattr(peer, "openvino_ep_library", lambda: "/x/libonnxruntime.so.1")
    configs = peer._configurations(trained)
    ep = "defectkit Python INT8 full_frame, OpenVINO EP (trained)"
    static = "defectkit Python INT8 full_frame, OpenVINO EP, static shape (trained)"
    by = {c["name"]: c for c in configs}
    assert by[static]["provider_options"] == {"reshape_input": "strip[1,4,40,24]"}
    assert "provider_options" not in by[ep] and by[static]["library"] == by[ep]["library"]
    paired = importlib.import_module("benchmarks.openvino_paired")
    ours, peers = paired.rows({"configs": configs})
    assert [c["name"] for c in ours] == [ep, static] and [c["name"] for c in peers] == list(PEERS)
    monkeypatch.setattr(peer, "openvino_ep_library", lambda: None)  # no EP: the CPU provider's row alone
    assert [c["name"] for c in paired.rows({"configs": peer._configurations(trained)})[0]] == [OURS["int8"]]


def test_the_static_shape_row_gets_verdicts_of_its_own(modules) -> None:
    peer, _, _ = modules
    static = "defectkit Python INT8 full_frame, OpenVINO EP, static shape (trained)"
    trained = _trained({OURS["fp32"]: 0.98, OURS["int8"]: 0.98, PEERS[0]: 0.90, PEERS[1]: 0.97})
    options = {"reshape_input": "strip[1,4,8,8]"}
    config = {"name": static, "kind": "inspector", "precision": "int8", "provider": "openvino"}
    trained["configs"].append({**config, "library": "/x/lib.so", "provider_options": options})
    trained["accuracy"][static] = {"image_auroc": 0.98, "pixel_auroc": 0.99, "strips": 100}
    rows = _rows({OURS["fp32"]: 10.0, OURS["int8"]: 20.0, PEERS[0]: 30.0, PEERS[1]: 20.0, static: 25.0})
    verdicts = {v["target"]: v for v in peer.targets(rows, trained)}
    where = "defectkit INT8 on the OpenVINO EP, static shape"
    assert verdicts[f"{where} at least as fast as {PEERS[1]} at equal or better image AUROC"]["met"]
    assert not verdicts[f"{where} at least as fast as {PEERS[0]} at equal or better image AUROC"]["met"]
    assert verdicts["trained INT8 >= 2.5x FP32"]["measured"].startswith("2.00x")  # never static / CPU FP32
    assert not any("2.5x FP32 on the OpenVINO EP" in t for t in verdicts)


def test_the_paired_study_names_a_winner_only_when_the_interval_excludes_one(modules) -> None:
    paired = importlib.import_module("benchmarks.openvino_paired")
    row = {"median_ms": 20.0, "accuracy": {}, "provider_options": {}}
    result = {
        "machine": {"cpu": "test"}, "trained": "t", "rounds": 10, "threads": 2, "strips_per_round": 8,
        "load_average_end": [1.0],
        "rows": [{**row, "name": "ours"},
                 {**row, "name": "ours static", "provider_options": {"reshape_input": "s[1]"},
                  "max_heatmap_difference_vs_first": 0.0}],
        "comparisons": [{"a": a, "b": "ours", "ratio": ratio, "interval": interval}
                        for a, ratio, interval in (("a", 0.9, [0.85, 0.95]), ("b", 1.0, [0.95, 1.05]),
                                                   ("c", 1.1, [1.05, 1.15]))],
    }  # fmt: skip
    text = paired.markdown(result)
    assert "| ours static (reshape_input=s[1]) | 20.0 | the first row's artifact; heatmaps differ" in text
    assert "| a | ours | 0.900 | 0.850-0.950 | A faster |" in text
    assert "| b | ours | 1.000 | 0.950-1.050 | no difference shown |" in text
    assert "| c | ours | 1.100 | 1.050-1.150 | B faster |" in text


@pytest.mark.parametrize(("library", "flags", "expected"), [
    (None, ["avx512_bf16"], []),
    ("/x/lib.so", ["avx512f"], ["X INT8, OpenVINO EP"]),
    ("/x/lib.so", ["amx_bf16"], ["X INT8, OpenVINO EP", "X INT8, OpenVINO EP, bf16 float parts"]),
])  # fmt: skip
def test_the_guided_rows_add_bf16_float_parts_only_on_the_ep_of_a_bf16_cpu(
    modules, monkeypatch, library, flags, expected
) -> None:
    guided = importlib.import_module("benchmarks.guided")
    monkeypatch.setattr(guided, "openvino_ep_library", lambda: library)
    monkeypatch.setattr("defectkit.benchmarking.machine_info", lambda: {"cpu_flags": flags})
    monkeypatch.setitem(guided.MODELS, "x", {"label": "X", "config": {}, "slow": False})
    entry = {"x": {"label": "X", "gflop": 1.0, "images": "i", "out": "o", "run": "r"}}
    names = [c["name"] for c in guided.configurations(entry, None) if c.get("provider") == "openvino"]
    assert names == [f"defectkit Python {n}" for n in expected]
    if len(names) == 2:
        bf16 = guided.configurations(entry, None)[-1]
        assert '"INFERENCE_PRECISION_HINT": "bf16"' in bf16["provider_options"]["load_config"]


def test_the_guided_study_meets_a_target_only_with_the_whole_interval(modules) -> None:
    study = importlib.import_module("benchmarks.guided_paired")
    rng = np.random.default_rng(0)
    ours = list(10 + rng.uniform(0, 1, 60))
    clear = study.speedup([3.0 * t for t in ours], ours, 2.5)
    assert clear["met"] and clear["speedup"] == pytest.approx(3.0)
    noisy = study.speedup([t * f for t, f in zip(ours, rng.uniform(2.0, 3.04, 60), strict=True)], ours, 2.5)
    assert noisy["interval"][0] < 2.5 < noisy["interval"][1] and not noisy["met"]  # straddles: not met
    text = study.markdown({
        "machine": {"cpu": "test"}, "rounds": 60, "threads": 2, "images_per_round": 4,
        "load_average_end": [1.0], "rows": [{"name": "ours", "median_ms": 10.5}], "trained": None, "trained_accuracy": {},
        "speedups": [{"ours": "ours", "baseline": "ort", **noisy}],
    })  # fmt: skip
    assert f"| ours | ort | {noisy['speedup']:.2f}x |" in text and "| 2.5x | no |" in text
