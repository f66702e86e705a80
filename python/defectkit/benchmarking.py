"""Latency statistics and machine facts shared by ``defectkit bench`` and ``benchmarks/run.py``.

Runtime-only: numpy-free and torch-free, so a production install can time an
artifact. Percentiles are nearest-rank, as ``defectkit-bench`` (C++) computes
them, so the three tools agree on the same samples.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import socket
import sys
from collections.abc import Sequence
from typing import Any

__all__ = [
    "RESULT_KEYS",
    "SCHEMA_VERSION",
    "latency_summary",
    "machine_info",
    "peak_rss_mib",
    "percentile",
    "pin_to_cores",
    "write_study",
]

SCHEMA_VERSION = 1

# Every per-configuration result (run.py's "configs" rows and ``defectkit bench --json``) has these.
RESULT_KEYS = (
    "name",
    "runs",
    "warmup",
    "threads",
    "min_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "strips_per_s",
    "peak_rss_mib",
    "gflop_per_strip",
    "gflop_per_s",
    "load_average",
)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of the values at or below it.

    Args:
        values: samples, any order; not empty.
        p: in [0, 100]; 0 gives the minimum, 100 the maximum.

    Raises:
        ValueError: no values, or ``p`` outside [0, 100].
    """
    if not values:
        msg = "percentile of no values"
        raise ValueError(msg)
    if not 0 <= p <= 100:
        msg = f"percentile must be in [0, 100], got {p}"
        raise ValueError(msg)
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return float(ordered[min(len(ordered) - 1, max(rank - 1, 0))])


def latency_summary(
    seconds: Sequence[float], *, gflop_per_strip: float | None = None, wall_s: float | None = None
) -> dict[str, Any]:
    """Statistics of per-strip latencies.

    Args:
        seconds: one latency per timed strip, in seconds.
        gflop_per_strip: the model's compute per strip; gives ``gflop_per_s`` when known.
        wall_s: the wall time of all timed strips; default their sum (strips run back to back).

    Returns:
        ``runs``, ``min_ms``/``p50_ms``/``p90_ms``/``p99_ms``/``max_ms``/``mean_ms``,
        ``strips_per_s`` (runs / wall time), ``gflop_per_strip`` and ``gflop_per_s`` (None when
        the compute is not known).
    """
    ms = [s * 1e3 for s in seconds]
    wall = sum(seconds) if wall_s is None else wall_s
    rate = len(seconds) / wall if wall > 0 else math.inf
    return {
        "runs": len(ms),
        "min_ms": min(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "mean_ms": sum(ms) / len(ms),
        "strips_per_s": rate,
        "gflop_per_strip": gflop_per_strip,
        "gflop_per_s": None if gflop_per_strip is None else gflop_per_strip * rate,
    }


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, MiB.

    Linux: ``VmHWM`` of this process image (``ru_maxrss`` survives ``exec`` and would report a
    parent's peak for a subprocess); elsewhere ``ru_maxrss`` (macOS bytes, others KiB).
    """
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def pin_to_cores(threads: int) -> list[int]:
    """Pins this process (and the threads it starts later) to its first ``threads`` allowed cores.

    Returns:
        The cores pinned to (all allowed cores when pinning is not available on this system).
    """
    if not hasattr(os, "sched_getaffinity"):
        return list(range(os.cpu_count() or 1))
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[: max(1, threads)] if threads > 0 else allowed
    os.sched_setaffinity(0, chosen)
    return chosen


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "fma")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in wanted if f in flags]
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    """Host, CPU, core count, the relevant SIMD flags, Python version and the load average now."""
    return {
        "host": socket.gethostname(),
        "cpu": _cpu_name(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def fresh_stem(folder: os.PathLike[str] | str, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... : the first that names no file in ``folder`` with
    any suffix, so that a second run on the same day adds its results instead of overwriting the
    first's (results are named by date, and a bench run is not cheap to repeat)."""
    import pathlib

    taken = {p.stem for p in pathlib.Path(folder).glob("*")}
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def write_study(folder: os.PathLike[str] | str, name: str, result: dict[str, Any], text: str) -> None:
    """A study's result as ``folder/<name>-<date>.json`` and its table as ``.md`` (printed too);
    ``<name>-<date>-2`` and on for later runs of the same day (:func:`fresh_stem`)."""
    import datetime
    import json
    import pathlib

    out = pathlib.Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stem = fresh_stem(out, f"{name}-{datetime.date.today().isoformat()}")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stem}.md").write_text(text)
    print(text)
