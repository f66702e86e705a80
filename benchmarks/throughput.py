"""Strips per second with one Inspector shared by several threads: what a multi-camera line gets.

Each measurement runs in its own process (``benchmarks.run --worker``): one
``defectkit.Inspector`` over an artifact, ``concurrency`` Python threads each calling
``inspect(path)`` (the native read included; the GIL is released while the runtime works) on the
bench strips for ``seconds``, after one warm-up inspection per thread. Intra-op threads are
either 1 (let the concurrent inspections use the cores) or all cores (let each inspection use
them). Peak RSS of the process gives the memory of one Inspector with that many inspections in
flight: the difference between concurrency 1 and 4, divided by 3, is the cost of one more
concurrent inspection.
"""

from __future__ import annotations

import os
import pathlib
import threading
import time
from typing import Any

from defectkit.benchmarking import peak_rss_mib, pin_to_cores

CONCURRENCY = (1, 2, 4)


def plan(artifacts: dict[str, str], threads: int) -> list[dict[str, Any]]:
    """One measurement per (artifact, intra-op threads, concurrency)."""
    intra = sorted({1, threads})
    return [
        {"label": label, "artifact": artifact, "intra_op_threads": t, "concurrency": c}
        for label, artifact in artifacts.items()
        for t in intra
        for c in CONCURRENCY
    ]


def measure(task: dict[str, Any], strips: list[pathlib.Path], cores: int, seconds: float) -> dict[str, Any]:
    """Runs one measurement in this process (pinned to ``cores`` cores)."""
    import defectkit

    pinned = pin_to_cores(cores)
    inspector = defectkit.Inspector(task["artifact"], threads=task["intra_op_threads"])
    rss_loaded = peak_rss_mib()
    counts = [0] * task["concurrency"]
    errors: list[BaseException] = []
    start_line = threading.Barrier(task["concurrency"] + 1)
    stop = threading.Event()

    def work(index: int) -> None:
        try:
            inspector.inspect(strips[index % len(strips)])  # warm-up
            start_line.wait()
            i = index
            while not stop.is_set():
                inspector.inspect(strips[i % len(strips)])
                counts[index] += 1
                i += 1
        except threading.BrokenBarrierError:  # another worker failed first
            return
        except BaseException as error:  # raised by measure(), not swallowed
            errors.append(error)
            start_line.abort()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(task["concurrency"])]
    for w in workers:
        w.start()
    start = time.perf_counter()
    try:
        start_line.wait()
        start = time.perf_counter()
        time.sleep(seconds)
    except threading.BrokenBarrierError:  # a worker failed while warming up: its error is raised below
        pass
    stop.set()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return {
        **task,
        "strips": sum(counts),
        "wall_s": wall,
        "strips_per_s": sum(counts) / wall,
        "peak_rss_mib": peak_rss_mib(),
        "rss_after_load_mib": rss_loaded,
        "cores": pinned,
        "load_average": list(os.getloadavg()),
    }


def summary(results: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: strips/s and peak RSS per artifact, intra-op threads and concurrency."""
    if not results:
        return []
    lines = [
        "## One Inspector, several threads (strips/s, native read included)",
        "",
        "| artifact | intra-op threads | " + " | ".join(f"{c} thread(s)" for c in CONCURRENCY)
        + " | peak RSS MiB at 1 / 4 | + MiB per extra inspection |",
        "| --- | --- | " + " | ".join("---" for _ in CONCURRENCY) + " | --- | --- |",
    ]  # fmt: skip
    keys = sorted({(r["label"], r["intra_op_threads"]) for r in results})
    for label, intra in keys:
        by = {r["concurrency"]: r for r in results if (r["label"], r["intra_op_threads"]) == (label, intra)}
        rates = " | ".join(f"{by[c]['strips_per_s']:.2f}" if c in by else "-" for c in CONCURRENCY)
        first, last = by.get(CONCURRENCY[0]), by.get(CONCURRENCY[-1])
        memory = extra = "-"
        if first and last:
            memory = f"{first['peak_rss_mib']:.0f} / {last['peak_rss_mib']:.0f}"
            extra = f"{(last['peak_rss_mib'] - first['peak_rss_mib']) / (CONCURRENCY[-1] - 1):.0f}"
        lines.append(f"| {label} | {intra} | {rates} | {memory} | {extra} |")
    best = max(results, key=lambda r: r["strips_per_s"])
    lines += [
        "",
        f"Best here: {best['label']} with {best['intra_op_threads']} intra-op thread(s) and "
        f"{best['concurrency']} concurrent inspections, {best['strips_per_s']:.2f} strips/s.",
        "",
    ]
    return lines
