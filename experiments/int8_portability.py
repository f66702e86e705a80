"""Does an INT8 artifact compute, on a CPU without AVX512-VNNI, what its export measured?

ONNX Runtime's x86 INT8 kernels multiply uint8 activations by int8 weights. With AVX512-VNNI each
product is summed in 32 bits; without it (AVX2, AVX-512 without VNNI) pairs are first added in 16
bits with saturation, which full-range weights (+-127) can overflow and 7-bit ones (+-64) cannot.
For each trained demo folder (``defectkit demo`` output of one family: ``run/``, ``data/``,
``artifact/``), this script quantises the network again exactly as its shipped INT8 (the same
graph, calibration method and float islands, from ``export_report.json``) with 8-bit and with
7-bit weights, then measures

- test accuracy of both through the C++ runtime here (``defectkit eval``), and
- the outputs of both on the first ``--items`` test items, here and under QEMU's Haswell (AVX2, no
  AVX-512: ``qemu-x86_64 -cpu Haswell-v4``, Debian's qemu-user), and how far apart they are.

    .venv/bin/python experiments/int8_portability.py demo_out/reference_unet demo_out/guided_classifier \\
        --out experiments/results/int8_portability.md

Record: docs/experiments/int8_portability.md.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

QEMU_CPU = "Haswell-v4"


def _items(family: str, data: pathlib.Path, count: int) -> list[pathlib.Path]:
    if family == "reference_unet":
        from defectkit.data.layout import discover_dataset

        paths = [s.path for s in discover_dataset(data).test]
    else:
        from defectkit.models.guided_classifier.data.layout import read_split

        paths = [r.path for r in read_split(data, "test")]
    picks = np.linspace(0, len(paths) - 1, min(count, len(paths))).astype(int)
    return [paths[i] for i in picks]


def dump(family: str, out: pathlib.Path, items: list[str], artifacts: list[str]) -> None:
    """Every output of each artifact on each item through ONNX Runtime's CPU provider (the library
    the native runtime loads), saved to ``out`` (an .npz): run here and under QEMU."""
    import onnxruntime as ort

    if family == "reference_unet":
        from defectkit.data.strip_io import read_strip_tifffile

        feed = lambda path: {"strip": read_strip_tifffile(path).astype(np.float32)[None]}  # noqa: E731
    else:
        from defectkit.models.guided_classifier.data.images import read_image

        feed = lambda path: {"image": read_image(path)[None]}  # noqa: E731
    saved = {}
    for artifact in artifacts:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        session = ort.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        outputs = [session.run(None, feed(item)) for item in items]
        for i, name in enumerate(names):
            saved[f"{pathlib.Path(artifact).stem}/{name}"] = np.stack([o[i] for o in outputs])
    np.savez_compressed(out, **saved)


def requantise(folder: pathlib.Path, target: pathlib.Path) -> dict[int, pathlib.Path]:
    """The shipped INT8's graph, calibration and float islands, quantised with 8- and 7-bit weights,
    written with the shipped artifact's metadata (its weight bits set to what each is)."""
    import onnx

    from defectkit.artifact import read_metadata, write_metadata
    from defectkit.export.pipeline import ExportOptions, _Exporter

    report = json.loads((folder / "artifact" / "export_report.json").read_text())["int8"]
    shipped = read_metadata(folder / "artifact" / "model_int8.onnx")
    exporter = _Exporter(ExportOptions(run=folder / "run", out=target, int8=True, data=folder / "data"))
    written = {}
    try:
        fp32 = exporter.fp32_candidate(report["graph"])
        for bits in (8, 7):
            exporter.options.int8_weight_bits = bits
            model = exporter.int8_candidate(fp32, report["method"], tuple(report["float_islands"])).model
            shipped.int8_weight_bits = bits
            write_metadata(model, shipped)
            written[bits] = target / f"int8_{bits}bit.onnx"
            onnx.save(model, written[bits])
    finally:
        exporter.close()
    return written


