"""`defectkit demo` over training seeds and precisions, and the table the README shows.

Each configuration runs the whole demo (synthesise, train, evaluate on the 100-strip test split,
export FP32 and INT8 with the gate, evaluate through the C++ runtime, latency) in its own folder,
one after another, then this script collects every ``summary.json`` into a Markdown table with
the mean and range over seeds. A configuration whose demo fails is a row that says so: the point
is that none fails.

    .venv/bin/python experiments/reference_unet/demo_seeds.py --out bench_out/demo_seeds \\
        --seeds 0 1 2 --precisions bf16 fp32

``--collect`` only rebuilds the table from folders already there. ``--paired-with OTHER`` adds
the per-seed differences (this folder's runs minus OTHER's, the same precisions and seeds: the
same data, so paired by seed) of each AUROC column: their mean and a t-based 95 % interval.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

COLUMNS = (
    ("pytorch", "image_auroc", "test image AUROC"),
    ("pytorch", "pixel_auroc", "test pixel AUROC"),
    ("int8", "image_auroc", "INT8 (C++) image AUROC"),
    ("int8", "pixel_auroc", "INT8 (C++) pixel AUROC"),
    ("int8", "good_flagged", "good flagged (of 40)"),
    ("int8", "defects_missed", "defects missed (of 60)"),
)


def run_demo(out: pathlib.Path, seed: int, precision: str, threads: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    command = [
        str(pathlib.Path(sys.executable).parent / "defectkit"),
        "demo",
        "--family",
        "reference_unet",
        "--out",
        str(out),
        "--train-seed",
        str(seed),
        "--precision",
        precision,
        "--threads",
        str(threads),
    ]
    start = time.perf_counter()
    with (out / "demo.log").open("w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    print(f"{out.name}: exit {code} after {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return {"exit": code}


def _value(summary: dict, part: str, key: str) -> float | None:
    if part == "int8":  # None where the gate refused INT8 and the demo went on with FP32 alone
        return summary["native"].get("model_int8.onnx", {}).get(key)
    return summary[part][key]


def table(out: pathlib.Path, configurations: list[tuple[str, int]]) -> str:
    lines = [
        "| precision | seed | "
        + " | ".join(c[2] for c in COLUMNS)
        + " | graph (FP32 / INT8) | INT8 calibration, float | demo min |",
        "| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " | --- | --- | --- |",
    ]
    by_precision: dict[str, list[dict]] = {}
    for precision, seed in configurations:
        folder = out / f"{precision}-seed{seed}"
        # defectkit demo writes OUT/<family>/summary.json (OUT/summary.json before the family seam)
        path = next(
            (p for p in (folder / "reference_unet" / "summary.json", folder / "summary.json") if p.is_file()),
            None,
        )
        if path is None:
            lines.append(f"| {precision} | {seed} | " + " | ".join("-" for _ in COLUMNS) + " | FAILED | | |")
            continue
        summary = json.loads(path.read_text())
        by_precision.setdefault(precision, []).append(summary)
        values = [_value(summary, part, key) for part, key, _ in COLUMNS]
        cells = ["refused" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in values]
        export = summary["export"]
        if "refused" in export:
            int8 = "refused | the gate refused INT8"
        else:
            islands = ", ".join(export["float_islands"]) or "none"
            int8 = f"{export['int8_graph']} | {export['int8_method']}, {islands}"
        lines.append(
            f"| {summary['precision']} | {seed} | " + " | ".join(cells) + f" | {export['graph']} / "
            f"{int8} | {summary['minutes']:.1f} |"
        )
    for precision, summaries in by_precision.items():
        cells = []
        for part, key, _ in COLUMNS:
            values = [v for v in (_value(s, part, key) for s in summaries) if v is not None]
            if not values:
                cells.append("refused")
                continue
            mean = statistics.mean(values)
            cells.append(
                f"**{mean:.3f}** ({min(values):.3f}-{max(values):.3f})"
                if isinstance(values[0], float)
                else f"**{mean:.1f}** ({min(values)}-{max(values)})"
            )
        lines.append(f"| {precision} | mean (range) of {len(summaries)} | " + " | ".join(cells) + " | | | |")
    return "\n".join(lines) + "\n"


def _summaries(out: pathlib.Path, configurations: list[tuple[str, int]]) -> dict[tuple[str, int], dict]:
    found = {}
    for precision, seed in configurations:
        folder = out / f"{precision}-seed{seed}"
        for path in (folder / "reference_unet" / "summary.json", folder / "summary.json"):
            if path.is_file():
                found[(precision, seed)] = json.loads(path.read_text())
                break
    return found


def paired_differences(out: pathlib.Path, other: pathlib.Path, configurations: list[tuple[str, int]]) -> str:
    """Per AUROC column: this minus ``other`` per seed, the mean, and a t 95 % interval."""
    from scipy import stats

    ours, theirs = _summaries(out, configurations), _summaries(other, configurations)
    both = [c for c in configurations if c in ours and c in theirs]
    lines = [
        f"Paired by seed, {out} minus {other} ({len(both)} runs: "
        + ", ".join(f"{p} seed {s}" for p, s in both) + ")",
        "",
        "| column | per seed | mean | 95 % interval (t) |",
        "| --- | --- | --- | --- |",
    ]  # fmt: skip
    for part, key, label in COLUMNS:
        if not key.endswith("auroc"):
            continue
        pairs = [(_value(ours[c], part, key), _value(theirs[c], part, key)) for c in both]
        differences = [a - b for a, b in pairs if a is not None and b is not None]
        if len(differences) < 2:
            continue
        mean = statistics.mean(differences)
        half = (
            stats.t.ppf(0.975, len(differences) - 1) * statistics.stdev(differences) / len(differences) ** 0.5
        )
        cells = ", ".join(f"{d:+.4f}" for d in differences)
        lines.append(f"| {label} | {cells} | {mean:+.4f} | {mean - half:+.4f} to {mean + half:+.4f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench_out/demo_seeds"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--precisions", nargs="+", default=["bf16", "fp32"], choices=("bf16", "fp32", "auto"))
    parser.add_argument("--threads", type=int, default=0, help="torch threads per demo (0: all cores)")
    parser.add_argument("--collect", action="store_true", help="only rebuild the table")
    parser.add_argument("--paired-with", type=pathlib.Path, help="another network's folder, same seeds")
    args = parser.parse_args()
    configurations = [(p, s) for p in args.precisions for s in args.seeds]
    failed = 0
    if not args.collect:
        for precision, seed in configurations:
            failed += (
                run_demo(args.out / f"{precision}-seed{seed}", seed, precision, args.threads)["exit"] != 0
            )
    text = table(args.out, configurations)
    if args.paired_with is not None:
        text += "\n" + paired_differences(args.out, args.paired_with, configurations)
    (args.out / "table.md").write_text(text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
