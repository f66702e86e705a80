"""The procedural demo dataset: layout, production format, masks, determinism, target-only defects."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from defectkit.data.layout import discover_dataset, read_mask
from defectkit.data.strip_io import read_strip_tifffile
from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.data.demo import make_demo_dataset

CATEGORIES = ("scratch", "blob", "pit", "smudge", "cluster")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    return make_demo_dataset(
        root,
        n_train=2,
        n_test_good=3,
        n_test_defect=len(CATEGORIES),
        n_valid_good=1,
        n_valid_defect=2,
        progress=False,
    )


def _defect_strips(root: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for category in CATEGORIES:
        for image in sorted((root / "test" / category).glob("*.tif")):
            pairs.append((image, root / "ground_truth" / category / f"{image.stem}_mask.png"))
    return pairs


def _read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert mask is not None, path
    return mask


def _residual(target: np.ndarray, reference: np.ndarray, where: np.ndarray) -> np.ndarray:
    """|target - gain * reference|, the gain fitted (least squares) on ``where``."""
    target, reference = target.astype(np.float64), reference.astype(np.float64)
    gain = (target[where] * reference[where]).sum() / (reference[where] ** 2).sum()
    return np.abs(target - gain * reference)


def test_writes_the_mvtec_layout(dataset: Path) -> None:
    assert len(list((dataset / "train" / "good").glob("*.tif"))) == 2
    assert len(list((dataset / "test" / "good").glob("*.tif"))) == 3
    assert sorted(p.name for p in (dataset / "test").iterdir()) == sorted([*CATEGORIES, "good"])
    assert sorted(p.name for p in (dataset / "ground_truth").iterdir()) == sorted(CATEGORIES)
    for image, mask in _defect_strips(dataset):
        assert mask.is_file(), f"{image} has no ground truth"
    assert len(_defect_strips(dataset)) == len(CATEGORIES)
    description = json.loads((dataset / "dataset.json").read_text())
    assert description["seed"] == 0
    assert (description["height"], description["width"]) == (976, 176)
    assert description["channels"] == ["target", "ref1", "ref2", "roi"]
    assert description["categories"] == dict.fromkeys(CATEGORIES, 1)


def test_strips_are_in_the_production_format(dataset: Path) -> None:
    for path in sorted(dataset.glob("t*/*/*.tif")):
        strip = read_strip_tifffile(path)
        assert strip.shape == (4, 976, 176), path
        assert strip.dtype == np.float32
        assert strip.min() >= 0.0
        assert strip.max() <= 255.0
        assert np.all(strip[3] == 255.0), "the ROI channel marks the whole strip as inspected"
        assert strip[:3].std() > 1.0, "the captures show a textured surface"


def test_masks_match_their_strips_and_are_not_empty(dataset: Path) -> None:
    for _, mask_path in _defect_strips(dataset):
        mask = _read_mask(mask_path)
        assert mask.dtype == np.uint8
        assert mask.shape == (976, 176)
        assert set(np.unique(mask)) == {0, 255}, mask_path
        assert (mask == 255).sum() >= 5, mask_path


def test_defects_are_in_the_target_only(dataset: Path) -> None:
    for image, mask_path in _defect_strips(dataset):
        target, ref1, ref2, _ = read_strip_tifffile(image)
        inside = _read_mask(mask_path) == 255
        for reference in (ref1, ref2):
            residual = _residual(target, reference, ~inside)
            ratio = residual[inside].mean() / residual[~inside].mean()
            assert ratio > 1.5, f"{image}: defect barely visible (inside/outside residual {ratio:.2f})"
        references = _residual(ref1, ref2, ~inside)
        ratio = references[inside].mean() / references[~inside].mean()
        assert ratio < 1.5, f"{image}: the references differ at the defect too ({ratio:.2f})"


def test_good_test_strips_carry_reference_only_distractors(dataset: Path) -> None:
    peaks = []
    for path in sorted((dataset / "test" / "good").glob("*.tif")):
        target, ref1, ref2, _ = read_strip_tifffile(path)
        everywhere = np.ones(target.shape, bool)
        for reference in (ref1, ref2):
            residual = cv2.GaussianBlur(
                _residual(target, reference, everywhere).astype(np.float32), (0, 0), 2
            )
            peaks.append(residual.max() / np.median(residual))
    assert max(peaks) > 4, "no test/good strip shows an anomaly in a reference"


def test_valid_split_is_found_by_the_layout_and_shares_no_file_with_test(dataset: Path) -> None:
    layout = discover_dataset(dataset)
    assert layout.valid is not None
    assert [(s.category, s.path.name) for s in layout.valid] == [
        ("blob", "v000.tif"),
        ("good", "v000.tif"),
        ("scratch", "v000.tif"),
    ]
    test_masks = {s.mask_path for s in layout.test if s.mask_path}
    for sample in layout.valid:
        if sample.is_defective:
            assert sample.mask_path.name == "v000_mask.png"
            assert sample.mask_path not in test_masks
            assert read_mask(sample.mask_path, (976, 176)).any()
    valid_bytes = {s.path.read_bytes() for s in layout.valid}
    assert not valid_bytes & {s.path.read_bytes() for s in layout.test}, "valid/ repeats a test strip"
    counts = json.loads((dataset / "dataset.json").read_text())["counts"]
    assert (counts["valid/good"], counts["valid/defect"]) == (1, 2)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    options = {
        "n_train": 1,
        "n_test_good": 1,
        "n_test_defect": 3,
        "height": 96,
        "width": 64,
        "progress": False,
    }
    first = files(make_demo_dataset(tmp_path / "a", seed=5, **options))
    again = files(make_demo_dataset(tmp_path / "b", seed=5, **options))
    other = files(make_demo_dataset(tmp_path / "c", seed=6, **options))
    assert first == again
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first if name.endswith(".tif"))
    # Each strip has its own generator: more training strips leave the test strips alone.
    more_train = files(make_demo_dataset(tmp_path / "d", seed=5, **{**options, "n_train": 3}))
    assert all(more_train[name] == data for name, data in first.items() if name.startswith("test"))


def test_refuses_unknown_categories_and_a_non_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown defect categories"):
        make_demo_dataset(tmp_path / "x", categories=("crack",), progress=False)
    root = make_demo_dataset(tmp_path / "y", n_train=1, n_test_good=0, n_test_defect=0, height=64, width=48)
    with pytest.raises(InvalidArgumentError, match="not empty"):
        make_demo_dataset(root, n_train=1, n_test_good=0, n_test_defect=0, height=64, width=48)
    make_demo_dataset(root, n_train=0, n_test_good=1, n_test_defect=0, height=64, width=48, overwrite=True)
    assert not (root / "train").exists()
    assert len(list((root / "test" / "good").glob("*.tif"))) == 1


def test_shows_a_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_demo_dataset(tmp_path, n_train=1, n_test_good=0, n_test_defect=0, height=64, width=48, progress=True)
    assert "demo strips" in capsys.readouterr().err


def test_synth_defaults_are_the_demo_counts() -> None:
    """`defectkit synth` keeps its own copy of the counts (it is listed without the [train] extra)."""
    import argparse

    from defectkit.cli import synth
    from defectkit.models.reference_unet.data.demo import DEMO_COUNTS

    parser = argparse.ArgumentParser()
    synth.add_arguments(parser)
    args = vars(parser.parse_args(["out"]))
    assert {name: args[name] for name in DEMO_COUNTS} == DEMO_COUNTS
    # Enough to rank models and to gate INT8: at least 100 test strips, 60 valid/, half defective.
    assert DEMO_COUNTS["test_good"] + DEMO_COUNTS["test_defect"] >= 100
    assert DEMO_COUNTS["valid_good"] + DEMO_COUNTS["valid_defect"] >= 60
    assert DEMO_COUNTS["valid_defect"] >= DEMO_COUNTS["valid_good"]
