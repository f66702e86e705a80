"""Recipe sweep for reference_unet: which training recipe meets the demo's targets across seeds?

Generates the demo dataset of the time (``make_demo_dataset``, seed 0, 24 training
strips, no valid/, the 20-strip test split: 8 good, 12 defective; written uncompressed,
which stores the same pixels: the demo's Deflate + floating-point predictor needs
imagecodecs to read), trains many configurations several times each (training seeds 0,
1, ...) concurrently on one GPU (a process pool, one torch thread per process), and
evaluates every run with ``defectkit eval``'s own code (``evaluate_run``: sliding window,
image score, F1-optimal thresholds) on that test split. Optionally also on a larger test
split from the same generator (``--big-test``: 40 good and 60 defect strips, today's demo
test split and a superset of the 20, since every strip is drawn from (seed, split, index)),
to tell recipes apart more finely than 20 strips can (one good/defect pair misordered there
costs 1/96 = 0.0104 image AUROC).

Every evaluation (best.pt on both splits, last.pt on the 20 strips) is ``evaluate_run``
itself, per-category pixel AUROCs and the pixel F1 sweep included: on 100 strips that costs
a few CPU minutes per run, which the deadline scheduler counts in each run's wall time.
Needs defectkit installed with the train extra and its native module built
(``pip install '.[train]'``, or ``make setup``).

    .venv/bin/python experiments/reference_unet/recipe_sweep.py run --work /tmp/sweep \\
        --records OUT/records.jsonl --jobs 12 --deadline-s 520 --seeds 0 1 2 3 --big-test
    .venv/bin/python experiments/reference_unet/recipe_sweep.py report OUT/records.jsonl \\
        [more.jsonl ...] --host h100

``run`` appends one JSON line per finished run to ``--records`` as it goes (a
run cut short by the deadline leaves the others' lines intact) and launches no
run it does not expect to finish by ``--deadline-s``. ``report`` aggregates
record files into experiments/reference_unet/results/recipe_sweep-<date>-<host>.json and .md:
per configuration, mean / min / max over seeds of image and pixel AUROC, the
good strips at or above the image threshold, and the training time.

The results of 2026-11-23 (recipe_sweep-2026-11-23-h100) came from two runs of this
script as it was then (benchmarks/recipe_sweep.py, commit efecec5) on one H100 with 16
cores, then a report of both record files:

    run --records records1.jsonl --jobs 14 --deadline-s 470 --grace-s 70 \
        --seeds 0 1 2 3 --big-test --self-check                  (the 17 of SCREEN)
    run --records records2.jsonl --jobs 15 --deadline-s 450 --grace-s 80 \
        --seeds 0 1 2 3 4 5 6 7 --big-test --skip-done records1.jsonl --configs \
        w16-e25-lr5e-4 w16-e20-lr5e-4 w16-e25-lr3e-4 w16-e25-lr5e-4-defects5-12 \
        w16-e25-lr5e-4-gamma2 w16-e15 w16-e25 w64-e15
    report records1.jsonl records2.jsonl --host h100

(each ``run`` with ``--work /tmp/sweep``; runs the deadline left unstarted are
listed in the JSON).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime
import json
import multiprocessing
import os
import pathlib
import socket
import statistics
import sys
import time
import traceback

RESULTS = pathlib.Path(__file__).resolve().parent / "results"

# The recipe the sweep was run against (the demo's until the 25-epoch default): fp32, best.pt over
# every epoch, mirrors of the same sign (mirror_sign did not exist yet), the demo dataset without
# valid/ (2 training strips held out for validation). Every configuration below changes only what
# its overrides name; TrainConfig and ReferenceUNetConfig fields alike (train_config splits them).
BASE = {
    "width": 16,
    "epochs": 15,
    "batch_size": 16,
    "lr": 1e-3,
    "precision": "fp32",
    "best_from": 0.0,
    "mirror_sign": "same",
}
NO_VALID = {"n_train": 24, "n_valid_good": 0, "n_valid_defect": 0}  # the dataset the sweep ran on
DEMO_TEST = {"n_test_good": 8, "n_test_defect": 12}  # the demo test split of the time
BIG_TEST = {"n_test_good": 40, "n_test_defect": 60}  # --big-test: today's demo test split

# name -> (overrides of BASE, what it tests)
CONFIGS: dict[str, tuple[dict, str]] = {
    "w16-e15": ({}, "the current demo recipe"),
    "w16-e20": ({"epochs": 20}, "more epochs"),
    "w16-e25": ({"epochs": 25}, "more epochs"),
    "w16-e30": ({"epochs": 30}, "more epochs"),
    "w16-e15-lr5e-4": ({"lr": 5e-4}, "lower learning rate"),
    "w16-e25-lr5e-4": ({"epochs": 25, "lr": 5e-4}, "lower learning rate, more epochs"),
    "w16-e15-seedsynth": ({"synthesis": "seed"}, "seed synthesis family (equal budget to w16-e15)"),
    "w16-e25-seedsynth": ({"epochs": 25, "synthesis": "seed"}, "seed synthesis family (equal to w16-e25)"),
    "w32-e15": ({"width": 32}, "width 32"),
    "w64-e15": ({"width": 64}, "width 64 (the seed's model)"),
    "w16-e15-mirror0.5": ({"p_mirror": 0.5}, "mirrored stamps on half the target defects"),
    "w16-e15-misreg1": ({"misregistration_px": 1.0}, "reference shifts up to 1 px (default 0.5)"),
    "w16-e15-defects1-4": ({"n_defects": (1, 4)}, "fewer stamps per defective patch (default 3-8)"),
    "w16-e15-defects5-12": ({"n_defects": (5, 12)}, "more stamps per defective patch"),
    "w16-e15-gamma-linear": ({"gamma_schedule": "linear"}, "focal gamma 1->3 linear (default cosine)"),
    "w16-e15-gamma2": ({"gamma_schedule": "constant", "gamma_start": 2.0}, "focal gamma constant 2"),
    "w16-e15-batch8": ({"batch_size": 8}, "batch 8: twice the steps over the same patches"),
    # Second round, around the best of the first (w16-e25-lr5e-4).
    "w16-e20-lr5e-4": ({"epochs": 20, "lr": 5e-4}, "lower learning rate, 20 epochs"),
    "w16-e25-lr3e-4": ({"epochs": 25, "lr": 3e-4}, "lower learning rate still, 25 epochs"),
    "w16-e25-lr5e-4-defects5-12": (
        {"epochs": 25, "lr": 5e-4, "n_defects": (5, 12)},
        "lr 5e-4, 25 epochs, 5-12 stamps per defective patch",
    ),
    "w16-e25-lr5e-4-gamma2": (
        {"epochs": 25, "lr": 5e-4, "gamma_schedule": "constant", "gamma_start": 2.0},
        "lr 5e-4, 25 epochs, focal gamma constant 2",
    ),
}
SCREEN = list(CONFIGS)[:17]  # the first round (the default of --configs)

# CPU training time on the development machine of docs/experiments/reference_unet.md (2 cores,
# 2 torch threads, batch 16): width 16
# ~18.5 s per epoch (make demo: 4.6 min for 15), width 32 ~59 s (width study: 14.8 min for
# 15), width 64 ~200 s (about 2 patches/s over 396 patches). An estimate for make demo's
# budget, not a measurement of each configuration.
CPU_S_PER_EPOCH = {8: 10.0, 16: 18.5, 32: 59.0, 64: 200.0}
# Relative GPU cost of an epoch by width, only to schedule around the deadline (corrected as
# runs finish).
GPU_WIDTH_COST = {8: 0.8, 16: 1.0, 32: 1.3, 64: 2.5}


def settings(name: str) -> dict:
    return {**BASE, **CONFIGS[name][0]}


def cost_units(name: str) -> float:
    s = settings(name)
    return s["epochs"] / 15 * GPU_WIDTH_COST.get(s["width"], s["width"] / 16) * (16 / s["batch_size"]) ** 0.3


def cpu_minutes_estimate(name: str) -> float:
    s = settings(name)
    per_epoch = CPU_S_PER_EPOCH.get(s["width"], 18.5 * (s["width"] / 16) ** 2)
    return s["epochs"] * per_epoch / 60


def train_config(values: dict, **shared):
    """A TrainConfig from one flat dict of settings: the family's own go into ``family_config``."""
    import dataclasses

    from defectkit.models.reference_unet.config import ReferenceUNetConfig
    from defectkit.training import TrainConfig

    own = {f.name for f in dataclasses.fields(ReferenceUNetConfig)}
    family = ReferenceUNetConfig(**{k: v for k, v in values.items() if k in own})
    return TrainConfig(family_config=family, **{k: v for k, v in values.items() if k not in own}, **shared)


