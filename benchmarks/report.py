"""Turns a ``benchmarks.run`` result into its three files: JSON, a Markdown table, a PNG plot."""

from __future__ import annotations

import json
import pathlib
from typing import Any


def _trained_auroc(result: dict, width: int) -> str:
    study = result.get("width_study") or {}
    for row in study.get("rows", []):
        if row["width"] == width and row.get("image_auroc") is not None:
            return f"{row['image_auroc']:.3f}"
    return "n/a"


def markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    load = machine["load_average"]
    end = machine.get("load_average_end")
    lines = [
        f"# defectkit benchmark, {result['date']}",
        "",
        f"Machine: {machine['cpu']} ({', '.join(machine['cpu_flags'])}), {machine['cores']} cores, "
        f"host {machine['host']}. Threads: {result['threads']}, pinned to cores {result['pinned_cores']}. "
        f"Load average (1/5/15 min) at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
        + (f", at end {end[0]:.2f}/{end[1]:.2f}/{end[2]:.2f}" if end else "")
        + " (other work on this shared machine adds noise).",
        "",
        f"Command: `{result['command']}`. {result['rounds']} interleaved rounds, one process per "
        f"configuration per round; strips: {result['strips']}; images: {result.get('images', 'n/a')}. "
        f"Weights: {result['weights']}.",
        "",
    ]
    strip_rows = [r for r in result["configs"] if "family" not in r and "table" not in r]
    if strip_rows:
        lines += _strip_table(result, strip_rows)
    lines += _trained_table(result, [r for r in result["configs"] if r.get("table") == "trained"])
    from benchmarks.throughput import summary

    lines += summary(result.get("throughput", []))
    guided_rows = [r for r in result["configs"] if r.get("family") == "guided_classifier"]
    if guided_rows:
        lines += _guided_table(result, guided_rows)
    lines += [
        "## Targets",
        "",
        "| target | measured | met | accuracy |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} | {t.get('accuracy', '')} |"
        for t in result["targets"]
    ]
    lines += _missed(result)
    lines += ["", "## Where the time goes (ONNX Runtime profiler, kernel time per run)", ""]
    for name, profile in result["profiles"].items():
        top = ", ".join(f"{op['op']} {100 * op['share']:.0f}%" for op in profile["ops"][:5])
        groups = profile.get("groups")
        split = "; " + ", ".join(f"{g} {100 * v:.0f}%" for g, v in groups.items()) if groups else ""
        lines.append(f"- {name}: {profile['kernel_ms_per_run']:.0f} ms/run; {top}{split}")
    lines += [
        "",
        f"Setup (data, exports) {result['setup_s']:.0f} s; total {result['total_s'] / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)


def _strip_table(result: dict[str, Any], rows: list[dict]) -> list[str]:
    lines = [
        "## reference_unet: strips",
        "",
        "| configuration | runs | min ms | p50 ms | p90 ms | p99 ms | strips/s | x seed | peak RSS MiB "
        "| GFLOP/strip | GFLOP/s | % of peak | trained image AUROC |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        fraction = "" if r.get("fraction_of_peak") is None else f"{100 * r['fraction_of_peak']:.0f}%"
        lines.append(
            f"| {r['name']} | {r['runs']} | {r['min_ms']:.0f} | {r['p50_ms']:.0f} | {r['p90_ms']:.0f} | "
            f"{r['p99_ms']:.0f} | {r['strips_per_s']:.2f} | {r['speedup_vs_seed']:.1f} | "
            f"{r['peak_rss_mib']:.0f} | {r['gflop_per_strip']:.0f} | {r['gflop_per_s']:.0f} | {fraction} | "
            f"{_trained_auroc(result, r['width'])} |"
        )
    gemm = result["gemm_peak"]
    int8_peak = gemm.get("int8_peak_gops")
    lines += [
        "",
        "Python rows time `Inspector.inspect(path)` (native read included); `defectkit-bench` rows read the "
        "strip once and time inspection only (the C++ tool reports statistics per process, pooled as: "
        "min of mins, median of p50s, worst p90/p99). GFLOP: multiply-add = 2 FLOPs; tiled = tiles x "
        "patch FLOPs, full-frame = the padded 992 x 192 frame. INT8 rows' % of peak is of the INT8 GEMM "
        "peak (GOP/s).",
        "",
        f"Measured GEMM peak ({gemm['size']}^3, {gemm['threads']} threads): FP32 "
        f"{gemm['fp32_peak_gflops']:.0f} GFLOP/s (torch {gemm['fp32_torch_gflops']:.0f}, numpy "
        f"{gemm['fp32_numpy_gflops']:.0f}); INT8 "
        + (f"{int8_peak:.0f} GOP/s" if int8_peak else "n/a")
        + f" (torch._int_mm {_num(gemm.get('int8_torch_int_mm_gops'))}, ORT MatMulInteger "
        f"{_num(gemm.get('int8_ort_matmulinteger_gops'))}).",
        "",
    ]
    pre = result.get("preprocessing")
    if not pre:
        return lines
    lines += [
        f"Preprocessing one uncompressed strip ({pre['strip_bytes'] / 1e6:.1f} MB): native read + "
        f"normalise p50 {pre['native']['p50_ms']:.2f} ms, tifffile + numpy p50 "
        f"{pre['tifffile_numpy']['p50_ms']:.2f} ms ({pre['speedup']:.2f}x). Split: native read alone "
        f"{pre['native_read_only']['p50_ms']:.2f} ms (what `Inspector` does; it scales inside the graph), "
        f"numpy normalise alone {pre['numpy_normalise_only']['p50_ms']:.2f} ms.",
        "",
    ]
    return lines


def _trained_table(result: dict[str, Any], rows: list[dict]) -> list[str]:
    trained = result.get("trained") or {}
    if not rows:
        reason = trained.get("skipped")
        return [f"Trained-model table (OpenVINO peers) skipped: {reason}.", ""] if reason else []
    accuracy = trained["accuracy"]
    lines = [
        "## reference_unet: the trained demo model, defectkit and OpenVINO",
        "",
        f"Model: `{trained['run']}` (trained by `make demo`). Accuracy on its 100-strip test split.",
        "",
        "| configuration | graph | p50 ms | p90 ms | strips/s | x seed | peak RSS MiB | test image AUROC "
        "| test pixel AUROC |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        a = accuracy[r["name"]]
        lines.append(
            f"| {r['name']} | {r['graph']} | {r['p50_ms']:.0f} | {r['p90_ms']:.0f} | {r['strips_per_s']:.2f} "
            f"| {r['speedup_vs_seed']:.1f} | {r['peak_rss_mib']:.0f} | {a['image_auroc']:.3f} "
            f"| {a['pixel_auroc']:.3f} |"
        )
    return [
        *lines,
        "",
        "Every row reads the strip from disk on each call (defectkit natively, OpenVINO rows with "
        "tifffile). OpenVINO INT8 is NNCF post-training quantisation on the calibration strips "
        "defectkit's export uses; 'accuracy control' is `nncf.quantize_with_accuracy_control` with "
        "image AUROC on the validation split and a 0.005 drop allowed (defectkit's gate tolerance). "
        f"defectkit FP32 and OpenVINO f32 differ by {trained.get('fp32_agreement', float('nan')):.1e} "
        "AUROC at most (the same model read by two runtimes).",
        "",
    ]


def _guided_table(result: dict[str, Any], rows: list[dict]) -> list[str]:
    lines = [
        "## guided_classifier: images",
        "",
        "| configuration | runs | min ms | p50 ms | p90 ms | p99 ms | images/s | x PyTorch | x ORT FP32 "
        "| peak RSS MiB | GFLOP/image | GFLOP/s | % of peak |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        fraction = "" if r.get("fraction_of_peak") is None else f"{100 * r['fraction_of_peak']:.0f}%"
        lines.append(
            f"| {r['name']} | {r['runs']} | {r['min_ms']:.1f} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['images_per_s']:.2f} | {r['speedup_vs_torch']:.2f} | "
            f"{r['speedup_vs_ort_fp32']:.2f} | {r['peak_rss_mib']:.0f} | {r['gflop_per_strip']:.2f} | "
            f"{r['gflop_per_s']:.0f} | {fraction} |"
        )
    models = result.get("guided", {})
    shapes = "; ".join(
        f"{m['label']}: {_shape(m['config'])}, {m['gflop']:.2f} GFLOP per image" for m in models.values()
    )
    islands = {
        k: v.get("int8_float_islands")
        for k, v in result.get("exports", {}).items()
        if k.startswith("guided_")
    }
    lines += [
        "",
        f"Models (random weights, nothing downloaded): {shapes}. Python rows (`defectkit Python` = the C++ "
        "runtime through `defectkit.ImageClassifier.classify(path)`, `ORT Python` = onnxruntime on the same "
        "FP32 artifact, `PyTorch eager` = the export's `ImageGraph` on the same network) read and decode a "
        "PNG file on every call (native decoder for the runtime, OpenCV for the baselines); "
        "`defectkit-bench` decodes it once and times classification from memory. Every graph includes "
        "the resize to the network's size, the normalisation and the mask at the input's size. INT8: "
        f"QDQ, minmax calibration on 16 demo training images, float islands {islands}; its gate ran on "
        "RANDOM weights and means nothing.",
        "",
    ]
    return lines


def _shape(config: dict) -> str:
    return (
        f"{config['backbone']} size {config['size']}, patch {config['patch_size']}, {config['image_size']} px"
    )


# What would close each target when it is missed (the measured split is printed beside it).
CLOSING = {
    "w64": "fuse the per-tile work further (full-frame INT8 is the lever: no overlap recompute), keep "
    "Resize/Concat in INT8, and use all cores with no other load.",
    "default": "the gap is compute efficiency, not FLOPs: width 16 convolutions (16-128 channels) run far "
    "below the GEMM peak. Done so far: the head is one folded defect logit and a Sigmoid (no float "
    "softmax). Left: the full-frame graph where the gate allows it (0.65x the FLOPs of 18 overlapping "
    "tiles), nearest/transposed-conv upsampling instead of bilinear Resize (a retrain), NHWC INT8 end to "
    "end (no Reorder/Quantize between layers), or width 8 if the width study's accuracy allows it.",
    "int8": "at width 16 the INT8 graph spends its time outside QLinearConv (float islands, Resize, "
    "Quantize/Dequantize and NCHWc reorders) and the convolutions are too thin to gain 4x from VNNI; "
    "quantise the upsampling too and keep the gate's float islands few (see above).",
    "guided_ort_fp32": "export already quantises only MatMul/Gemm/Conv with GEMM outputs in float "
    "(ImageExportPlan.quantization; `python -m benchmarks.guided_int8` measured the settings). Folding the "
    "layer scales into the projection weights removes 24 Muls and no measurable time "
    "(`python -m benchmarks.guided_layer_scale`). What is left is float work between the GEMMs "
    "(GELU, LayerNorm, the activation QuantizeLinear before each GEMM), the attention's activation x "
    "activation products, and ~800 nodes dispatched one by one on 2 threads: a runtime that fuses them "
    "(the OpenVINO EP row, where measured) or fused quantised attention/LayerNorm kernels.",
    "guided_torch": "PyTorch eager runs the same graph op by op without fusions; the INT8 runtime's lead "
    "over it grows with the fixes above.",
    "trained": "see docs/experiments/reference_unet.md (an INT8-friendly strip graph): thin convolutions are "
    "what ONNX Runtime's INT8 kernels run worst; OpenVINO's INT8 kernels run the same network faster.",
    "preprocessing": "the native read is one copy of the file into the tensor; what is left is the page "
    "cache read and the float copy. Map the file (mmap) and hand the planes to the graph without the copy; "
    "the numpy normalise step is not needed by the runtime at all (scaling is inside the graph).",
}


def _top(profile: dict | None, n: int = 4) -> str:
    if not profile:
        return "no profile"
    ops = ", ".join(f"{op['op']} {100 * op['share']:.0f}%" for op in profile["ops"][:n])
    return f"{profile['kernel_ms_per_run']:.0f} ms of kernels per run: {ops}"


def _groups(profile: dict | None) -> str:
    groups = (profile or {}).get("groups") or {}
    return ", ".join(f"{g} {100 * v:.0f}%" for g, v in groups.items()) or "n/a"


def _missed(result: dict[str, Any]) -> list[str]:
    missed = [t for t in result["targets"] if not t["met"]]
    if not missed:
        return []
    lines = ["", "## Missed targets: where the time goes, what would close it", ""]
    profiles = result["profiles"]
    pre = result.get("preprocessing")
    for t in missed:
        key = t.get("key") or ""
        if key == "trained":
            where = "the trained table above, same rounds"
        elif key == "preprocessing":
            where = (
                f"native read {pre['native_read_only']['p50_ms']:.2f} ms + numpy normalise "
                f"{pre['numpy_normalise_only']['p50_ms']:.2f} ms vs tifffile + numpy "
                f"{pre['tifffile_numpy']['p50_ms']:.2f} ms"
            )
        elif key == "int8":
            where = "; ".join(
                f"{name}: FP32 {_top(profiles.get(f'{name} fp32'), 3)} / "
                f"INT8 {_top(profiles.get(f'{name} int8'), 5)}"
                for name in sorted({k.rsplit(" ", 1)[0] for k in profiles if not k.startswith("guided_")})
            )
        elif key.startswith("guided_"):
            name = t["profile"]
            where = (
                f"FP32 {_top(profiles.get(f'{name} fp32'), 3)} / INT8 {_top(profiles.get(f'{name} int8'), 6)}"
                f"; INT8 kernel time by kind: {_groups(profiles.get(f'{name} int8'))}"
            )
            if t.get("profile_of"):
                where = f"profile of {t['profile_of']}: {where}"
        elif key == "default":
            int8 = _top(profiles.get(f"{t['profile']} int8"), 5)
            where = f"needs <= {t['needed_ms']:.0f} ms/strip; INT8 {int8}"
        else:
            where = f"INT8 {_top(profiles.get(t.get('profile', '') + ' int8'), 5)}"
        lines.append(f"- **{t['target']}** ({t['measured']}): {where}. To close: {CLOSING.get(key, '')}")
    return lines


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def plot(result: dict[str, Any], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter

    strip_rows = [r for r in result["configs"] if "family" not in r]
    guided_rows = [r for r in result["configs"] if r.get("family") == "guided_classifier"]
    fig, grid = plt.subplots(2, 3, figsize=(18, 13), gridspec_kw={"width_ratios": [2, 2, 1.4]})
    axes = [grid[0, 0], grid[0, 1], grid[0, 2]]
    _bars(grid[0, 0], grid[0, 1], strip_rows, "strips")
    _bars(grid[1, 0], grid[1, 1], guided_rows, "images")
    grid[1, 2].axis("off")
    study = (result.get("width_study") or {}).get("rows", [])
    trained = [r for r in study if r.get("image_auroc") is not None]
    if trained:
        x = [r["patches_per_s"] / r["tiles_per_strip"] for r in trained]
        axes[2].plot(x, [r["image_auroc"] for r in trained], "o-", label="image AUROC")
        axes[2].plot(x, [r["pixel_auroc"] for r in trained], "s--", label="pixel AUROC")
        for r, xv in zip(trained, x, strict=True):
            axes[2].annotate(
                f"w{r['width']}", (xv, r["image_auroc"]), textcoords="offset points", xytext=(4, -12)
            )
        axes[2].set_xscale("log")
        axes[2].legend()
    axes[2].set_xlabel("strips/s (PyTorch eager, width study)")
    axes[2].set_title("width study: accuracy vs throughput")
    load = result["machine"]["load_average"]
    for axis in grid.flat:
        if axis.get_xscale() == "log":  # an empty panel (no rows, no width study) stays linear
            axis.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.xaxis.set_minor_formatter(NullFormatter())
    fig.suptitle(
        f"defectkit benchmark {result['date'][:10]}, {result['machine']['cpu']}, "
        f"{result['threads']} threads, load {load[0]:.2f}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


BASELINES = ("seed", "torch", "guided_torch", "guided_ort")


def _bars(throughput, latency, rows: list[dict], unit: str) -> None:
    """Throughput and p99 latency of ``rows``, one bar each (grey: baselines, blue: FP32, red: INT8)."""
    if not rows:
        throughput.axis("off")
        latency.axis("off")
        return
    names = [r["name"] for r in rows]
    colours = [
        "#888888" if r["kind"] in BASELINES else "#1f77b4" if r["precision"] == "fp32" else "#d62728"
        for r in rows
    ]
    throughput.barh(names, [r["strips_per_s"] for r in rows], color=colours)
    throughput.set_xscale("log")
    throughput.set_xlabel(f"{unit}/s (log)")
    throughput.set_title(f"throughput, {unit} (grey: baselines, blue: FP32, red: INT8)")
    throughput.invert_yaxis()
    latency.barh(names, [r["p99_ms"] for r in rows], color=colours)
    latency.set_xscale("log")
    latency.set_xlabel("p99 latency, ms (log)")
    latency.set_title(f"p99 latency per {unit[:-1]}")
    latency.invert_yaxis()
    latency.set_yticklabels([])


def write_all(result: dict[str, Any], out: pathlib.Path, stamp: str) -> list[pathlib.Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stamp}.json", out / f"{stamp}.md", out / f"{stamp}.png"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n")
    paths[1].write_text(markdown(result))
    plot(result, paths[2])
    return paths
