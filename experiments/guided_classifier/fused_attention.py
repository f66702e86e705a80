"""Does ONNX Runtime's fused attention kernel speed up the ViT-S/14, FP32 or INT8 (#17)?

Export writes each attention block as separate nodes (Reshape and Transpose per head split,
MatMul, the scale's Mul, Softmax, MatMul, Transpose, Reshape); ONNX Runtime's own transformer
optimiser does not fuse them (its ViT pattern expects other nodes). Time outside the matrix
products is shared by FP32 and INT8, so removing it would raise INT8's speed-up over FP32
(``gemm_ceiling.py``). This replaces every block of ``make bench``'s ViT-S/14 224 FP32 artifact
(random weights, under ``bench_out/bench``) with one ``com.microsoft.MultiHeadAttention`` node
(exact: outputs are compared), quantises both graphs the way export does (``gemm_float_out`` of
``benchmarks/guided_int8.py``: the matrix products INT8, their outputs float; the fused
attention stays float), and times the four models, one fresh process each per round in shuffled
order (2 threads, 3 warm-up and ``--runs`` timed calls, the median per process). Time ratios
per round, medians with 95 % bootstrap intervals.

    .venv/bin/python experiments/guided_classifier/fused_attention.py --rounds 30
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/
BENCH = ROOT / "bench_out" / "bench"

_WORKER = """
import sys, time, numpy as np, onnxruntime as ort
from defectkit.benchmarking import pin_to_cores
pin_to_cores(2)
options = ort.SessionOptions(); options.intra_op_num_threads = 2; options.log_severity_level = 3
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
feed = {"image": np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)}
for _ in range(3):
    session.run(None, feed)
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); session.run(None, feed); times.append(time.perf_counter() - start)
print(sorted(times)[len(times) // 2] * 1e3)
"""


def fuse_attention(model):
    """``model`` with each attention block (Softmax under ``/attention/``) as one
    MultiHeadAttention node; returns the model and how many blocks it fused."""
    from onnx import helper, numpy_helper

    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    constants |= {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"
    }
    replaced, replacements = set(), {}
    for softmax in [n for n in graph.node if n.op_type == "Softmax" and "/attention/" in n.name]:
        scale = producer[softmax.input[0]]
        scores = producer[scale.input[0]]
        t_query, t_key = producer[scores.input[0]], producer[scores.input[1]]
        r_query, r_key = producer[t_query.input[0]], producer[t_key.input[0]]
        weighted = consumers[softmax.output[0]][0]
        t_value = producer[weighted.input[1]]
        r_value = producer[t_value.input[0]]
        merge = consumers[weighted.output[0]][0]
        merged = consumers[merge.output[0]][0]  # the Reshape back to (1, S, D)
        block = [
            r_query,
            r_key,
            r_value,
            t_query,
            t_key,
            t_value,
            scores,
            scale,
            softmax,
            weighted,
            merge,
            merged,
        ]
        if any(len(consumers[n.output[0]]) != 1 for n in block[:-1]):
            raise SystemExit(f"{softmax.name}: an attention tensor has another consumer; not fused")
        head_dim = int(constants[r_query.input[1]].reshape(-1)[-1])
        hidden = int(constants[consumers[merged.output[0]][0].input[1]].shape[0])  # o_proj's weight rows
        nodes = [  # the Gemms' 2-D outputs as (1, S, D), the shape MultiHeadAttention takes
            helper.make_node(
                "Reshape", [r.input[0], merged.input[1]], [f"{r.output[0]}_3d"], name=f"{r.name}_3d"
            )
            for r in (r_query, r_key, r_value)
        ]
        nodes.append(
            helper.make_node(
                "MultiHeadAttention",
                [n.output[0] for n in nodes],
                [merged.output[0]],
                name=softmax.name.replace("Softmax", "MultiHeadAttention"),
                domain="com.microsoft",
                num_heads=hidden // head_dim,
                scale=float(constants[scale.input[1]].reshape(-1)[0]),
            )
        )
        replaced.update(id(n) for n in block)
        replacements[id(merged)] = nodes
    kept = []
    for node in graph.node:
        kept.extend(replacements.get(id(node), [] if id(node) in replaced else [node]))
    del graph.node[:]
    graph.node.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model, len(replacements)


def build(work: pathlib.Path) -> dict[str, pathlib.Path]:
    """The four models: the bench's FP32, its fused copy, and each quantised as export does."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from benchmarks.guided_int8 import build_variants

    shipped = BENCH / "export_guided_vits14_224" / "model_fp32.onnx"
    data = BENCH / "guided_data_224"
    if not (shipped.is_file() and data.is_dir()):
        raise SystemExit(f"{shipped} or {data} missing: run `make bench` first")
    work.mkdir(parents=True, exist_ok=True)
    model, count = fuse_attention(onnx.load(shipped))
    fused = work / "fp32_fused.onnx"
    onnx.save(model, fused)
    print(f"fused {count} attention blocks", file=sys.stderr)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    feed = {"image": np.random.default_rng(1).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)}
    outputs = [ort.InferenceSession(p, options).run(None, feed) for p in (str(shipped), str(fused))]
    gap = max(float(np.abs(a - b).max()) for a, b in zip(*outputs, strict=True))
    print(f"fused FP32 against shipped FP32: largest output difference {gap:.2e}", file=sys.stderr)
    models = {"fp32": shipped, "fp32_fused": fused}
    for name, source in (("int8", shipped), ("int8_fused", fused)):
        folder = work / name
        folder.mkdir(exist_ok=True)
        models[name] = pathlib.Path(
            build_variants(source, data, folder, ["gemm_float_out"])["gemm_float_out"]["path"]
        )
    return models


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=12, help="timed calls per process")
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "bench_out" / "fused_attention")
    parser.add_argument("--out", type=pathlib.Path, help="write the per-round medians and ratios as JSON")
    args = parser.parse_args()
    from defectkit.evaluation.evidence import paired_time_ratio

    models = build(args.work)
    rng = random.Random(0)
    times: dict[str, list[float]] = {name: [] for name in models}
    for index in range(args.rounds):
        for name in rng.sample(sorted(models), len(models)):
            command = [sys.executable, "-c", _WORKER, str(models[name]), str(args.runs)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            times[name].append(float(out.strip().splitlines()[-1]))
        print(
            f"round {index + 1}: " + ", ".join(f"{k} {v[-1]:.1f} ms" for k, v in times.items()),
            file=sys.stderr,
        )
    ratios = {}
    for slow, fast in (
        ("fp32", "int8"),
        ("fp32_fused", "int8_fused"),
        ("int8", "int8_fused"),
        ("fp32", "fp32_fused"),
    ):
        value, (low, high) = paired_time_ratio(times[slow], times[fast], alpha=0.025)
        ratios[f"{slow} / {fast}"] = {"median": value, "interval": [low, high]}
        print(f"time {slow} / {fast}: {value:.3f} ({low:.3f}-{high:.3f})")
    if args.out:
        args.out.write_text(json.dumps({"times_ms": times, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
