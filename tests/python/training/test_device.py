"""TrainConfig.device: the CPU by default and bit for bit as before, CUDA when asked
for, clear errors for what cannot run, and checkpoints that load on a CPU."""

from __future__ import annotations

import pathlib

import pytest
import torch

from defectkit.cli import main
from defectkit.errors import InvalidArgumentError
from defectkit.training import TrainConfig, train
from defectkit.training.checkpoint import load_checkpoint
from defectkit.training.config import resolve_device
from defectkit.training.loop import on_cpu
from tiny_training import tiny_config

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
without_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def all_tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in all_tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in all_tensors(v)]
    return []


def test_the_default_device_is_the_cpu() -> None:
    assert TrainConfig().device == "cpu"
    assert resolve_device("cpu") == torch.device("cpu")


def test_an_explicit_cpu_trains_exactly_like_the_default(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    default = train(tiny_config(tiny_dataset, tmp_path / "default", epochs=1), progress=False)
    explicit = train(tiny_config(tiny_dataset, tmp_path / "cpu", epochs=1, device="cpu"), progress=False)
    assert default["loss"] == explicit["loss"]
    a = load_checkpoint(tmp_path / "default" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "cpu" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "mps", ""])
def test_an_unknown_device_is_refused_before_anything_is_written(
    name: str, tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    config = tiny_config(tiny_dataset, tmp_path / "run", device=name)
    with pytest.raises(InvalidArgumentError, match="device must be cpu, cuda, cuda:N or auto"):
        config.validate()
    with pytest.raises(InvalidArgumentError, match="device"):
        train(config, progress=False)
    assert not (tmp_path / "run").exists()


def test_the_cli_refuses_an_unknown_device(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path, capsys
) -> None:
    args = ["train", str(tiny_dataset), "--out", str(tmp_path / "run"), "--epochs", "1", "--device", "gpu"]
    assert main(args) == 2
    assert "'gpu'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@without_cuda
def test_cuda_where_there_is_none_is_a_clear_error(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    assert resolve_device("auto") == torch.device("cpu")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(InvalidArgumentError, match="CUDA is not available"):
            resolve_device(name)
    with pytest.raises(InvalidArgumentError, match="CUDA is not available"):
        train(tiny_config(tiny_dataset, tmp_path / "run", device="cuda"), progress=False)
    assert not (tmp_path / "run").exists()


def test_checkpoint_tensors_are_moved_to_the_cpu() -> None:
    nested = {"a": torch.ones(2), "b": [torch.zeros(1), (torch.ones(1), 3)], "c": "text"}
    moved = on_cpu(nested)
    assert moved["c"] == "text" and moved["b"][1][1] == 3 and isinstance(moved["b"][1], tuple)
    assert moved["a"] is nested["a"]  # a CPU tensor is not copied
    assert all(t.device.type == "cpu" for t in all_tensors(moved))


@needs_cuda
def test_a_cuda_run_writes_checkpoints_a_cpu_loads(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    train(tiny_config(tiny_dataset, tmp_path / "run", epochs=2, device="cuda"), progress=False)
    for name in ("last.pt", "best.pt"):
        state = torch.load(tmp_path / "run" / name, weights_only=True)  # no map_location needed
        assert all(t.device.type == "cpu" for t in all_tensors(state["model"]))
        assert all(t.device.type == "cpu" for t in all_tensors(state["optimizer"]))
    # And the run resumes on the GPU from those CPU tensors.
    train(tiny_config(tiny_dataset, tmp_path / "run", epochs=3, device="cuda"), resume=True, progress=False)
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 2
