"""The synthetic training set: items, determinism across workers and epochs, the strip cache, size checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from torch.utils.data import DataLoader

from defectkit.errors import BadFileError, InvalidArgumentError
from defectkit.models.reference_unet.data import dataset as training_set
from defectkit.models.reference_unet.data.dataset import (
    StripPatchDataset,
    make_validation_set,
    read_strip_shape,
)
from defectkit.models.reference_unet.synthesis import SynthesisConfig

SHAPE = (300, 176)  # 3 x 2 patches of 128


def _strip(path: Path, shape: tuple[int, int] = SHAPE, seed: int = 0) -> Path:
    """Writes a 4-channel float32 strip (target, ref1, ref2, ROI) with a huge ROI channel."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(60, 200, shape).astype(np.float32)
    data = np.stack([base, base + 1, base - 1, np.full(shape, 1000.0, np.float32)])
    tifffile.imwrite(path, data, photometric="minisblack", planarconfig="separate")
    return path


@pytest.fixture
def strips(tmp_path: Path) -> list[Path]:
    return [_strip(tmp_path / f"s{i}.tif", seed=i) for i in range(3)]


def test_items_are_every_strip_and_position(strips: list[Path]) -> None:
    dataset = StripPatchDataset(strips, seed=1)
    assert dataset.patch_size == 128 and dataset.strip_shape == SHAPE
    assert len(dataset) == 3 * 6
    assert dataset.locate(7) == (1, (0, 48))
    x, mask = dataset[7]
    assert x.dtype == torch.float32 and x.shape == (3, 128, 128)
    assert mask.dtype == torch.float32 and mask.shape == (1, 128, 128)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert 0.1 < x.mean() < 0.9 and x.max() < 1.5  # scaled by 1/255; the ROI channel (1000) is never read
    with pytest.raises(IndexError):
        dataset[len(dataset)]


def test_defective_and_clean_items_both_occur(strips: list[Path]) -> None:
    dataset = StripPatchDataset(strips, synthesis=SynthesisConfig(family="seed"))
    defective = [bool(dataset[i][1].any()) for i in range(len(dataset))]
    assert any(defective) and not all(defective)


def _batches(dataset: StripPatchDataset, workers: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    loader = DataLoader(dataset, batch_size=4, shuffle=False, num_workers=workers)
    return list(loader)


def test_same_batches_whatever_the_number_of_workers(strips: list[Path]) -> None:
    dataset = StripPatchDataset(strips, seed=3, cache_size=2)
    dataset.set_epoch(2)
    single = _batches(dataset, 0)
    parallel = _batches(dataset, 2)
    assert len(single) == len(parallel) == 5
    for (x0, m0), (x1, m1) in zip(single, parallel, strict=True):
        assert torch.equal(x0, x1) and torch.equal(m0, m1)
    dataset.set_epoch(3)
    other_epoch = _batches(dataset, 0)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(single, other_epoch, strict=True))


def test_same_seed_same_items_and_other_seed_differs(strips: list[Path]) -> None:
    a = StripPatchDataset(strips, seed=5)
    b = StripPatchDataset(strips, seed=5)
    c = StripPatchDataset(strips, seed=6)
    for i in (0, 9):
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1], b[i][1])
    assert not torch.equal(a[0][0], c[0][0])
    assert not torch.equal(a[0][0], a[1][0])  # distinct streams per item


