"""OpenVINO beside the C++ runtime on a *trained* reference_unet model: speed and accuracy.

The rows of ``make bench``'s "trained model" table. They need a model that learned something
(accuracy beside speed means nothing on random weights), so they use what ``make demo`` left in
``demo_out/reference_unet`` (``--trained`` elsewhere): its run, its data and its two artifacts.
Without one the rows are skipped and the report says why.

Rows, all on the same trained network and the same strips, timed in the interleaved rounds of
``benchmarks.run`` (one process per configuration per round, file read included):

- defectkit FP32 and INT8: the artifacts export shipped, through ``defectkit.Inspector``;
- OpenVINO FP32: the FP32 artifact read by OpenVINO's runtime, ``INFERENCE_PRECISION_HINT=f32``
  (on CPUs with AMX or AVX512-BF16 OpenVINO's default precision is bf16: a separate row);
- OpenVINO default precision: the same model, OpenVINO's default (bf16 where the CPU has it);
- OpenVINO INT8, NNCF defaults: ``nncf.quantize`` with default settings on the calibration
  strips defectkit's export uses (``calibration_strips``: 8 training strips, half with synthetic
  defects);
- OpenVINO INT8, NNCF accuracy control: ``nncf.quantize_with_accuracy_control`` on the same
  calibration strips, validated on the demo's validation split (image AUROC, at most 0.005
  absolute drop): NNCF's own accuracy-keeping mode, what a careful user would run.

Accuracy of every row: image and pixel AUROC on the demo's 100-strip test split, through the
same evaluation code as ``defectkit eval`` (``evaluate_run``), cached under ``--work``.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

ACCURACY_DROP = 0.005  # what defectkit's INT8 gate enforces, given to NNCF's accuracy control
CALIBRATION_COUNT = 8  # ExportOptions.calibration_count's default


def trained_paths(trained: pathlib.Path) -> dict[str, str] | None:
    """The demo's family folder's parts, or None when something is missing."""
    parts = {
        "run": trained / "run",
        "data": trained / "data",
        "fp32": trained / "artifact" / "model_fp32.onnx",
        "int8": trained / "artifact" / "model_int8.onnx",
    }
    if not all(p.exists() for p in parts.values()) or not (parts["run"] / "best.pt").is_file():
        return None
    return {k: str(v) for k, v in parts.items()}


def _feed(strip: np.ndarray) -> np.ndarray:
    """(C, H, W) 0..255 strip -> the FP32 graph's (1, 3, H, W) float32 input (the graph ignores a
    fourth channel; giving OpenVINO a static three-channel shape lets it plan the whole graph)."""
    return np.ascontiguousarray(strip[None, :3], dtype=np.float32)


def _calibration(paths: dict[str, str]) -> list[np.ndarray]:
    from defectkit.export.pipeline import load_model
    from defectkit.models.reference_unet.export.strips import calibration_strips

    _, info = load_model(pathlib.Path(paths["run"]))
    strips = calibration_strips(info["config"], pathlib.Path(paths["data"]), (976, 176), CALIBRATION_COUNT)
    return [_feed(s) for s in strips]


def _read_model(fp32: str):
    import openvino as ov

    model = ov.Core().read_model(fp32)
    model.reshape({model.inputs[0]: [1, 3, 976, 176]})
    return model


class OpenVinoInspector:
    """``inspect(strip)`` like :class:`defectkit.Inspector`, on an OpenVINO compiled model."""

    def __init__(self, xml: str, threads: int, precision_hint: str | None = None) -> None:
        import openvino as ov

        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
        if precision_hint:
            config["INFERENCE_PRECISION_HINT"] = precision_hint
        self.compiled = ov.Core().compile_model(xml, "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.heatmap_output = self.compiled.output("heatmap")
        self.score_output = self.compiled.output("score")

    def inspect(self, strip: np.ndarray | str | pathlib.Path) -> SimpleNamespace:
        if not isinstance(strip, np.ndarray):
            from defectkit.data.strip_io import read_strip_tifffile

            strip = read_strip_tifffile(strip)
        outputs = self.request.infer({0: _feed(strip)})
        heatmap = np.asarray(outputs[self.heatmap_output])[0, 0]
        return SimpleNamespace(heatmap=heatmap, score=float(np.asarray(outputs[self.score_output])[0]))


def _image_auroc_on(compiled, strips: list[tuple[np.ndarray, int]]) -> float:
    from defectkit.evaluation.metrics import auroc

    request = compiled.create_infer_request()
    score = compiled.output("score")
    scores = [float(np.asarray(request.infer({0: feed})[score])[0]) for feed, _ in strips]
    return auroc([label for _, label in strips], scores)


def _validation(paths: dict[str, str]) -> list[tuple[np.ndarray, int]]:
    from defectkit.data.layout import discover_dataset
    from defectkit.data.strip_io import read_strip_tifffile

    samples = discover_dataset(pathlib.Path(paths["data"])).valid
    return [(_feed(read_strip_tifffile(s.path)), int(s.category != "good")) for s in samples]


def build_models(paths: dict[str, str], out: pathlib.Path, log: Callable[[str], None]) -> dict[str, Any]:
    """The OpenVINO IR files (FP32, INT8 default, INT8 accuracy control), cached by the FP32
    artifact's digest; returns their paths and how long quantising took."""
    import nncf
    import openvino as ov

    digest = hashlib.sha256(pathlib.Path(paths["fp32"]).read_bytes()).hexdigest()[:16]
    folder = out / digest
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.xml" for name in ("fp32", "int8_default", "int8_accuracy")}
    info_path = folder / "build.json"
    if all(f.is_file() for f in files.values()) and info_path.is_file():
        return {"files": {k: str(v) for k, v in files.items()}, **json.loads(info_path.read_text())}
    info: dict[str, Any] = {}
    ov.save_model(_read_model(paths["fp32"]), files["fp32"], compress_to_fp16=False)
    calibration = nncf.Dataset(_calibration(paths))
    log("OpenVINO: NNCF post-training quantisation, default settings")
    start = time.perf_counter()
    ov.save_model(nncf.quantize(_read_model(paths["fp32"]), calibration), files["int8_default"])
    info["int8_default_s"] = time.perf_counter() - start
    log(f"OpenVINO: NNCF accuracy control (image AUROC on the validation split, max drop {ACCURACY_DROP})")
    start = time.perf_counter()
    quantized = nncf.quantize_with_accuracy_control(
        _read_model(paths["fp32"]),
        calibration_dataset=calibration,
        validation_dataset=nncf.Dataset(_validation(paths)),
        validation_fn=lambda compiled, data: _image_auroc_on(compiled, list(data)),
        max_drop=ACCURACY_DROP,
        drop_type=nncf.DropType.ABSOLUTE,
    )
    ov.save_model(quantized, files["int8_accuracy"])
    info["int8_accuracy_s"] = time.perf_counter() - start
    info_path.write_text(json.dumps(info))
    return {"files": {k: str(v) for k, v in files.items()}, **info}


