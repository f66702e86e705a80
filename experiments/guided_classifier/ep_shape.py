"""Does giving ONNX Runtime's OpenVINO provider the input shape speed up the guided INT8 ViT?

On the strip artifact, ``provider_options={"reshape_input": ...}`` made the EP 10 % faster
(``benchmarks/openvino_paired.py``). This asks the same of guided_classifier's INT8 artifact
(``make bench``'s ViT-S/14 224, random weights, under ``bench_out/bench``): every session below is
``defectkit.ImageClassifier`` on the EP, all in one process (one ONNX Runtime library per process),
timed in shuffled paired rounds on the bench's grey demo PNGs (a fixed one-channel shape refuses
the RGB one), file read and decode included. Prints each session's median and its time ratio to
the default EP session (median over rounds, interquartile range) and checks the probabilities
agree with it.

    .venv/bin/python experiments/guided_classifier/ep_shape.py --rounds 30
"""

from __future__ import annotations

import argparse
import pathlib
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artifact", type=pathlib.Path,
                        default=ROOT / "bench_out/bench/export_guided_vits14_224/model_int8.onnx")
    parser.add_argument("--images", type=pathlib.Path, default=ROOT / "bench_out/bench/guided_images_224")
    parser.add_argument("--size", type=int, default=224, help="the images' height and width")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()  # fmt: skip

    import cv2
    from benchmarks.guided import BF16
    from benchmarks.openvino_peer import openvino_ep_library

    import defectkit

    library = openvino_ep_library()
    if library is None:
        sys.exit("ONNX Runtime's OpenVINO provider is missing: `make bench` installs it")
    pngs = sorted(args.images.glob("*.png"))
    images = [p for p in pngs if cv2.imread(str(p), cv2.IMREAD_UNCHANGED).ndim == 2]  # grey only
    shape = {"reshape_input": f"image[1,{args.size},{args.size},1]"}
    options = {
        "EP": None,
        "EP, shape given": shape,
        "EP, shape given with channels 1..3": {"reshape_input": f"image[1,{args.size},{args.size},1..3]"},
        "EP, bf16 float parts": dict(BF16),
        "EP, bf16 float parts, shape given": {**BF16, **shape},
    }
    sessions = {
        name: defectkit.ImageClassifier(str(args.artifact), threads=args.threads, provider="openvino",
                                        onnxruntime_library=library, provider_options=value)
        for name, value in options.items()
    }  # fmt: skip
    first = {name: [s.classify(p).defect_probability for p in images] for name, s in sessions.items()}
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for r in range(args.rounds):
        order = list(sessions)
        random.Random(r).shuffle(order)
        for name in order:
            for path in images:  # one untimed pass per turn
                sessions[name].classify(path)
            turn = []
            for path in images * 2:
                start = time.perf_counter()
                sessions[name].classify(path)
                turn.append(time.perf_counter() - start)
            times[name].append(1000 * statistics.median(turn))
    print(f"{len(images)} grey images, {args.rounds} rounds, {args.threads} threads, {args.artifact}")
    print("| session | median ms | time / EP's (IQR) | max |dprob| vs EP |")
    print("| --- | --- | --- | --- |")
    for name, values in times.items():
        ratios = sorted(v / b for v, b in zip(values, times["EP"], strict=True))
        quarter = len(ratios) // 4
        diff = max(abs(a - b) for a, b in zip(first[name], first["EP"], strict=True))
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.median(ratios):.3f} "
              f"({ratios[quarter]:.3f}-{ratios[-1 - quarter]:.3f}) | {diff:.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