def test_lru_cache_evicts_the_least_recently_used_strip(
    strips: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = training_set.read_strip_tifffile

    def counting(path: Path) -> np.ndarray:
        reads.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(training_set, "read_strip_tifffile", counting)
    dataset = StripPatchDataset(strips, cache_size=2)
    first = {k: k * 6 for k in range(3)}  # first item of each strip
    for strip in (0, 0, 1, 0):
        dataset[first[strip]]
    assert reads == ["s0.tif", "s1.tif"]
    dataset[first[2]]  # evicts s1, the least recently used
    dataset[first[0]]
    assert reads == ["s0.tif", "s1.tif", "s2.tif"]
    dataset[first[1]]
    assert reads[-1] == "s1.tif" and len(reads) == 4
    uncached = StripPatchDataset(strips, cache_size=0)
    uncached[0]
    uncached[1]
    assert len(reads) == 6


def test_strip_smaller_than_a_patch_is_refused(tmp_path: Path) -> None:
    small = _strip(tmp_path / "small.tif", (100, 176))
    with pytest.raises(BadFileError, match="smaller than one 128x128 patch") as info:
        StripPatchDataset([small])
    assert str(info.value).startswith(str(small))


def test_odd_strip_is_refused_when_first_read(tmp_path: Path) -> None:
    good = _strip(tmp_path / "good.tif")
    small = _strip(tmp_path / "small.tif", (100, 176))
    dataset = StripPatchDataset([good, small])
    dataset[0]
    with pytest.raises(BadFileError, match="smaller than one") as info:
        dataset[6]
    assert str(info.value).startswith(str(small))


def test_validate_checks_headers_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _strip(tmp_path / "good.tif")
    other = _strip(tmp_path / "other.tif", (400, 176))
    monkeypatch.setattr(training_set, "read_strip_tifffile", lambda path: pytest.fail("decoded"))
    assert read_strip_shape(other) == (400, 176)
    StripPatchDataset([good, good]).validate()
    with pytest.raises(BadFileError, match="share one size") as info:
        StripPatchDataset([good, other]).validate()
    assert str(info.value).startswith(str(other))


def test_validation_set_is_fixed(strips: list[Path]) -> None:
    x, mask = make_validation_set(strips[:2], seed=7)
    again_x, again_mask = make_validation_set(strips[:2], seed=7)
    assert x.shape == (12, 3, 128, 128) and mask.shape == (12, 1, 128, 128)
    assert torch.equal(x, again_x) and torch.equal(mask, again_mask)
    small_x, _ = make_validation_set(strips[:2], seed=7, max_patches=4)
    assert small_x.shape[0] == 4 and torch.equal(small_x[0], x[0]) and torch.equal(small_x[-1], x[-1])


@pytest.mark.parametrize(
    "spec", ["dihedral", "mix+invert", "jitter", "levels", "jitter+dihedral+mix+levels+invert"]
)
def test_augmentation_changes_the_surface_not_the_defects(strips: list[Path], spec: str) -> None:
    plain = StripPatchDataset(strips, seed=3)
    turned = StripPatchDataset(strips, seed=3, augment=spec)
    again = StripPatchDataset(strips, seed=3, augment=spec)
    changed = 0
    for i in range(len(plain)):
        (x0, m0), (x1, m1), (x2, _) = plain[i], turned[i], again[i]
        torch.testing.assert_close(x1, x2, rtol=0, atol=0)  # deterministic
        torch.testing.assert_close(m0, m1, rtol=0, atol=0)  # its own random stream: same defects
        changed += not torch.equal(x0, x1)
    # 7 of 8 turns, every mix, half the inversions and nearly every jitter change a surface
    assert changed > len(plain) // 2
    for bad in ("flip", "mix+mix", "", "none+mix"):
        with pytest.raises(InvalidArgumentError, match="augment"):
            StripPatchDataset(strips, augment=bad)


def test_items_carry_the_distractor_mask_when_asked(strips: list[Path]) -> None:
    plain = StripPatchDataset(strips, seed=2)
    with_distractors = StripPatchDataset(strips, seed=2, distractor_masks=True)
    found = False
    for i in range(len(plain)):
        x, mask = plain[i]
        x2, mask2, distractors = with_distractors[i]
        torch.testing.assert_close(x, x2, rtol=0, atol=0)
        torch.testing.assert_close(mask, mask2, rtol=0, atol=0)
        assert distractors.shape == mask.shape and not (distractors * mask).any()
        assert distractors.any() == mask.any()  # a defective patch always has reference stamps
        found |= bool(distractors.any())
    assert found
