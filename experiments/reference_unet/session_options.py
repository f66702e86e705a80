"""Which ONNX Runtime session options speed up a strip artifact on this CPU (#18).

Holds one session per option set over the same artifact, all in this process, and times them in
interleaved rounds (each round visits every set in a shuffled order, a few strips each), so
that load on the machine lands on every set alike. Per round, each set's median latency is
divided by the default set's median of the same round: the ratios are paired, and the
reported interval is a bootstrap over rounds (2.5 and 97.5 percentiles of the median ratio).
A set counts as faster only when its whole interval lies below 1.

The default set is what the C++ runtime configures (`cpp/src/model.cpp`: intra-op threads
0, i.e. one per physical core, graph optimisation ``all``); the others change one option.
``--baseline`` adds other artifacts of the same model (a graph before a change) to the rounds.
Every session shares this process and its two cores: the idle sessions' spinning threads slow
each row (1.3-1.7x against one process each), and between two networks' artifacts that
understated the difference (head_stride 2 against DRAEM: 1.13x here, 1.44x with one process per
artifact). To compare artifacts, use ``artifacts_paired.py``; this script is for the options.

    .venv/bin/python experiments/reference_unet/session_options.py \
        --artifact demo_out/reference_unet/artifact/model_int8.onnx \
        --strips demo_out/reference_unet/data/test --rounds 20

Writes a JSON and a Markdown table under ``experiments/reference_unet/results/`` unless
``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

from defectkit.benchmarking import write_study
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.evaluation.evidence import interval_side

RESULTS = pathlib.Path(__file__).resolve().parent / "results"

# name -> (session config entries, intra-op threads); one change from the default each.
OPTION_SETS: dict[str, tuple[dict[str, str], int]] = {
    "default (C++ runtime)": ({}, 0),
    "no spinning": ({"session.intra_op.allow_spinning": "0"}, 0),
    "dynamic block base 4": ({"session.dynamic_block_base": "4"}, 0),
    "denormals as zero": ({"session.set_denormal_as_zero": "1"}, 0),
    "one intra-op thread": ({}, 1),
}


def session(artifact: pathlib.Path, entries: dict[str, str], threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    for key, value in entries.items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])


def feeds(artifact_session: ort.InferenceSession, strips: pathlib.Path, count: int) -> list[dict]:
    paths = sorted(strips.rglob("*.tif"))[:count]
    if not paths:
        sys.exit(f"{strips}: no .tif strips")
    first = artifact_session.get_inputs()[0]
    channels = first.shape[1] if isinstance(first.shape[1], int) else 4
    return [{first.name: read_strip_tifffile(p)[:channels][None].astype(np.float32)} for p in paths]


def bootstrap_interval(values: list[float], rng: np.random.Generator, draws: int = 2000) -> tuple[float, float]:
    samples = rng.choice(np.asarray(values), size=(draws, len(values)), replace=True)
    medians = np.median(samples, axis=1)
    return float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


def measure(args: argparse.Namespace) -> dict:
    option_sets = dict(list(OPTION_SETS.items())[:1]) if args.default_only else OPTION_SETS
    sessions = {
        name: session(args.artifact, entries, threads) for name, (entries, threads) in option_sets.items()
    }
    for other in args.baseline:  # another artifact of the same model, default options
        sessions[f"{other} (default options)"] = session(other, {}, 0)  # the path: two runs' artifacts apart
    inputs = feeds(next(iter(sessions.values())), args.strips, args.strip_count)
    for s in sessions.values():  # warm-up: first runs allocate and pre-pack
        for feed in inputs[:2]:
            s.run(None, feed)
    rng = np.random.default_rng(0)
    per_round: dict[str, list[float]] = {name: [] for name in sessions}
    names = list(sessions)
    for index in range(args.rounds):
        for name in rng.permutation(names):
            times = []
            for k in range(args.per_round):
                feed = inputs[(index * args.per_round + k) % len(inputs)]
                start = time.perf_counter()
                sessions[name].run(None, feed)
                times.append((time.perf_counter() - start) * 1e3)
            per_round[name].append(statistics.median(times))
        print(f"round {index + 1}/{args.rounds}", file=sys.stderr)
    default = names[0]
    rows = []
    for name in names:
        ratios = [t / d for t, d in zip(per_round[name], per_round[default], strict=True)]
        low, high = bootstrap_interval(ratios, rng)
        rows.append({
            "options": name,
            "config": OPTION_SETS.get(name, ({}, 0))[0],
            "intra_op_threads": OPTION_SETS.get(name, ({}, 0))[1],
            "median_ms": statistics.median(per_round[name]),
            "ratio_to_default": statistics.median(ratios),
            "ratio_interval": [low, high],
            "faster": high < 1.0,
            "slower": low > 1.0,
        })  # fmt: skip
    return {
        "artifact": str(args.artifact),
        "onnxruntime": ort.__version__,
        "cores": len(os.sched_getaffinity(0)),
        "rounds": args.rounds,
        "strips_per_round": args.per_round,
        "load_average": os.getloadavg(),
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"# Session options on {result['artifact']}",
        "",
        f"ONNX Runtime {result['onnxruntime']}, {result['cores']} cores, {result['rounds']} interleaved rounds "
        f"x {result['strips_per_round']} strips; load average at the end {result['load_average'][0]:.2f}.",
        "Ratio: this set's per-round median over the default's in the same round; interval: bootstrap 95 % "
        "over rounds.",
        "",
        "| options | median ms | ratio to default | 95 % interval | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in result["rows"]:
        low, high = row["ratio_interval"]
        verdict = interval_side(*row["ratio_interval"], "faster", "slower")
        lines.append(
            f"| {row['options']} | {row['median_ms']:.1f} | {row['ratio_to_default']:.3f} | "
            f"{low:.3f}-{high:.3f} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=pathlib.Path, required=True, help="a strip artifact (.onnx)")
    parser.add_argument("--strips", type=pathlib.Path, required=True, help="a folder of .tif strips (searched recursively)")
    parser.add_argument(
        "--baseline", type=pathlib.Path, nargs="*", default=[],
        help="other artifacts of the same model (e.g. before a graph change) timed in the same rounds",
    )  # fmt: skip
    parser.add_argument(
        "--default-only", action="store_true",
        help="time only the default options (to compare --baseline artifacts, fewer sessions held)",
    )  # fmt: skip
    parser.add_argument("--strip-count", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=3, help="strips timed per set per round")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    result = measure(args)
    write_study(args.out, "session_options", result, markdown(result))


if __name__ == "__main__":
    main()
