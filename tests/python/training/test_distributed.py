"""Multi-process training under torchrun: two CPU processes with gloo train the
same model a single process would, and only rank 0 writes the run."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import torch

from defectkit.training import train
from defectkit.training.checkpoint import load_checkpoint
from tiny_training import cli_args, tiny_config


def distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Relative L2 distance between two sets of trained parameters."""
    keys = [k for k in a if a[k].is_floating_point() and "running" not in k]
    diff = sum(float((a[k] - b[k]).pow(2).sum()) for k in keys) ** 0.5
    norm = sum(float(a[k].pow(2).sum()) for k in keys) ** 0.5
    return diff / norm


def test_two_gloo_processes_train_like_one_process_with_the_same_global_batch(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # Two ranks of batch 2 see, step for step, the samples one process sees with batch 4.
    ddp = tiny_config(tiny_dataset, tmp_path / "ddp", epochs=2, batch_size=2)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "defectkit",
        "train",
        *cli_args(ddp),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    single = tiny_config(tiny_dataset, tmp_path / "single", epochs=2, batch_size=4)
    train(single, progress=False)
    other_seed = tiny_config(tiny_dataset, tmp_path / "other", epochs=2, batch_size=4, seed=12)
    train(other_seed, progress=False)

    rows = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1], "rank 0 alone writes one row per epoch"
    ddp_w = load_checkpoint(tmp_path / "ddp" / "last.pt")["model"]
    single_w = load_checkpoint(tmp_path / "single" / "last.pt")["model"]
    other_w = load_checkpoint(tmp_path / "other" / "last.pt")["model"]
    # Not bit-identical: batch norm normalises each rank's half-batch on its own.
    # But DDP must land far closer to the single-process run than a different seed does.
    assert distance(ddp_w, single_w) < 0.25 * distance(other_w, single_w), (
        distance(ddp_w, single_w),
        distance(other_w, single_w),
    )