# --- the runs ------------------------------------------------------------------------------------


def make_datasets(work: pathlib.Path, big_test: bool) -> dict[str, str]:
    from defectkit.models.reference_unet.data.demo import make_demo_dataset

    start = time.perf_counter()
    common = {"seed": 0, "compression": None, "overwrite": True, "progress": False, **NO_VALID}
    demo = make_demo_dataset(work / "demo", **DEMO_TEST, **common)
    paths = {"demo": str(demo)}
    if big_test:
        big = make_demo_dataset(work / "big", **BIG_TEST, **common)
        paths["big"] = str(big)
    print(f"datasets {sorted(paths)} in {time.perf_counter() - start:.1f} s", flush=True)
    return paths


def summarise_eval(result: dict, keep_scores: bool) -> dict:
    """The figures of one ``evaluate_run`` result that the report aggregates."""
    from defectkit.evaluation.metrics import GOOD_CATEGORY, flagged_at

    threshold = result["thresholds"]["image"]
    scores = result["scores"]
    counts = flagged_at(scores, threshold)
    good = [s for s in scores if s["category"] == GOOD_CATEGORY]
    summary = {
        "image_auroc": result["image_auroc"],
        "pixel_auroc": result["pixel_auroc"],
        "threshold": threshold,
        "good_flagged": counts["good_flagged"],
        "good_count": counts["good"],
        "defects_missed": counts["defective"] - counts["defective_flagged"],
        "defect_count": counts["defective"],
        "flagged_good": [pathlib.Path(s["path"]).name for s in good if s["score"] >= threshold],
        "per_category": {k: v["image_auroc"] for k, v in result["per_category"].items()},
    }
    if keep_scores:
        summary["scores"] = {
            f"{s['category']}/{pathlib.Path(s['path']).name}": round(s["score"], 5) for s in scores
        }
    return summary


