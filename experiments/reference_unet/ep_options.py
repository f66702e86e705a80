"""Does another OpenVINO execution-provider setting bring the strip INT8 from 59x to 70x the seed (#18)?

``make bench`` times the trained INT8 artifact on ONNX Runtime's OpenVINO EP with its input
shape given (``reshape_input``) at 31 ms, 59.2x the seed; 70x needs it about 1.18x faster. This
times the same artifact through ``defectkit.Inspector`` on the EP with the shape given, alone and
with one more setting each: OpenVINO's float parts (Resize, Sigmoid, the score's filter) in bf16
(``INFERENCE_PRECISION_HINT``, where the CPU computes bf16), its latency performance hint, and
the provider's QDQ optimiser (``enable_qdq_optimizer``). Each configuration runs in its own
long-lived process (``benchmarks.paired``: shuffled paired rounds, file read included, on
uncompressed copies of test strips); time ratio to the shape-only session per round, median and
95 % bootstrap interval, and the largest heatmap difference from it.

    .venv/bin/python experiments/reference_unet/ep_options.py \
        --trained bench_out/amd_seed1_7bit/reference_unet --rounds 40

Needs the EP ``make bench`` installs (``.deps/onnxruntime-openvino``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/
from benchmarks.openvino_paired import uncompressed_strips  # noqa: E402
from benchmarks.openvino_peer import openvino_ep_library, static_shape  # noqa: E402

from benchmarks import paired  # noqa: E402
from defectkit.evaluation.evidence import paired_time_ratio  # noqa: E402


def strip_call(config: dict, threads: int):
    """The timed call in a worker process: a strip path in, the heatmap out (read included)."""
    import defectkit

    inspector = defectkit.Inspector(
        config["artifact"], threads=threads, provider="openvino",
        onnxruntime_library=config["library"], provider_options=config["options"],
    )  # fmt: skip
    return lambda strip: inspector.inspect(strip).heatmap


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trained", type=pathlib.Path, required=True, help="a demo folder (artifact/, data/)"
    )
    parser.add_argument("--work", type=pathlib.Path, default=ROOT / "bench_out" / "ep_options")
    paired.add_arguments(parser, rounds=40, per_round=8, item="strip")
    parser.add_argument("--out", type=pathlib.Path, help="write the per-round medians and ratios as JSON")
    args = parser.parse_args()
    library = openvino_ep_library()
    if library is None:
        parser.error("the OpenVINO EP is not installed: `make bench` installs it")
    artifact = str(args.trained / "artifact" / "model_int8.onnx")
    shape = {"reshape_input": static_shape(artifact)}
    variants = {
        "shape": shape,
        "shape + bf16 float parts": {
            **shape,
            "load_config": json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "bf16"}}),
        },
        "shape + latency hint": {
            **shape,
            "load_config": json.dumps({"CPU": {"PERFORMANCE_HINT": "LATENCY"}}),
        },
        "shape + QDQ optimiser": {**shape, "enable_qdq_optimizer": "True"},
    }
    configs = [{"artifact": artifact, "library": library, "options": o} for o in variants.values()]
    strips = uncompressed_strips(args.trained / "data", args.work / "strips")
    times, outputs = paired.time_paired(
        configs, strip_call, strips, rounds=args.rounds, per_round=args.per_round, warm=args.warm,
        settle_s=args.settle_s, threads=args.threads, outputs_of=range(len(configs)),
    )  # fmt: skip
    result = {}
    for index, name in enumerate(variants):
        ratio, (low, high) = paired_time_ratio(times[index], times[0], alpha=0.025)
        gap = max(float(np.abs(a - b).max()) for a, b in zip(outputs[index], outputs[0], strict=True))
        median = float(np.median(times[index]))
        result[name] = {"median_ms": median, "ratio": ratio, "interval": [low, high], "max_heatmap_gap": gap}
        print(
            f"{name}: {median:.1f} ms, time / shape only {ratio:.3f} ({low:.3f}-{high:.3f}), "
            f"heatmap gap {gap:.1e}"
        )
    if args.out:
        args.out.write_text(json.dumps({"variants": variants, "times_ms": times, "result": result}, indent=1))


if __name__ == "__main__":
    main()
