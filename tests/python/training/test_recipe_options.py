"""Recipe options: the patch budget that sets epochs, augmentation and the distractor term in a real run."""

from __future__ import annotations

import json
import math
import pathlib

import pytest

from defectkit.cli import main
from defectkit.errors import InvalidArgumentError
from defectkit.training import TrainConfig, load_model, train
from tiny_training import cli_args, tiny_config


def test_epochs_follow_the_patch_budget_unless_given() -> None:
    auto = TrainConfig()
    assert auto.epochs == 0
    assert auto.with_epochs_for(96 * 18).epochs == 6  # the demo: 96 strips of 18 patches
    assert auto.with_epochs_for(24 * 18).epochs == 24
    assert auto.with_epochs_for(10**6).epochs == 1
    assert TrainConfig(epochs=25).with_epochs_for(96 * 18).epochs == 25
    with pytest.raises(InvalidArgumentError, match="epochs set"):
        auto.first_best_candidate()
    bad_settings = ({"epochs": -1}, {"patch_budget": 0}, {"distractor_weight": -0.5}, {"augment": "rotate"})
    for bad in (*bad_settings, {"fusion": "sum"}, {"mirror_sign": "flip"}):
        with pytest.raises(InvalidArgumentError, match="invalid training settings"):
            TrainConfig(**bad).validate()


def test_a_run_with_epochs_0_records_the_epochs_it_trained(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    run = tmp_path / "run"
    train(tiny_config(tiny_dataset, run, epochs=0, patch_budget=40), progress=False)
    config = json.loads((run / "config.json").read_text())
    rows = (run / "metrics.jsonl").read_text().splitlines()
    patches = 4 * 4  # 4 training strips (1 held out) of 4 patches of 64 along 192 rows
    assert config["epochs"] == len(rows) == math.ceil(40 / patches) == 3
    _, info = load_model(run)
    assert TrainConfig.from_dict(info["train_config"]).first_best_candidate() == 0  # best_from 0 here


def test_augmentation_and_the_distractor_term_train_from_the_command_line(
    tiny_dataset: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    run = tmp_path / "run"
    args = cli_args(tiny_config(tiny_dataset, run, epochs=2))
    assert main(["train", *args, "--augment", "dihedral+mix+invert", "--distractor-weight", "0.5"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["augment"] == "dihedral+mix+invert" and config["distractor_weight"] == 0.5
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(math.isfinite(r["loss"]) for r in rows)


def test_a_config_saved_before_a_kind_existed_loads_with_that_kind_off() -> None:
    # Checkpoints carry their TrainConfig; export rebuilds it and its SynthesisConfig from them.
    from defectkit.training.loop import synthesis_config

    saved = TrainConfig().to_dict() | {"broad_weights": [0.3, 0.15, 0.2, 0.15, 0.2, 0.0]}  # before stain
    config = TrainConfig.from_dict(saved)
    assert config.broad_weights == (0.3, 0.15, 0.2, 0.15, 0.2, 0.0, 0.0)
    assert synthesis_config(config).broad_weights == config.broad_weights
    older = TrainConfig.from_dict(TrainConfig().to_dict() | {"broad_weights": [1.0, 0.0, 0.0, 0.0, 0.0]})
    assert older.broad_weights == (1.0,) + (0.0,) * 6
    before = TrainConfig().to_dict()
    del before["fusion"], before["mirror_sign"]
    restored = TrainConfig.from_dict(before)
    assert (restored.fusion, restored.mirror_sign) == ("stack", "same")  # what those runs trained with
    assert TrainConfig.from_dict(TrainConfig().to_dict()).mirror_sign == "opposite"