def run_one(job: dict) -> dict:
    """One training run and its evaluations, in a pool process."""
    values = {**settings(job["config"]), **({"epochs": job["epochs"]} if job["epochs"] else {})}
    record = {"config": job["config"], "seed": job["seed"], "settings": values}
    try:
        import torch

        torch.set_num_threads(1)
        from defectkit.models.reference_unet.evaluation import evaluate_run
        from defectkit.training import load_model, train

        run = pathlib.Path(job["work"]) / "runs" / f"{job['config']}-s{job['seed']}"
        config = train_config(
            values,
            data=job["datasets"]["demo"],
            out=str(run),
            device=job["device"],
            threads=1,
            workers=job["workers"],
            seed=job["seed"],
        )
        start = time.perf_counter()
        last = train(config, progress=False)
        record["train_s"] = time.perf_counter() - start
        record["patches_per_s"] = last["samples_per_s"]  # the metrics row's name since the family seam
        record["data_wait_share"] = last["data_wait_share"]
        record["val_pixel_auroc_last"] = last["val_pixel_auroc"]
        start = time.perf_counter()
        demo_data = pathlib.Path(job["datasets"]["demo"])
        model, info = load_model(run, "best")
        model.to(job["device"])
        record["best_epoch"] = info["epoch"]
        # The demo split exactly as `defectkit eval` (and make demo) evaluate it.
        demo = evaluate_run(model, demo_data, info["patch_size"], progress=False)
        record["demo_best"] = summarise_eval(demo, keep_scores=True)
        record["demo_best"]["pixel_auroc_per_category"] = {
            k: v["pixel_auroc"] for k, v in demo["per_category"].items()
        }
        if "big" in job["datasets"]:
            big_data = pathlib.Path(job["datasets"]["big"])
            big = evaluate_run(model, big_data, info["patch_size"], progress=False)
            record["big_best"] = summarise_eval(big, keep_scores=False)
        model, info = load_model(run, "last")
        model.to(job["device"])
        last = evaluate_run(model, demo_data, info["patch_size"], progress=False)
        record["demo_last"] = summarise_eval(last, keep_scores=False)
        record["eval_s"] = time.perf_counter() - start
        record["device"] = torch.cuda.get_device_name() if job["device"].startswith("cuda") else "cpu"
        record["torch"] = torch.__version__
    except Exception:
        record["error"] = traceback.format_exc()
    return record