def accuracy(artifact: pathlib.Path, data: pathlib.Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "eval.json"
        command = [sys.executable, "-m", "defectkit", "eval", str(artifact), str(data), "--json", str(out)]
        subprocess.run([*command, "--no-progress"], check=True, capture_output=True)
        result = json.loads(out.read_text())
    keys = ("image_auroc", "pixel_auroc", "mean_dice")
    return {k: result[k] for k in keys if k in result}


def study(folder: pathlib.Path, work: pathlib.Path, count: int) -> dict:
    from defectkit.artifact import read_metadata

    family = read_metadata(folder / "artifact" / "model_int8.onnx").family
    work.mkdir(parents=True, exist_ok=True)
    artifacts = requantise(folder, work)
    items = [str(p) for p in _items(family, folder / "data", count)]
    paths = [str(artifacts[b]) for b in (8, 7)]
    me = [sys.executable, str(pathlib.Path(__file__).resolve()), "--dump", family]
    here, emulated = work / "here.npz", work / "avx2.npz"
    subprocess.run([*me, str(here), *paths, "--items", *items], check=True)
    qemu = shutil.which("qemu-x86_64") or "qemu-x86_64"
    subprocess.run([qemu, "-cpu", QEMU_CPU, *me, str(emulated), *paths, "--items", *items], check=True,
                   stderr=subprocess.DEVNULL)  # fmt: skip  (QEMU warns about every CPU flag it lacks)
    a, b = np.load(here), np.load(emulated)
    differences = {
        key: {"max": float(np.abs(a[key] - b[key]).max()), "mean": float(np.abs(a[key] - b[key]).mean())}
        for key in a.files
    }
    return {
        "folder": str(folder),
        "family": family,
        "shipped": json.loads((folder / "artifact" / "export_report.json").read_text())["int8"]["graph"],
        "items": len(items),
        "accuracy": {bits: accuracy(artifacts[bits], folder / "data") for bits in (8, 7)},
        "avx2_vs_here": differences,
    }


def markdown(results: list[dict], command: str) -> str:
    lines = [
        "# INT8 on a CPU without AVX512-VNNI: 8-bit against 7-bit weights",
        "",
        f"Command: `{command}`. Here: {_cpu()}; emulated: QEMU `-cpu {QEMU_CPU}` (AVX2, no AVX-512).",
        "",
        "| demo folder | weights | test accuracy here (C++ runtime) | output "
        "| max / mean abs difference, AVX2 vs here |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        for bits in (8, 7):
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in r["accuracy"][bits].items())
            for key, d in r["avx2_vs_here"].items():
                if key.startswith(f"int8_{bits}bit/"):
                    output = key.split("/", 1)[1]
                    diff = f"{d['max']:.2e} / {d['mean']:.2e}"
                    lines.append(f"| {r['folder']} | {bits}-bit | {metrics} | {output} | {diff} |")
    return "\n".join(lines) + "\n"


def _cpu() -> str:
    from defectkit.benchmarking import machine_info

    info = machine_info()
    return f"{info.get('cpu', '?')} ({', '.join(info.get('cpu_flags', []))})"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--dump":  # the child: here or under QEMU
        family, out, rest = sys.argv[2], pathlib.Path(sys.argv[3]), sys.argv[4:]
        split = rest.index("--items")
        dump(family, out, rest[split + 1 :], rest[:split])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=pathlib.Path, nargs="+", help="demo folders, one family each")
    parser.add_argument("--items", type=int, default=10, help="test items compared here and under QEMU")
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("bench_out/int8_portability"))
    parser.add_argument("--out", type=pathlib.Path, required=True, help="markdown table (JSON beside it)")
    args = parser.parse_args()
    results = [study(f, args.work / f"{i}_{f.name}", args.items) for i, f in enumerate(args.folders)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    args.out.write_text(markdown(results, " ".join(["python", *sys.argv])))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
