"""Checkpoints: atomic, weights-only, self-sufficient; runs resume exactly."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import time

import pytest
import torch

from defectkit.errors import BadFileError, FileMissingError
from defectkit.training import load_model, train
from defectkit.training.checkpoint import load_checkpoint, save_atomically
from tiny_training import cli_args, tiny_config


def weights(path: pathlib.Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_a_run_writes_config_metrics_and_two_checkpoints(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    row = train(tiny_config(tiny_dataset, tmp_path / "run"), progress=False)
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.json", "last.pt", "metrics.jsonl"]
    saved = json.loads((run / "config.json").read_text())
    assert saved["family"] == "reference_unet" and saved["family_config"]["width"] == 2
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert rows[-1] == json.loads(json.dumps(row))
    for key in ("loss", "val_image_auroc", "val_pixel_auroc", "samples_per_s", "data_wait_share"):
        assert key in rows[0]
    # best.pt holds the epoch with the highest validation pixel AUROC.
    best_epoch = max(rows, key=lambda r: r["val_pixel_auroc"])["epoch"]
    assert load_checkpoint(run / "best.pt")["epoch"] == best_epoch
    assert load_checkpoint(run / "last.pt")["epoch"] == 2


def test_best_pt_comes_from_the_candidate_epochs_only(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    run = tmp_path / "run"
    train(tiny_config(tiny_dataset, run, epochs=4, best_from=0.5), progress=False)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    candidates = [r for r in rows if r["epoch"] >= 2]
    best = load_checkpoint(run / "best.pt")
    assert best["epoch"] == max(candidates, key=lambda r: r["val_pixel_auroc"])["epoch"]
    assert best["best_metric"] == max(r["val_pixel_auroc"] for r in candidates)
    assert best["selection_metric"] == "pixel_auroc"


def test_a_checkpoint_alone_rebuilds_the_model(tiny_dataset: pathlib.Path, tmp_path: pathlib.Path) -> None:
    train(tiny_config(tiny_dataset, tmp_path / "run", epochs=1), progress=False)
    model, info = load_model(tmp_path / "run")
    assert info["config"].family_config.width == 2 and info["patch_size"] == 64
    x = torch.rand(1, 3, 64, 64)
    reference = load_checkpoint(tmp_path / "run" / "best.pt")["model"]
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    assert model.defect_probability(x).shape == (1, 1, 64, 64)


def test_checkpoints_refuse_pickled_code(tmp_path: pathlib.Path) -> None:
    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "defectkit-checkpoint", "payload": Exploit()}))
    with pytest.raises(BadFileError, match="weights-only"):
        load_checkpoint(evil)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(FileMissingError):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"something": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(BadFileError, match="not a defectkit checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "last.pt"
    save_atomically({"format": "defectkit-checkpoint", "epoch": 1}, path)

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("disk full, say")

    with pytest.raises(RuntimeError):
        save_atomically({"epoch": 2, "bad": Unsaveable()}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary left behind


def test_resume_after_a_kill_ends_with_the_weights_of_an_uninterrupted_run(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    epochs = 4
    train(tiny_config(tiny_dataset, tmp_path / "straight", epochs=epochs), progress=False)

    # The same run in a child process, killed with SIGKILL once an epoch has finished.
    run = tmp_path / "killed"
    args = [
        sys.executable,
        "-m",
        "defectkit",
        "train",
        *cli_args(tiny_config(tiny_dataset, run, epochs=epochs)),
    ]
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (run / "last.pt").exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    finished = load_checkpoint(run / "last.pt")["epoch"]
    assert finished < epochs - 1, "the child finished before it could be killed"
    load_checkpoint(run / "last.pt")  # whatever the moment of the kill, what exists loads
    if (run / "best.pt").exists():
        load_checkpoint(run / "best.pt")

    train(tiny_config(tiny_dataset, run, epochs=epochs), resume=True, progress=False)
    assert not list(run.glob(".*.tmp")), "a temporary from the killed write was left behind"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(epochs))  # no finished epoch lost, none twice
    for name in ("last.pt", "best.pt"):
        straight, resumed = load_checkpoint(tmp_path / "straight" / name), load_checkpoint(run / name)
        assert resumed["epoch"] == straight["epoch"], name
        for key in straight["model"]:
            torch.testing.assert_close(resumed["model"][key], straight["model"][key], rtol=0, atol=0, msg=key)


def test_resume_without_a_run_is_a_clear_error(tiny_dataset: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileMissingError, match="nothing to resume"):
        train(tiny_config(tiny_dataset, tmp_path / "none"), resume=True, progress=False)


def test_a_torch_zip_checkpoint_smuggling_code_is_refused(tmp_path: pathlib.Path) -> None:
    """The same exploit inside torch.save's own (zip) container, the format real checkpoints use."""

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    evil = tmp_path / "evil_zip.pt"
    torch.save({"format": "defectkit-checkpoint", "format_version": 1, "model": Exploit()}, evil)
    with pytest.raises(BadFileError, match="weights-only"):
        load_checkpoint(evil)
    assert not (tmp_path / "pwned").exists()
