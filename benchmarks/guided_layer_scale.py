"""Does folding the ViT's layer scales into the projection weights speed up guided_classifier's
INT8 artifact (#17)?

DINOv2/DINOv3 blocks end each residual branch with ``linear(x) * lambda`` (the layer scale): one
elementwise Mul per branch, 24 on ViT-S, 7 % of the INT8 kernel time in ``make bench``'s
profile. ``linear`` with its output rows and bias scaled by ``lambda`` is the same function
without the Mul, and per-channel INT8 weights make the fold neutral to quantisation.

Exports the ``make bench`` ViT-S/14 224 run (random weights; built under ``--work`` with the
bench's own helpers when missing) twice, as it ships and with the layer scales folded (the
family's ``ImageGraph`` wrapped, nothing else changed), FP32 and INT8 each. Then times the four
artifacts with ONNX Runtime (CPU provider, graph optimisation ``all``, ``--threads`` intra-op
threads: what the C++ runtime configures) on the bench's decoded test images in interleaved
rounds (shuffled order per round). Per round, folded / shipped per precision: the paired
median ratio and its bootstrap 95 % interval over rounds; "faster" only when the whole interval
lies below 1. Also the largest difference of the defect probability between the two on the
validation images (the fold must not change the function).

    .venv/bin/python -m benchmarks.guided_layer_scale --rounds 200

Writes ``benchmarks/results/guided_layer_scale-<date>.{json,md}`` unless ``--out`` says.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import os
import pathlib
import statistics
import sys
import time
from collections.abc import Iterator

import numpy as np
import onnx
import onnxruntime as ort
import torch

from benchmarks import cache, guided
from defectkit.benchmarking import write_study
from defectkit.evaluation.evidence import interval_side, paired_time_ratio

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODEL = "vits14_224"
# Where each backbone's residual branch ends: the linear whose output the layer scale multiplies.
BRANCH_OUTPUTS = {"layer_scale1": ("attention.output.dense", "attention.o_proj"),
                  "layer_scale2": ("mlp.fc2", "mlp.down_proj")}  # fmt: skip


def fold_layer_scales(backbone: torch.nn.Module) -> int:
    """Scales each branch's last linear by its layer scale and drops the scale, in place;
    returns how many were folded."""
    folded = 0
    for layer in [m for m in backbone.modules() if any(hasattr(m, name) for name in BRANCH_OUTPUTS)]:
        for scale_name, candidates in BRANCH_OUTPUTS.items():
            scale = getattr(layer, scale_name)
            linear = next(layer.get_submodule(c) for c in candidates if _has(layer, c))
            with torch.no_grad():
                linear.weight.mul_(scale.lambda1[:, None])
                if linear.bias is not None:
                    linear.bias.mul_(scale.lambda1)
            setattr(layer, scale_name, torch.nn.Identity())
            folded += 1
    return folded


def _has(module: torch.nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
    except AttributeError:
        return False
    return True


@contextlib.contextmanager
def folded_export() -> Iterator[None]:
    """Export builds its graph from a copy of the network whose layer scales are folded."""
    from defectkit.models.guided_classifier import export_plan

    shipped = export_plan.ImageGraph

    class FoldedGraph(shipped):
        def __init__(self, model: torch.nn.Module) -> None:
            model = copy.deepcopy(model)
            fold_layer_scales(model.backbone)
            super().__init__(model)

    export_plan.ImageGraph = FoldedGraph
    try:
        yield
    finally:
        export_plan.ImageGraph = shipped


def build(work: pathlib.Path) -> tuple[dict[str, pathlib.Path], pathlib.Path, pathlib.Path]:
    """{"shipped": folder, "folded": folder} of FP32 + INT8 artifacts, the data and the images."""
    entry = guided.setup(work, lambda m: print(m, file=sys.stderr), keys=(MODEL,))[MODEL]
    data = pathlib.Path(entry["run"]).parent / f"guided_data_{entry['image_size']}"
    folded = work / f"export_guided_{MODEL}_folded"
    if not cache.is_current(folded, "guided_classifier"):  # rebuilt when export's code changed
        with folded_export():
            guided.export_guided(pathlib.Path(entry["run"]), folded, data)
        cache.mark_current(folded, "guided_classifier")
    return {"shipped": pathlib.Path(entry["out"]), "folded": folded}, data, pathlib.Path(entry["images"])


def session(path: pathlib.Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def measure(args: argparse.Namespace) -> dict:
    from defectkit.models.guided_classifier.data.images import read_image
    from defectkit.models.guided_classifier.data.layout import read_split

    folders, data, images = build(args.work)
    keys = [(version, precision) for precision in ("fp32", "int8") for version in ("shipped", "folded")]
    files = {k: folders[k[0]] / f"model_{k[1]}.onnx" for k in keys}
    sessions = {k: session(files[k], args.threads) for k in keys}
    inputs = [{"image": read_image(p)[None]} for p in sorted(images.glob("*.png"))]
    difference = {}
    feeds = [{"image": read_image(r.path)[None]} for r in read_split(data, "val")]
    for precision in ("fp32", "int8"):  # the fold must not change what the artifact computes
        a, b = sessions["shipped", precision], sessions["folded", precision]
        gaps = [abs(float(a.run(None, f)[0][0, 1] - b.run(None, f)[0][0, 1])) for f in feeds]
        difference[precision] = max(gaps)
    for s in sessions.values():
        for feed in inputs[:2]:
            s.run(None, feed)
    rng = np.random.default_rng(0)
    per_round: dict[tuple[str, str], list[float]] = {k: [] for k in keys}
    for index in range(args.rounds):
        for i in rng.permutation(len(keys)):
            times = []
            for k in range(args.per_round):
                feed = inputs[(index * args.per_round + k) % len(inputs)]
                start = time.perf_counter()
                sessions[keys[i]].run(None, feed)
                times.append((time.perf_counter() - start) * 1e3)
            per_round[keys[i]].append(statistics.median(times))
        print(f"round {index + 1}/{args.rounds}", file=sys.stderr)
    rows = []
    for precision in ("fp32", "int8"):
        ratio, (low, high) = paired_time_ratio(
            per_round["folded", precision], per_round["shipped", precision], alpha=0.025
        )
        rows.append({
            "precision": precision,
            "nodes": {v: len(onnx.load(files[v, precision]).graph.node) for v in ("shipped", "folded")},
            "median_ms": {v: statistics.median(per_round[v, precision]) for v in ("shipped", "folded")},
            "ratio": ratio, "interval": [low, high], "faster": high < 1.0, "slower": low > 1.0,
            "max_probability_difference": difference[precision],
        })  # fmt: skip
    int8_over_fp32 = {
        v: statistics.median(np.divide(per_round[v, "fp32"], per_round[v, "int8"]))
        for v in ("shipped", "folded")
    }
    return {
        "model": MODEL,
        "onnxruntime": ort.__version__,
        "threads": args.threads,
        "rounds": args.rounds,
        "images_per_round": args.per_round,
        "load_average_end": os.getloadavg(),
        "rows": rows,
        "int8_speedup_over_fp32": int8_over_fp32,
    }


def markdown(result: dict) -> str:
    lines = [
        f"# Layer scales folded into the projections: ViT-S/14 224, {datetime.date.today().isoformat()}",
        "",
        "Command: `.venv/bin/python -m benchmarks.guided_layer_scale "
        f"--rounds {result['rounds']}`. ONNX Runtime {result['onnxruntime']}, {result['threads']} threads, "
        f"{result['rounds']} interleaved rounds x {result['images_per_round']} images; "
        f"load average at the end {result['load_average_end'][0]:.2f}. Ratio: folded / shipped per round "
        "(paired), median and bootstrap 95 % interval over rounds.",
        "",
        "| precision | nodes shipped / folded | median ms shipped / folded | ratio | 95 % interval | verdict "
        "| max probability difference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        verdict = interval_side(*r["interval"], "faster", "slower")
        lines.append(
            f"| {r['precision'].upper()} | {r['nodes']['shipped']} / {r['nodes']['folded']} | "
            f"{r['median_ms']['shipped']:.1f} / {r['median_ms']['folded']:.1f} | {r['ratio']:.3f} | "
            f"{r['interval'][0]:.3f}-{r['interval'][1]:.3f} | {verdict} | "
            f"{r['max_probability_difference']:.1e} |"
        )
    speed = result["int8_speedup_over_fp32"]
    lines += ["", f"INT8 over FP32 of the same version (median of per-round ratios): shipped "
              f"{speed['shipped']:.2f}x, folded {speed['folded']:.2f}x."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work", type=pathlib.Path, default=ROOT / "bench_out", help="make bench's work folder"
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=4, help="images timed per artifact per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    result = measure(args)
    write_study(args.out, "guided_layer_scale", result, markdown(result))


if __name__ == "__main__":
    main()