def setup(work: pathlib.Path, trained: pathlib.Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Everything the trained rows need (built once, cached under ``work``), or a reason why not."""
    paths = trained_paths(trained)
    if paths is None:
        if (trained / "artifact" / "model_fp32.onnx").is_file():  # the demo went on without INT8
            return {"skipped": f"{trained}: the export gate refused the demo's INT8 (no model_int8.onnx)"}
        return {"skipped": f"{trained}: no trained demo (run `make demo` first, or pass --trained)"}
    try:
        import openvino  # noqa: F401
    except ImportError:
        return {"skipped": "openvino is not installed (`make bench` installs the bench extra)"}
    built = build_models(paths, work / "openvino", log)
    result = {**paths, **built}
    result["configs"] = _configurations(result)
    result["accuracy"] = accuracy(result, log)
    measured = result["accuracy"]
    ours, peer = measured[result["configs"][0]["name"]], measured["OpenVINO FP32 (f32 hint)"]
    # The same FP32 model read by two runtimes: anything but agreement means the peer is fed wrong.
    result["fp32_agreement"] = max(abs(ours[k] - peer[k]) for k in ("image_auroc", "pixel_auroc"))
    return result


ROOT = pathlib.Path(__file__).resolve().parents[1]
ORT_OPENVINO = ROOT / ".deps" / "onnxruntime-openvino"  # `make bench` installs it (Makefile)


def openvino_ep_library() -> str | None:
    """libonnxruntime of the onnxruntime-openvino wheel `make bench` installs, if there."""
    capi = ORT_OPENVINO / "onnxruntime" / "capi"
    found = sorted(capi.glob("libonnxruntime.so.*"), key=lambda p: len(p.name))
    return str(found[-1]) if found else None


def static_shape(artifact: str, channels: int = 4) -> str:
    """The EP's ``reshape_input`` value fixing the artifact's input to one 4-channel strip."""
    import onnx

    graph_input = onnx.load(artifact, load_external_data=False).graph.input[0]
    height, width = (d.dim_value for d in graph_input.type.tensor_type.shape.dim[2:])
    return f"{graph_input.name}[1,{channels},{height},{width}]"


def configurations(trained: dict[str, Any]) -> list[dict[str, Any]]:
    """The trained table's rows (built by :func:`setup`); empty when it was skipped."""
    return trained.get("configs", [])


def _configurations(trained: dict[str, Any]) -> list[dict[str, Any]]:
    # Which graph each shipped artifact is: export's report says (no session needed to ask).
    report = json.loads((pathlib.Path(trained["fp32"]).parent / "export_report.json").read_text())
    graphs = {"fp32": report["graph"], "int8": report["int8"]["graph"]}
    rows = []
    for precision in ("fp32", "int8"):
        graph = graphs[precision]
        rows.append({"name": f"defectkit Python {precision.upper()} {graph} (trained)", "kind": "inspector",
                     "artifact": trained[precision], "precision": precision, "graph": graph})  # fmt: skip
    library = openvino_ep_library()
    if library is not None:  # the same artifacts on ONNX Runtime's OpenVINO execution provider
        for precision in ("fp32", "int8"):
            name = f"defectkit Python {precision.upper()} {graphs[precision]}, OpenVINO EP (trained)"
            rows.append({"name": name, "kind": "inspector", "artifact": trained[precision],
                         "precision": precision, "graph": graphs[precision], "provider": "openvino",
                         "library": library})  # fmt: skip
        # INT8 once more with the EP told the input shape (it compiles the artifact's dynamic batch
        # and channel axes as dynamic unless told): 10 % faster, same heatmaps (openvino_paired).
        static = {"reshape_input": static_shape(trained["int8"])}
        name = rows[-1]["name"].replace(" (trained)", ", static shape (trained)")
        rows.append({**rows[-1], "name": name, "provider_options": static})
    files = trained["files"]
    rows += [
        {"name": "OpenVINO FP32 (f32 hint)", "kind": "openvino", "xml": files["fp32"], "hint": "f32",
         "precision": "fp32"},
        {"name": "OpenVINO default precision", "kind": "openvino", "xml": files["fp32"], "hint": None,
         "precision": "fp32"},
        {"name": "OpenVINO INT8 (NNCF defaults)", "kind": "openvino", "xml": files["int8_default"],
         "hint": None, "precision": "int8"},
        {"name": "OpenVINO INT8 (NNCF accuracy control)", "kind": "openvino",
         "xml": files["int8_accuracy"], "hint": None, "precision": "int8"},
    ]  # fmt: skip
    for row in rows:
        row.setdefault("graph", "full_frame")
        row.update({"table": "trained", "width": 16, "slow": False})
    return rows


def make_inspector(config: dict[str, Any], threads: int):
    """The object whose ``inspect(path)`` a timed step calls."""
    if config["kind"] == "openvino":
        return OpenVinoInspector(config["xml"], threads, config["hint"])
    import defectkit

    return defectkit.Inspector(
        config["artifact"], threads=threads, provider=config.get("provider", "cpu"),
        onnxruntime_library=config.get("library"), provider_options=config.get("provider_options"),
    )  # fmt: skip


def _isolated_accuracy(config: dict[str, Any], data: pathlib.Path) -> dict[str, Any]:
    """:func:`_row_accuracy` in a fresh process: one process opens one ONNX Runtime library, and
    this one has opened the venv's."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "benchmarks.openvino_peer", json.dumps(config), str(data)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        msg = f"accuracy of {config['name']} failed:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row_accuracy(config: dict[str, Any], data: pathlib.Path) -> dict[str, Any]:
    from defectkit.models.reference_unet.evaluation import evaluate_run

    result = evaluate_run(make_inspector(config, 0), data, 128, progress=False)
    strips = len(result["scores"])
    return {"image_auroc": result["image_auroc"], "pixel_auroc": result["pixel_auroc"], "strips": strips}


def accuracy(trained: dict[str, Any], log: Callable[[str], None]) -> dict[str, dict]:
    """Test-split image and pixel AUROC of every row (cached beside the IR files)."""
    cache = pathlib.Path(trained["files"]["fp32"]).parent / "accuracy.json"
    results = json.loads(cache.read_text()) if cache.is_file() else {}
    data = pathlib.Path(trained["data"])
    for config in trained["configs"]:
        if config["name"] in results:
            continue
        log(f"accuracy on the test split: {config['name']}")
        measure = _isolated_accuracy if config.get("library") else _row_accuracy
        results[config["name"]] = measure(config, data)
        cache.write_text(json.dumps(results, indent=1))
    return results


def targets(rows: list[dict], trained: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 18's targets on the trained model: x seed, INT8 x FP32, and defectkit INT8 against
    OpenVINO INT8 at equal or better accuracy."""
    if "skipped" in trained:
        return []
    by = {r["name"]: r for r in rows if r.get("table") == "trained"}
    acc = trained["accuracy"]

    def auroc(name: str) -> str:
        a = acc[name]
        return f"image {a['image_auroc']:.3f}, pixel {a['pixel_auroc']:.3f} ({a['strips']} test strips)"

    inspectors = [c for c in trained["configs"] if c["kind"] == "inspector" and c["name"] in by]
    ours = {c["precision"]: c["name"] for c in inspectors if "library" not in c}
    ep = [c for c in inspectors if c.get("provider") == "openvino"]
    on_ep = {c["precision"]: c["name"] for c in ep if "provider_options" not in c}
    # The CPU provider's INT8 row, then the same gated artifact on ONNX Runtime's OpenVINO provider,
    # as it is and with the input shape given.
    mine = [("", "defectkit INT8", ours["int8"])]
    if "int8" in on_ep:
        mine.append((" on the OpenVINO EP", "defectkit INT8 on the OpenVINO EP", on_ep["int8"]))
    for c in ep:
        if "provider_options" in c and c["precision"] == "int8":
            where = " on the OpenVINO EP, static shape"
            mine.append((where, f"defectkit INT8{where}", c["name"]))
    int8_x_fp32 = []  # INT8 over FP32, each provider running both artifacts
    for where, names in (("", ours), (" on the OpenVINO EP", on_ep)):
        if {"int8", "fp32"} <= set(names):
            int8, fp32 = by[names["int8"]], by[names["fp32"]]
            same = "" if int8["graph"] == fp32["graph"] else " (graphs differ)"
            ratio = int8["strips_per_s"] / fp32["strips_per_s"]
            int8_x_fp32.append({
                "target": f"trained INT8 >= 2.5x FP32{where}{same}",
                "measured": f"{ratio:.2f}x ({int8['graph']} / {fp32['graph']})",
                "met": ratio >= 2.5,
                "accuracy": "",
            })  # fmt: skip
    verdicts = [
        {
            "target": f"trained default INT8{where} (Python Inspector, read included) >= 70x the seed"
            + ("" if where else " pipeline"),
            "measured": f"{by[name]['speedup_vs_seed']:.1f}x ({by[name]['p50_ms']:.0f} ms p50)",
            "met": by[name]["speedup_vs_seed"] >= 70,
            "accuracy": auroc(name),
        }
        for where, _, name in mine
    ]
    verdicts[1:1] = int8_x_fp32
    for _, label, name in mine:
        for peer in ("OpenVINO INT8 (NNCF defaults)", "OpenVINO INT8 (NNCF accuracy control)"):
            ratio = by[name]["strips_per_s"] / by[peer]["strips_per_s"]
            as_good = acc[name]["image_auroc"] >= acc[peer]["image_auroc"] - 1e-9
            verdicts.append(
                {
                    "target": f"{label} at least as fast as {peer} at equal or better image AUROC",
                    "measured": f"{ratio:.2f}x its speed; accuracy "
                    + ("equal or better" if as_good else "worse"),
                    "met": ratio >= 1 and as_good,
                    "accuracy": f"ours {auroc(name)}; OpenVINO {auroc(peer)}",
                }
            )
    for verdict in verdicts:
        verdict["key"] = "trained"  # report.py: the trained table is where their time is shown
    return verdicts


if __name__ == "__main__":  # _isolated_accuracy's child: CONFIG_JSON DATA -> one JSON line
    import sys

    print(json.dumps(_row_accuracy(json.loads(sys.argv[1]), pathlib.Path(sys.argv[2]))))
