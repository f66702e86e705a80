"""Weight averaging (EMA) and bf16 training: what validation and export see, and exact resume."""

from __future__ import annotations

import copy
import json
import pathlib
import shutil

import pytest
import torch

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet import ReferenceUNet, UNetConfig
from defectkit.training import TrainConfig, loop, train
from defectkit.training.averaging import WeightAverage
from defectkit.training.checkpoint import load_checkpoint
from defectkit.training.config import resolve_precision
from tiny_training import tiny_config


def test_the_average_follows_the_ema_formula_with_its_warm_up() -> None:
    torch.manual_seed(0)
    model = ReferenceUNet(UNetConfig(width=2))
    average = WeightAverage(model, decay=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {k: v.clone() for k, v in start.items() if v.is_floating_point()}
    for step in range(1, 4):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.5)
        decay = min(0.9, (1 + step) / (10 + step))  # 0.18, 0.25, 0.31: the warm-up
        for name, value in model.state_dict().items():
            if name in expected:
                expected[name] = decay * expected[name] + (1 - decay) * value
        average.update(model)
    for name, value in average.model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, expected[name], msg=name)
        else:
            assert torch.equal(value, model.state_dict()[name]), name
    assert not any(p.requires_grad for p in average.model.parameters())


def test_checkpoints_hold_the_average_and_resume_continues_exactly(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = []
    real_save = loop.save_atomically

    def keep_epoch_1(payload: dict, path: pathlib.Path) -> None:
        if path.name == "last.pt" and payload["epoch"] == 1:
            saved.append(copy.deepcopy(payload))
        real_save(payload, path)

    monkeypatch.setattr(loop, "save_atomically", keep_epoch_1)
    straight = tmp_path / "straight"
    train(tiny_config(tiny_dataset, straight, epochs=3, ema_decay=0.9), progress=False)
    state = load_checkpoint(straight / "last.pt")
    assert state["average"]["steps"] > 0
    assert any(not torch.equal(state["model"][k], state["trained_model"][k]) for k in state["model"])

    # The same run as if it had stopped after epoch 1: its last.pt, config and metrics then.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    real_save(saved[0], resumed / "last.pt")
    shutil.copy(straight / "config.json", resumed / "config.json")
    rows = (straight / "metrics.jsonl").read_text().splitlines()[:2]
    (resumed / "metrics.jsonl").write_text("".join(row + "\n" for row in rows))
    train(tiny_config(tiny_dataset, resumed, epochs=3, ema_decay=0.9), resume=True, progress=False)
    again = load_checkpoint(resumed / "last.pt")
    assert again["average"] == state["average"]
    for key in ("model", "trained_model"):
        for name in state[key]:
            torch.testing.assert_close(again[key][name], state[key][name], rtol=0, atol=0, msg=name)


def test_bf16_training_writes_fp32_checkpoints_and_records_its_precision(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    run = tmp_path / "bf16"
    train(tiny_config(tiny_dataset, run, epochs=1, precision="bf16"), progress=False)
    state = load_checkpoint(run / "last.pt")
    assert all(t.dtype == torch.float32 for t in state["model"].values() if t.is_floating_point())
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert row["precision"] == "bfloat16"
    assert train(tiny_config(tiny_dataset, tmp_path / "fp32", epochs=1), progress=False)["precision"] == (
        "float32"
    )


def test_precision_names_resolve_and_bad_ones_are_refused() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert resolve_precision("auto", cpu) is (torch.bfloat16 if native else None)
    for bad in ({"precision": "fp16"}, {"ema_decay": 1.0}, {"ema_decay": -0.5}):
        with pytest.raises(InvalidArgumentError):
            TrainConfig(data="d", out="o", **bad).validate()