def self_check(work: pathlib.Path, device: str) -> dict:
    """TrainConfig.device on this machine: a tiny run trains on the device, its checkpoints hold
    only CPU tensors (torch.load without map_location), and it resumes on the device."""
    import torch

    from defectkit.models.reference_unet.data.demo import make_demo_dataset
    from defectkit.training import train

    data = make_demo_dataset(
        work / "tiny", n_train=5, n_test_good=2, n_test_defect=2, n_valid_good=2, n_valid_defect=2,
        height=192, width=64, seed=3, compression=None, overwrite=True, progress=False,
    )  # fmt: skip
    run = work / "tiny-run"
    base = dict(data=str(data), out=str(run), batch_size=4, width=2, patch_size=64, holdout=1, threads=1)
    train(train_config(base, epochs=2, device=device), progress=False)
    devices = set()
    for name in ("last.pt", "best.pt"):
        state = torch.load(run / name, weights_only=True)
        devices |= {t.device.type for t in state["model"].values()}
        devices |= {
            t.device.type
            for s in state["optimizer"]["state"].values()
            for t in s.values()
            if torch.is_tensor(t)
        }
    train(train_config(base, epochs=3, device=device), resume=True, progress=False)
    resumed = torch.load(run / "last.pt", weights_only=True)["epoch"]
    return {
        "self_check": True,
        "device": device,
        "checkpoint_tensor_devices": sorted(devices),
        "resumed_to_epoch": resumed,
    }


