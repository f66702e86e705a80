"""Checkpoints that survive a crash and load without unpickling code.

``RUN/last.pt`` and ``RUN/best.pt`` are written to a temporary name in the
same folder, flushed to disk, then renamed over the old file: a kill at any
moment leaves either the old or the new checkpoint, never half of one. They
hold only tensors and plain values, so ``torch.load(..., weights_only=True)``
reads them, and the model config travels inside so nothing else is needed to
rebuild the model.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Any

import torch

from defectkit.errors import BadFileError, FileMissingError

# 2: the family seam (best_metric and selection_metric, the family's config nested in train_config);
# format 1 checkpoints still load.
FORMAT_VERSION = 2


def save_atomically(payload: dict[str, Any], path: pathlib.Path) -> None:
    """Writes ``payload`` with torch.save to ``path`` atomically (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)  # make the rename itself durable
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: pathlib.Path) -> None:
    """Deletes temporaries a killed save_atomically left behind (the real files are intact)."""
    for stale in folder.glob(".*.pt.*.tmp"):
        stale.unlink(missing_ok=True)


def load_checkpoint(path: pathlib.Path) -> dict[str, Any]:
    """Loads a checkpoint weights-only; refuses anything else with a clear error.

    Raises:
        FileMissingError: no file at ``path``.
        BadFileError: not a defectkit checkpoint, corrupt, or holding pickled code.
    """
    if not path.is_file():
        msg = f"{path}: no such checkpoint"
        raise FileMissingError(msg)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        msg = f"{path}: not a loadable weights-only checkpoint ({type(error).__name__}: {error})"
        raise BadFileError(msg) from error
    if not isinstance(payload, dict) or payload.get("format") != "defectkit-checkpoint":
        msg = f"{path}: not a defectkit checkpoint"
        raise BadFileError(msg)
    if payload.get("format_version", 0) > FORMAT_VERSION:
        msg = f"{path}: checkpoint format {payload['format_version']} is newer than this defectkit reads"
        raise BadFileError(msg)
    return payload


def save_model_run(
    run: pathlib.Path, model: torch.nn.Module, train_config: Any, state: dict[str, Any], note: str
) -> pathlib.Path:
    """A run folder (``config.json`` + ``best.pt``) for weights that did not come from ``train``:
    benchmark models with random weights, test fixtures. Export and evaluation read it like any run.

    Args:
        model: A network of ``train_config.family``.
        train_config: The :class:`~defectkit.training.config.TrainConfig` to record (data, sizes).
        state: The family's plain values a trained run's checkpoint holds (reference_unet:
            ``{"patch_size": 128}``).
        note: Says where the weights came from; kept in the checkpoint's metrics.
    """
    from defectkit import families
    from defectkit._version import __version__

    family = families.get(train_config.family)
    run.mkdir(parents=True, exist_ok=True)
    train_config.save(run / "config.json")
    payload = {
        **state,
        "format": "defectkit-checkpoint",
        "format_version": FORMAT_VERSION,
        "family": family.name,
        "defectkit_version": __version__,
        "epoch": 0,
        "selection_metric": family.selection_metric,
        "best_metric": 0.0,
        "train_config": train_config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": {"note": note},
    }
    save_atomically(payload, run / "best.pt")
    return run
