"""Paired timing in separate processes: the harness of the paired studies (``openvino_paired``,
``guided_paired``).

``make bench`` starts one process per configuration per round, so a run affords two rounds: too
few to rank configurations a few per cent apart (two runs ranked two of them in opposite
orders). Here each configuration gets one long-lived process (one runtime per process, as on a
line; ONNX Runtime libraries cannot share one), and every round times every configuration on the
same items in a shuffled order: the per-round ratio of two configurations is paired, and its
median over many rounds has a bootstrap interval (``defectkit.evaluation.evidence``).

Each turn opens with a pause (the other processes' spinning threads go idle) and ``warm``
untimed calls (caches and the runtime's parked threads warm up, as where one model runs alone).
Measured on the strip study: all configurations in one process ran 1.3-1.7x slower than alone and
ranked differently; one untimed and 4 timed calls per turn ran every row about 1.5x slower than
back to back, with the same ratios.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# factory(config, threads) -> call(item): builds the timed call inside the worker process. It
# must be a module-level function (the spawn context pickles it by reference).
Factory = Callable[[dict, int], Callable[[Any], Any]]


def _worker(factory: Factory, config: dict, threads: int, warm: int, connection) -> None:
    call = factory(config, threads)
    while (message := connection.recv()) is not None:
        kind, items = message
        if kind == "outputs":
            connection.send([call(item) for item in items])
            continue
        for item in items[:warm]:
            call(item)
        times = []
        for item in items:
            start = time.perf_counter()
            call(item)
            times.append((time.perf_counter() - start) * 1e3)
        connection.send(times)


def time_paired(
    configs: Sequence[dict],
    factory: Factory,
    items: Sequence[Any],
    *,
    rounds: int,
    per_round: int,
    warm: int = 2,
    settle_s: float = 0.2,
    threads: int = 2,
    outputs_of: Sequence[int] = (),
) -> tuple[list[list[float]], dict[int, list]]:
    """Per configuration, the median milliseconds of each round (the same items for all in a
    round); and for the configurations ``outputs_of`` names, what their call returned on every
    item (to check that variants compute the same function)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for config in configs:
        parent, child = context.Pipe()
        worker = context.Process(target=_worker, args=(factory, config, threads, warm, child), daemon=True)
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    try:
        for pipe in pipes:  # first calls pay for allocation and kernel choice
            pipe.send(("time", list(items[:3])))
            pipe.recv()
        rng = np.random.default_rng(0)
        per_config: list[list[float]] = [[] for _ in configs]
        for index in range(rounds):
            chosen = [items[(index * per_round + k) % len(items)] for k in range(per_round)]
            for i in rng.permutation(len(configs)):
                time.sleep(settle_s)
                pipes[i].send(("time", chosen))
                per_config[i].append(statistics.median(pipes[i].recv()))
            if (index + 1) % 10 == 0:
                print(f"round {index + 1}/{rounds}", file=sys.stderr)
        outputs = {}
        for i in outputs_of:
            pipes[i].send(("outputs", list(items)))
            outputs[i] = pipes[i].recv()
    finally:
        for pipe, worker in zip(pipes, workers, strict=True):
            if worker.is_alive():
                pipe.send(None)
            worker.join(timeout=30)
    return per_config, outputs


def add_arguments(parser, *, rounds: int, per_round: int, item: str) -> None:
    """The harness's options, shared by the paired studies' command lines."""
    import os

    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument(
        "--per-round", type=int, default=per_round, help=f"{item}s timed per configuration per round"
    )
    parser.add_argument("--warm", type=int, default=2, help=f"untimed {item}s opening each turn")
    parser.add_argument("--settle-s", type=float, default=0.2, help="pause before each turn (seconds)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