def command_run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    records_path = args.records
    records_path.parent.mkdir(parents=True, exist_ok=True)

    def write(record: dict) -> None:
        with records_path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    if args.self_check:
        write(self_check(work, args.device))
        print(f"self-check done at {time.perf_counter() - started:.0f} s", flush=True)
    datasets = make_datasets(work, args.big_test)
    names = args.configs or SCREEN
    done = set()
    for path in args.skip_done or []:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "config" in record and "error" not in record:
                done.add((record["config"], record["seed"]))
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        sys.exit(f"unknown configurations {unknown}; known: {sorted(CONFIGS)}")
    # Seed-major order, dearest first within a seed: every configuration gets its first seeds
    # before any gets more, and long runs start early rather than straggle at the deadline.
    jobs = [
        {"config": name, "seed": seed, "work": str(work), "datasets": datasets, "device": args.device,
         "workers": args.workers, "epochs": args.epochs}
        for seed in args.seeds
        for name in sorted(names, key=cost_units, reverse=True)
        if (name, seed) not in done
    ]  # fmt: skip
    print(f"{len(jobs)} runs, {args.jobs} at a time, deadline {args.deadline_s} s", flush=True)

    unit_s: list[float] = []  # seconds per cost unit of finished runs
    seen_s: dict[str, float] = {}  # longest finished run per configuration
    skipped: list[dict] = []
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs, mp_context=context)
    running: dict[concurrent.futures.Future, tuple[dict, float]] = {}
    queue = collections.deque(jobs)

    def expected_s(job: dict) -> float:
        if job["config"] in seen_s:
            return seen_s[job["config"]]
        return cost_units(job["config"]) * max(unit_s) if unit_s else 0.0

    while queue or running:
        while queue and len(running) < args.jobs:
            job = queue.popleft()
            elapsed = time.perf_counter() - started
            if elapsed + 1.1 * expected_s(job) > args.deadline_s:
                skipped.append({"config": job["config"], "seed": job["seed"]})
                continue
            running[pool.submit(run_one, job)] = (job, time.perf_counter())
        if not running:
            break
        remaining = args.deadline_s + args.grace_s - (time.perf_counter() - started)
        done, _ = concurrent.futures.wait(
            running, timeout=max(1.0, remaining), return_when=concurrent.futures.FIRST_COMPLETED
        )
        if not done:
            break
        for future in done:
            job, submitted = running.pop(future)
            record = future.result()
            record["wall_s"] = time.perf_counter() - submitted
            write(record)
            if "error" in record:
                print(f"FAILED {job['config']} seed {job['seed']}:\n{record['error']}", flush=True)
                continue
            unit_s.append(record["wall_s"] / cost_units(job["config"]))
            seen_s[job["config"]] = max(seen_s.get(job["config"], 0.0), record["wall_s"])
            demo = record["demo_best"]
            print(
                f"[{time.perf_counter() - started:5.0f} s] {job['config']:22s} seed {job['seed']}: "
                f"image {demo['image_auroc']:.4f} pixel {demo['pixel_auroc']:.4f} "
                f"good flagged {demo['good_flagged']} (train {record['train_s']:.0f} s, "
                f"wall {record['wall_s']:.0f} s)",
                flush=True,
            )
    unfinished = [{"config": job["config"], "seed": job["seed"]} for job, _ in running.values()]
    end = {"sweep_end": True, "elapsed_s": time.perf_counter() - started, "skipped": skipped}
    end.update(unfinished=unfinished, jobs=args.jobs, workers=args.workers, cpus=os.cpu_count())
    write(end)
    print(
        f"done in {time.perf_counter() - started:.0f} s; skipped {len(skipped)}, unfinished {len(unfinished)}"
    )
    sys.stdout.flush()
    if running:  # runs past the deadline: end their processes rather than wait
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)
    return 0


# --- the report ----------------------------------------------------------------------------------


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def meets(summary: dict) -> bool:
    return summary["image_auroc"] >= 0.98 and summary["pixel_auroc"] >= 0.98 and summary["good_flagged"] == 0


def aggregate(runs: list[dict], key: str) -> dict:
    present = [r[key] for r in runs if key in r]
    flagged = collections.Counter(name for s in present for name in s["flagged_good"])
    return {
        "image_auroc": stats([s["image_auroc"] for s in present]),
        "pixel_auroc": stats([s["pixel_auroc"] for s in present]),
        "good_flagged": stats([s["good_flagged"] for s in present]),
        "defects_missed": stats([s["defects_missed"] for s in present]),
        "threshold": stats([s["threshold"] for s in present]),
        "meets_all_targets": sum(meets(s) for s in present),
        "good_count": present[0]["good_count"] if present else 0,
        "defect_count": present[0]["defect_count"] if present else 0,
        "flagged_good_strips": dict(flagged.most_common()),
    }


