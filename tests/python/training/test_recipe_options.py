"""Recipe options: the patch budget that sets epochs, augmentation and the distractor term in a real run."""

from __future__ import annotations

import json
import math
import pathlib

import pytest
import torch

from defectkit.cli import main
from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.config import ReferenceUNetConfig
from defectkit.training import TrainConfig, load_model, train
from defectkit.training.checkpoint import load_checkpoint
from tiny_training import cli_args, tiny_config


def test_epochs_follow_the_sample_budget_unless_given() -> None:
    auto = TrainConfig()
    assert auto.epochs == 0
    assert auto.with_epochs_for(96 * 18).epochs == 6  # the demo: 96 strips of 18 patches
    assert auto.with_epochs_for(24 * 18).epochs == 24
    assert auto.with_epochs_for(10**6).epochs == 1
    assert TrainConfig(epochs=25).with_epochs_for(96 * 18).epochs == 25
    with pytest.raises(InvalidArgumentError, match="epochs set"):
        auto.first_best_candidate()
    for bad in ({"epochs": -1}, {"sample_budget": 0}, {"optimizer": "sgd"}):
        with pytest.raises(InvalidArgumentError, match="invalid training settings"):
            TrainConfig(**bad).validate()
    bad_own = (
        {"distractor_weight": -0.5}, {"augment": "rotate"}, {"fusion": "sum"}, {"mirror_sign": "flip"},
        {"input_stride": 4}, {"input_stride": 2, "head_stride": 1}, {"fusion": "compare", "head_stride": 2},
        {"readout": 1}, {"head_stride": 2, "readout": 2},
    )  # fmt: skip
    for bad in bad_own:
        with pytest.raises(InvalidArgumentError, match="invalid training settings"):
            TrainConfig(family_config=ReferenceUNetConfig(**bad)).validate()


def test_a_run_with_epochs_0_records_the_epochs_it_trained(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    run = tmp_path / "run"
    train(tiny_config(tiny_dataset, run, epochs=0, sample_budget=40), progress=False)
    config = json.loads((run / "config.json").read_text())
    rows = (run / "metrics.jsonl").read_text().splitlines()
    patches = 4 * 4  # 4 training strips (1 held out) of 4 patches of 64 along 192 rows
    assert config["epochs"] == len(rows) == math.ceil(40 / patches) == 3
    _, info = load_model(run)
    assert TrainConfig.from_dict(info["train_config"]).first_best_candidate() == 0  # best_from 0 here


def train_recording_batches(
    args: list[str], run: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[list[torch.Tensor]], dict[str, torch.Tensor], float]:
    """Runs ``defectkit train`` with ``args``; returns (every batch the model trained on, in
    order, the weights of last.pt, the first epoch's loss)."""
    from defectkit.training import loop

    batches: list[list[torch.Tensor]] = []

    class RecordingLoader(loop.DataLoader):
        def __iter__(self):
            for batch in super().__iter__():
                batches.append([t.clone() for t in batch])
                yield batch

    monkeypatch.setattr(loop, "DataLoader", RecordingLoader)
    assert main(["train", *args]) == 0
    monkeypatch.undo()
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    return batches, load_checkpoint(run / "last.pt")["model"], row["loss"]


def test_augmentation_and_the_distractor_term_change_what_trains_from_the_command_line(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(name: str, *options: str):
        args = cli_args(tiny_config(tiny_dataset, tmp_path / name, epochs=1))
        return train_recording_batches([*args, *options], tmp_path / name, monkeypatch)

    def same_weights(a: dict, b: dict) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    plain, plain_weights, plain_loss = run("default")
    augmented, augmented_weights, augmented_loss = run("augment", "--augment", "dihedral+mix+invert")
    weighted, weighted_weights, weighted_loss = run("distractor", "--distractor-weight", "0.5")
    config = json.loads((tmp_path / "augment" / "config.json").read_text())["family_config"]
    assert config["augment"] == "dihedral+mix+invert" and config["distractor_weight"] == 0.0
    config = json.loads((tmp_path / "distractor" / "config.json").read_text())["family_config"]
    assert config["augment"] == "none" and config["distractor_weight"] == 0.5
    assert len(plain) == len(augmented) == len(weighted) > 0

    # Augmentation changes the surfaces the model sees, not the defects: those come from
    # their own random stream, so the same seed draws the same masks as without it.
    assert all(len(b) == 2 for b in plain + augmented)
    assert any(not torch.equal(p[0], a[0]) for p, a in zip(plain, augmented, strict=True))
    assert all(torch.equal(p[1], a[1]) for p, a in zip(plain, augmented, strict=True))
    assert augmented_loss != plain_loss and not same_weights(plain_weights, augmented_weights)

    # The distractor term adds the distractor masks to the same patches and defects (the
    # default run's batches carry none), and its loss term changes the weights.
    assert all(len(b) == 3 for b in weighted)
    for p, w in zip(plain, weighted, strict=True):
        assert torch.equal(p[0], w[0]) and torch.equal(p[1], w[1])
    assert any(w[2].any() for w in weighted)
    assert weighted_loss != plain_loss and not same_weights(plain_weights, weighted_weights)


def test_a_config_saved_before_a_kind_existed_loads_with_that_kind_off() -> None:
    # Checkpoints carry their TrainConfig; export rebuilds it and its SynthesisConfig from them.
    saved = TrainConfig().to_dict()
    saved["family_config"]["broad_weights"] = [0.3, 0.15, 0.2, 0.15, 0.2, 0.0]  # before stain
    config = TrainConfig.from_dict(saved).family_config
    assert config.broad_weights == (0.3, 0.15, 0.2, 0.15, 0.2, 0.0, 0.0)
    assert config.synthesis_settings().broad_weights == config.broad_weights
    saved["family_config"]["broad_weights"] = [1.0, 0.0, 0.0, 0.0, 0.0]  # before irregular
    assert TrainConfig.from_dict(saved).family_config.broad_weights == (1.0,) + (0.0,) * 6
    assert TrainConfig.from_dict(TrainConfig().to_dict()).family_config.mirror_sign == "opposite"


def test_a_config_saved_before_the_family_seam_loads_flat() -> None:
    """Runs before the seam saved one flat dict (the family's settings beside the shared ones,
    ``patch_budget``, no fusion or mirror_sign in the oldest): they load as what they trained."""
    flat = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("family", "family_config")}
    flat |= {
        k: v
        for k, v in ReferenceUNetConfig(width=32).to_dict().items()
        if k not in ("fusion", "mirror_sign", "input_stride", "head_stride", "readout")
    }
    flat["patch_budget"] = flat.pop("sample_budget") + 1
    config = TrainConfig.from_dict(flat)
    assert config.family == "reference_unet" and config.sample_budget == TrainConfig().sample_budget + 1
    assert config.family_config.width == 32
    assert (config.family_config.fusion, config.family_config.mirror_sign) == ("stack", "same")
    # DRAEM's full-resolution network, whatever the default
    assert (config.family_config.input_stride, config.family_config.head_stride) == (1, 1)
    assert config.family_config.readout == 0
