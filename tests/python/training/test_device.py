"""TrainConfig.device: the CPU by default, how each name resolves with and without CUDA,
clear errors for what cannot run, and checkpoints that load on a CPU."""

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


def fake_cuda(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """Makes this machine look as if it had ``count`` CUDA devices (0: none), for resolve_device."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_resolve_device_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 0)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")  # auto falls back, it does not fail
    assert resolve_device("auto", local_rank=1) == torch.device("cpu")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(InvalidArgumentError, match="CUDA is not available"):
            resolve_device(name)


def test_resolve_device_with_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 2)
    assert resolve_device("cpu") == torch.device("cpu")  # cpu stays the cpu where CUDA exists
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)  # torchrun's process 1
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda:1", local_rank=0) == torch.device("cuda", 1)  # an index wins
    with pytest.raises(InvalidArgumentError, match="has 2 CUDA device"):
        resolve_device("cuda:2")
    with pytest.raises(InvalidArgumentError, match="has 2 CUDA device"):
        resolve_device("cuda", local_rank=2)


def test_auto_without_cuda_trains_exactly_like_cpu(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "auto" reaches the CPU through resolve_device's fallback (no CUDA), "cpu" directly;
    # CUDA is hidden so the comparison runs on every machine.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu = train(tiny_config(tiny_dataset, tmp_path / "cpu", epochs=1, device="cpu"), progress=False)
    auto = train(tiny_config(tiny_dataset, tmp_path / "auto", epochs=1, device="auto"), progress=False)
    assert cpu["loss"] == auto["loss"]
    a = load_checkpoint(tmp_path / "cpu" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "auto" / "last.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


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


def test_cuda_where_there_is_none_is_refused_before_anything_is_written(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cuda(monkeypatch, 0)
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
