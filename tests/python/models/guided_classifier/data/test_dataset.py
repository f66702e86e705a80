"""ImageDataset: items, mixed supervision, determinism across workers, orders and resumes, balancing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from defectkit.errors import InvalidArgumentError
from defectkit.models.guided_classifier.data.dataset import ImageDataset, balanced_order
from defectkit.models.guided_classifier.data.layout import ImageRecord, read_split

from .helpers import small_dataset, write_dataset, write_image


@pytest.fixture
def records(tmp_path: Path) -> list[ImageRecord]:
    """train: defect_001 (mask), defect_002 (no mask), normal_001..003."""
    return read_split(small_dataset(tmp_path), "train")


def _same(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_items_are_image_mask_has_mask_label(records: list[ImageRecord]) -> None:
    dataset = ImageDataset(records, 16)
    assert len(dataset) == 5
    image, mask, has_mask, label = dataset[0]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert mask.shape == (1, 16, 16) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert has_mask.shape == () and has_mask.dtype == torch.float32
    assert label.shape == () and label.dtype == torch.float32


def test_masks_are_known_for_normal_images_and_defects_with_one(records: list[ImageRecord]) -> None:
    dataset = ImageDataset(records, 16)
    rows = [(float(dataset[i][2]), float(dataset[i][3]), float(dataset[i][1].sum())) for i in range(5)]
    assert rows[0][:2] == (1.0, 1.0) and rows[0][2] > 0  # defect with its mask
    assert rows[1] == (0.0, 1.0, 0.0)  # defect without a mask: segmentation loss skipped
    assert rows[2:] == [(1.0, 0.0, 0.0)] * 3  # normal: known clean
    without = ImageDataset(records, 16, use_masks=False)  # the ablation
    assert [float(without[i][2]) for i in range(5)] == [0.0] * 5
    assert float(without[0][1].sum()) == rows[0][2]  # the mask still comes, only marked unknown


def test_images_and_masks_are_resized_together(tmp_path: Path) -> None:
    root = write_dataset(tmp_path, {"train": [("d.png", 1, False)]}, shape=(60, 90))
    image = np.full((60, 90, 3), 20, np.uint8)
    image[15:45, 30:60] = 230  # a bright block, and its mask at another size (20 x 30)
    write_image(root / "images" / "d.png", image)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 10:20] = 255
    write_image(root / "masks" / "d.png", mask)
    item = ImageDataset(read_split(root, "train"), 12)[0]
    expected = np.zeros((12, 12), np.float32)
    expected[3:9, 4:8] = 1.0
    np.testing.assert_array_equal(item[1][0].numpy(), expected)
    bright = item[0].mean(dim=0) > 0.5
    assert torch.equal(bright, torch.from_numpy(expected > 0))


def test_an_item_is_the_same_whatever_the_order_it_is_fetched_in(records: list[ImageRecord]) -> None:
    dataset = ImageDataset(records, 16, augment="all", seed=3)
    dataset.set_epoch(2)
    forward = [dataset[i] for i in range(len(dataset))]
    backward = [dataset[i] for i in reversed(range(len(dataset)))][::-1]
    fresh = ImageDataset(records, 16, augment="all", seed=3, cache_size=0)
    fresh.set_epoch(2)
    assert all(_same(a, b) for a, b in zip(forward, backward, strict=True))
    assert all(_same(a, fresh[i]) for i, a in enumerate(forward))


def test_an_epoch_resumed_is_the_epoch_that_would_have_run(records: list[ImageRecord]) -> None:
    running = ImageDataset(records, 16, augment="all", seed=1, balanced=True)
    for epoch in range(4):
        running.set_epoch(epoch)
        seen = [running[i] for i in range(len(running))]
    resumed = ImageDataset(records, 16, augment="all", seed=1, balanced=True)
    resumed.set_epoch(3)
    assert len(resumed) == len(seen)
    assert all(_same(a, resumed[i]) for i, a in enumerate(seen))


def test_epochs_and_seeds_draw_new_augmentations(records: list[ImageRecord]) -> None:
    dataset = ImageDataset(records, 16, augment="all", seed=0)
    first = dataset[0]
    dataset.set_epoch(1)
    assert not torch.equal(first[0], dataset[0][0])
    assert not torch.equal(first[0], ImageDataset(records, 16, augment="all", seed=1)[0][0])
    plain = ImageDataset(records, 16)
    plain.set_epoch(5)
    assert torch.equal(plain[0][0], ImageDataset(records, 16)[0][0])  # no augmentation: epochs alike


def test_batches_do_not_depend_on_the_number_of_workers(records: list[ImageRecord]) -> None:
    dataset = ImageDataset(records, 16, augment="all", seed=5, balanced=True)
    dataset.set_epoch(1)
    batches = {}
    for workers in (0, 2):
        loader = DataLoader(dataset, batch_size=2, shuffle=False, num_workers=workers)
        batches[workers] = [torch.cat([t.reshape(len(t), -1) for t in batch], dim=1) for batch in loader]
    assert all(torch.equal(a, b) for a, b in zip(batches[0], batches[2], strict=True))


def test_balanced_epochs_oversample_the_minority_class(records: list[ImageRecord]) -> None:
    dataset = ImageDataset(records, 16, balanced=True)  # 2 defect, 3 normal
    assert dataset.class_counts() == {"normal": 3, "defect": 2}
    assert len(dataset) == 6
    assert Counter(float(dataset[i][3]) for i in range(6)) == {0.0: 3, 1.0: 3}
    assert [dataset.record(i).name for i in range(5)] == [r.name for r in records]  # records first


def test_balanced_order_repeats_minority_records_evenly_and_deterministically() -> None:
    labels = [0] * 3 + [1] * 10  # 7 extra normals needed: each normal 2 or 3 times more
    orders = {epoch: balanced_order(labels, seed=4, epoch=epoch) for epoch in range(6)}
    for order in orders.values():
        assert len(order) == 20 and list(order[:13]) == list(range(13))
        counts = Counter(int(i) for i in order)
        assert sorted(counts[i] for i in range(3)) == [3, 3, 4]  # 1 + 2 whole copies, one of them +1
        assert all(counts[i] == 1 for i in range(3, 13))
    assert np.array_equal(orders[2], balanced_order(labels, seed=4, epoch=2))
    assert len({tuple(order[13:]) for order in orders.values()}) > 1  # the remainder changes by epoch
    assert list(balanced_order([1, 1, 0, 0], 0, 0)) == [0, 1, 2, 3]  # already balanced
    assert list(balanced_order([1, 1, 1], 0, 0)) == [0, 1, 2]  # one class only: nothing to repeat


def test_the_cache_keeps_at_most_cache_size_images(records: list[ImageRecord]) -> None:
    dataset = ImageDataset(records, 16, cache_size=2)
    for i in range(len(dataset)):
        dataset[i]
    assert list(dataset._cache) == [3, 4]


def test_bad_arguments_are_refused(records: list[ImageRecord]) -> None:
    with pytest.raises(InvalidArgumentError, match="at least one image record"):
        ImageDataset([], 16)
    with pytest.raises(InvalidArgumentError, match="image_size >= 1"):
        ImageDataset(records, 0)
    with pytest.raises(InvalidArgumentError, match="seed >= 0"):
        ImageDataset(records, 16, seed=-1)
    with pytest.raises(InvalidArgumentError, match="augment must be"):
        ImageDataset(records, 16, augment="mirror")
    with pytest.raises(InvalidArgumentError, match="epoch >= 0"):
        ImageDataset(records, 16).set_epoch(-1)
    with pytest.raises(IndexError):
        ImageDataset(records, 16)[5]
    odd = ImageRecord(records[0].path, 2, None, records[0].source)
    with pytest.raises(InvalidArgumentError, match=r"label 2 of defect_001\.png is not 0 or 1"):
        ImageDataset([odd], 16)