def span(s: dict, digits: int = 3, sd: bool = False) -> str:
    if not s.get("n"):
        return "-"
    spread = f" +- {s['std']:.{digits}f}" if sd else ""
    return f"{s['mean']:.{digits}f}{spread} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def count_span(s: dict) -> str:
    if not s.get("n"):
        return "-"
    return f"{s['mean']:.2f} ({s['min']:.0f}-{s['max']:.0f})"


def command_report(args: argparse.Namespace) -> int:
    runs, ends, checks = [], [], []
    for path in args.records:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("sweep_end"):
                ends.append(record)
            elif record.get("self_check"):
                checks.append(record)
            else:
                runs.append(record)
    failed = [r for r in runs if "error" in r]
    runs = [r for r in runs if "error" not in r]
    by_config: dict[str, list[dict]] = collections.defaultdict(list)
    for r in runs:
        by_config[r["config"]].append(r)
    order = [name for name in CONFIGS if name in by_config]
    table = {}
    for name in order:
        group = sorted(by_config[name], key=lambda r: r["seed"])
        table[name] = {
            "settings": settings(name),
            "what": CONFIGS[name][1],
            "seeds": [r["seed"] for r in group],
            "demo_best": aggregate(group, "demo_best"),
            "demo_last": aggregate(group, "demo_last"),
            "big_best": aggregate(group, "big_best"),
            "train_s": stats([r["train_s"] for r in group]),
            "best_epoch": stats([r["best_epoch"] for r in group]),
            "cpu_train_minutes_estimate": cpu_minutes_estimate(name),
        }
    stamp = f"{args.date or datetime.date.today()}-{args.host}"
    devices = sorted({r.get("device", "?") for r in runs})
    summary = {
        "command": "experiments/reference_unet/recipe_sweep.py run ... then report (its docstring)",
        "base_recipe": BASE,
        "devices": devices,
        "torch": sorted({r.get("torch", "?") for r in runs}),
        "sweeps": ends,
        "self_checks": checks,
        "failed_runs": [{"config": r["config"], "seed": r["seed"], "error": r["error"]} for r in failed],
        "targets": {"image_auroc": 0.98, "pixel_auroc": 0.98, "good_flagged": 0},
        "configs": table,
        "runs": runs,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"recipe_sweep-{stamp}.json").write_text(json.dumps(summary, indent=1) + "\n")

    lines = [
        f"# Recipe sweep, {stamp}",
        "",
        f"Trained on {', '.join(devices)} (fp32, torch {', '.join(summary['torch'])}; "
        f"{' and '.join(str(e['jobs']) for e in ends) or '?'} runs at a time on "
        f"{ends[0]['cpus'] if ends else '?'} "
        "CPU cores, one torch thread each, so 'train s' is a shared-machine time), evaluated with "
        "`defectkit eval`'s code on the demo dataset (seed 0). Each cell: mean +- standard deviation "
        "(min-max) over the training seeds. 'good flagged': good strips (defects only in the "
        "references) scoring at or above the F1-optimal image threshold. 'meet all': runs with "
        "image AUROC >= 0.98, pixel AUROC >= 0.98 and no good strip flagged. 'CPU min (est.)': "
        "make demo's training time on 2 CPU cores, estimated from measured per-epoch "
        "times, not measured per row. Base recipe: width 16, 15 epochs, batch 16, lr 1e-3, "
        "broad synthesis, p_mirror 1 (same-sign mirrors), misregistration 0.5 px, 3-8 stamps, "
        "focal gamma 1->3 cosine.",
        "",
        "## Demo test split (20 strips: 8 good, 12 defective), best.pt (what `defectkit eval` uses)",
        "",
        "| config | what changes | seeds | image AUROC | pixel AUROC | good flagged (of 8) | "
        "meet all | train s | CPU min (est.) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in order:
        row = table[name]
        demo = row["demo_best"]
        lines.append(
            f"| {name} | {row['what']} | {len(row['seeds'])} | {span(demo['image_auroc'], sd=True)} | "
            f"{span(demo['pixel_auroc'], sd=True)} | {count_span(demo['good_flagged'])} | "
            f"{demo['meets_all_targets']}/{len(row['seeds'])} | {row['train_s']['mean']:.0f} | "
            f"{row['cpu_train_minutes_estimate']:.1f} |"
        )
    if any(table[name]["big_best"]["image_auroc"].get("n") for name in order):
        lines += [
            "",
            "## Larger test split (100 strips: 40 good, 60 defective; a superset of the demo's 20), best.pt",
            "",
            "| config | seeds | image AUROC | pixel AUROC | good flagged (of 40) | defects missed (of 60) | "
            "meet all |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name in order:
            big = table[name]["big_best"]
            if not big["image_auroc"].get("n"):
                continue
            lines.append(
                f"| {name} | {big['image_auroc']['n']} | {span(big['image_auroc'], sd=True)} | "
                f"{span(big['pixel_auroc'], sd=True)} | {count_span(big['good_flagged'])} | "
                f"{count_span(big['defects_missed'])} | "
                f"{big['meets_all_targets']}/{big['image_auroc']['n']} |"
            )
    lines += [
        "",
        "## best.pt (by validation pixel AUROC) against last.pt, demo test split",
        "",
        "| config | best.pt image AUROC | last.pt image AUROC | best.pt epoch | good flagged, last.pt |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in order:
        row = table[name]
        lines.append(
            f"| {name} | {span(row['demo_best']['image_auroc'])} | {span(row['demo_last']['image_auroc'])} | "
            f"{span(row['best_epoch'], 1)} | {count_span(row['demo_last']['good_flagged'])} |"
        )
    lines += [
        "",
        "## Good strips flagged, summed over seeds (demo split, best.pt)",
        "",
    ]
    for name in order:
        flagged = table[name]["demo_best"]["flagged_good_strips"]
        text = ", ".join(f"{k} x{v}" for k, v in flagged.items()) or "none"
        lines.append(f"- {name}: {text}")
    if failed:
        lines += ["", f"{len(failed)} runs failed; their tracebacks are in the JSON."]
    for end in ends:
        if end["skipped"] or end["unfinished"]:
            lines.append(
                f"\nA sweep left {len(end['skipped'])} runs unstarted and "
                f"{len(end['unfinished'])} unfinished at its deadline (listed in the JSON)."
            )
    (args.results / f"recipe_sweep-{stamp}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train and evaluate configurations, appending records")
    run.add_argument("--work", type=pathlib.Path, default=pathlib.Path("bench_out/sweep"))
    run.add_argument("--records", type=pathlib.Path, default=pathlib.Path("bench_out/sweep/records.jsonl"))
    run.add_argument("--configs", nargs="*", help=f"configurations (default: the screen, {len(SCREEN)})")
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="training seeds")
    run.add_argument("--jobs", type=int, default=12, help="runs at a time")
    run.add_argument("--workers", type=int, default=0, help="DataLoader workers per run")
    run.add_argument("--device", default="cuda")
    run.add_argument("--deadline-s", type=float, default=520, help="start no run expected to end later")
    run.add_argument("--grace-s", type=float, default=30, help="wait this long past the deadline")
    run.add_argument("--skip-done", type=pathlib.Path, nargs="*", help="record files of runs not to repeat")
    run.add_argument("--epochs", type=int, default=0, help="override every configuration's (smoke tests)")
    run.add_argument("--big-test", action="store_true", help="also evaluate on a 100-strip test split")
    run.add_argument("--self-check", action="store_true", help="first check device training and checkpoints")
    report = commands.add_parser("report", help="aggregate record files into RESULTS (see --results)")
    report.add_argument("records", type=pathlib.Path, nargs="+")
    report.add_argument("--host", default=socket.gethostname())
    report.add_argument("--date", default=None, help="YYYY-MM-DD (default today)")
    report.add_argument("--results", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    return command_run(args) if args.command == "run" else command_report(args)


if __name__ == "__main__":
    sys.exit(main())
