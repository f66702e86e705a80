"""The research scripts in experiments/: each imports cleanly (no sys.path or stand-in modules)
and answers --help; the pieces that adapt them to the package's current API do what they say."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
from types import ModuleType

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SCRIPTS = sorted((ROOT / "experiments").rglob("*.py"))


def load_script(path: pathlib.Path) -> ModuleType:
    name = f"experiment_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_scripts_are_found() -> None:
    names = {p.stem for p in SCRIPTS}
    assert {"recipe_sweep", "width_study", "flip_averaging", "eval_summary", "demo_seeds"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_imports_cleanly_and_answers_help(
    path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path_before = list(sys.path)
    module = load_script(path)
    # Installed packages may extend sys.path on import (onnxruntime.quantization adds its own
    # transformers folder); the script itself must not reach outside the environment.
    added = [p for p in sys.path if p not in path_before and not p.startswith(sys.prefix)]
    assert not added, f"a script must not change sys.path: {added}"
    assert "defectkit._native" not in sys.modules or hasattr(sys.modules["defectkit._native"], "__file__")
    monkeypatch.setattr(sys, "argv", [path.name, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_eval_summary_counts_at_the_image_threshold(tmp_path: pathlib.Path) -> None:
    module = load_script(ROOT / "experiments" / "reference_unet" / "eval_summary.py")
    result = {
        "image_auroc": 0.75,
        "pixel_auroc": 0.9,
        "thresholds": {"image": 0.5},
        "scores": [
            {"category": "good", "score": 0.2},
            {"category": "good", "score": 0.6},
            {"category": "scratch", "score": 0.7},
            {"category": "blob", "score": 0.4},
        ],
    }
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(result))
    line = module.summary(path)
    assert "good flagged 1/2" in line
    assert "defects missed 1/2" in line


def test_recipe_sweep_nests_the_family_settings() -> None:
    from defectkit.models.reference_unet.config import ReferenceUNetConfig

    module = load_script(ROOT / "experiments" / "reference_unet" / "recipe_sweep.py")
    values = module.settings("w16-e15-defects5-12")
    config = module.train_config(values, data="D", out="RUN", seed=3)
    assert isinstance(config.family_config, ReferenceUNetConfig)
    assert config.family_config.width == 16
    assert config.family_config.n_defects == (5, 12)
    assert config.family_config.mirror_sign == "same"  # the recipe of the time
    shared = (config.epochs, config.lr, config.precision, config.best_from, config.seed)
    assert shared == (15, 1e-3, "fp32", 0.0, 3)
    config.validate()


def test_recipe_sweep_summarises_an_evaluation() -> None:
    module = load_script(ROOT / "experiments" / "reference_unet" / "recipe_sweep.py")
    result = {
        "image_auroc": 0.75,
        "pixel_auroc": 0.9,
        "thresholds": {"image": 0.5},
        "per_category": {"scratch": {"image_auroc": 1.0}},
        "scores": [
            {"path": "test/good/000.tif", "category": "good", "score": 0.6},
            {"path": "test/good/001.tif", "category": "good", "score": 0.1},
            {"path": "test/scratch/000.tif", "category": "scratch", "score": 0.3},
        ],
    }
    summary = module.summarise_eval(result, keep_scores=False)
    assert (summary["good_flagged"], summary["good_count"]) == (1, 2)
    assert (summary["defects_missed"], summary["defect_count"]) == (1, 1)
    assert summary["flagged_good"] == ["000.tif"]


def test_flip_averaging_turns_each_views_heatmap_back_onto_the_strip() -> None:
    flips = load_script(ROOT / "experiments" / "reference_unet" / "flip_averaging.py")
    strip = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    for name in ("plain", "swap", "hflip", "vflip"):
        seen = flips.view(strip, name)
        assert seen.shape == strip.shape
        # A "model" that answers with its target channel must land on the strip's own target.
        np.testing.assert_array_equal(flips.heatmap_back(seen[0], name), strip[0])
    np.testing.assert_array_equal(flips.view(strip, "swap")[1:], strip[[2, 1]])


def test_demo_seeds_shows_a_refused_int8_and_averages_the_rest(tmp_path: pathlib.Path) -> None:
    module = load_script(ROOT / "experiments" / "reference_unet" / "demo_seeds.py")
    headline = {"image_auroc": 0.95, "pixel_auroc": 0.99, "good_flagged": 4, "defects_missed": 3}
    export = {"graph": "full_frame", "int8_graph": "full_frame", "int8_method": "minmax", "float_islands": []}
    for seed, int8 in ((0, True), (1, False)):
        summary = {
            "precision": "bfloat16",
            "minutes": 12.0,
            "pytorch": headline,
            "export": export if int8 else {"graph": "tiled", "gate_passed": False, "refused": "no INT8 ..."},
            "native": {"model_fp32.onnx": headline, **({"model_int8.onnx": {**headline, "image_auroc": 0.9}}
                                                      if int8 else {})},
        }  # fmt: skip
        folder = tmp_path / f"bf16-seed{seed}" / "reference_unet"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps(summary))
    text = module.table(tmp_path, [("bf16", 0), ("bf16", 1)])
    assert "| bfloat16 | 1 | 0.950 | 0.990 | refused | refused | refused | refused | tiled / refused |" in text
    assert "| bf16 | mean (range) of 2 | **0.950** (0.950-0.950) | **0.990** (0.990-0.990) | **0.900**" in text
