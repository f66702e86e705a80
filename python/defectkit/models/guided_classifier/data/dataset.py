"""The ``guided_classifier`` training and evaluation set: image, mask, whether the mask is known, label.

Item ``i`` of epoch ``e`` draws all its randomness (the augmentations) from
``np.random.default_rng([seed, e, i])``: the same batch comes out whatever the number of
DataLoader workers or the order items are fetched in, and a run resumed at epoch ``e``
sees what an uninterrupted one saw.

Masks and mixed supervision (Božič et al., "Mixed supervision for surface-defect detection",
Computers in Industry 2021): a normal image's mask is all zero and *known* (``has_mask`` 1:
its segmentation loss teaches "nothing here"); a defect image with a mask is known too; a
defect image without one has ``has_mask`` 0, so its segmentation loss is skipped while its
label still trains the classifier. ``use_masks=False`` sets every ``has_mask`` to 0 (the
"without masks" ablation).

``balanced=True`` oversamples the minority class in each epoch's item list up to the
majority's count (so ``len`` changes), which balances batches under a plain or distributed
sampler without a weighted one. Items ``0 .. len(records) - 1`` are the records in order;
the extra minority items follow, each minority record repeated as evenly as the count allows
and the remainder drawn from ``SeedSequence([seed, epoch], spawn_key=(1,))`` (a stream no
item uses).

Decoded images, resized to ``image_size``, are kept in a small LRU cache (per worker: each
DataLoader worker has its own copy). Epochs and workers: ``set_epoch`` changes this object
in the main process; DataLoader workers see it only when they start, which is every epoch
unless ``persistent_workers=True``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from defectkit.errors import InvalidArgumentError
from defectkit.models.guided_classifier.data.augment import augment, parse_augment
from defectkit.models.guided_classifier.data.images import read_image, read_mask
from defectkit.models.guided_classifier.data.layout import CLASS_NAMES, DEFECT, NORMAL, ImageRecord

__all__ = ["ImageDataset", "balanced_order"]

logger = logging.getLogger("defectkit")

_BALANCE_STREAM = 1  # spawn key of the balancing draw: SeedSequence([seed, epoch], spawn_key=(1,))


def balanced_order(labels: Sequence[int], seed: int, epoch: int) -> np.ndarray:
    """Record indices of one balanced epoch: every record once, then minority records repeated.

    Args:
        labels: 0/1 per record.
        seed: Base seed.
        epoch: The epoch (a new epoch draws a new remainder).

    Returns:
        int64 indices into ``labels``: ``arange(len(labels))`` followed by
        ``majority - minority`` minority indices (none when a class is absent or they tie).
        Each minority record appears ``1 + q`` or ``2 + q`` times in all.
    """
    labels = np.asarray(labels)
    everything = np.arange(len(labels), dtype=np.int64)
    counts = [int((labels == NORMAL).sum()), int((labels == DEFECT).sum())]
    minority_label = int(np.argmin(counts))
    minority = everything[labels == minority_label]
    deficit = max(counts) - min(counts)
    if len(minority) == 0 or deficit == 0:
        return everything
    whole, remainder = divmod(deficit, len(minority))
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch], spawn_key=(_BALANCE_STREAM,)))
    extra = np.concatenate([np.tile(minority, whole), rng.choice(minority, remainder, replace=False)])
    return np.concatenate([everything, extra.astype(np.int64)])


class ImageDataset(Dataset):
    """Images with their masks and labels, resized to a square, optionally augmented.

    Args:
        records: The images (:func:`~defectkit.models.guided_classifier.data.layout.read_split`).
        image_size: Side ``S`` of the square every image is resized to (``cv2.INTER_LINEAR``, as
            the exported graph resizes; masks by nearest neighbour).
        augment: A :func:`~defectkit.models.guided_classifier.data.augment.parse_augment` spec
            (``"none"``, ``"all"``, ``"flip+rotate"``, ...).
        seed: Non-negative base seed of every item's random stream.
        balanced: Oversample the minority class to the majority's count in each epoch.
        use_masks: False: every ``has_mask`` is 0 (train without segmentation supervision).
        cache_size: Decoded, resized images kept per worker; 0 disables the cache.

    Raises:
        InvalidArgumentError: No records, ``image_size < 1``, a negative seed or cache size,
            a label other than 0 or 1, an unknown ``augment``.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        image_size: int,
        *,
        augment: str = "none",
        seed: int = 0,
        balanced: bool = False,
        use_masks: bool = True,
        cache_size: int = 64,
    ) -> None:
        self.records = list(records)
        if not self.records:
            msg = "ImageDataset needs at least one image record"
            raise InvalidArgumentError(msg)
        if image_size < 1 or seed < 0 or cache_size < 0:
            msg = (
                f"ImageDataset needs image_size >= 1, seed >= 0 and cache_size >= 0, "
                f"got {image_size}, {seed} and {cache_size}"
            )
            raise InvalidArgumentError(msg)
        bad = next((r for r in self.records if r.label not in (NORMAL, DEFECT)), None)
        if bad is not None:
            msg = f"{bad.where}: label {bad.label!r} of {bad.name} is not 0 or 1"
            raise InvalidArgumentError(msg)
        self.image_size = int(image_size)
        self.augment = parse_augment(augment)
        self.seed = int(seed)
        self.balanced = balanced
        self.use_masks = use_masks
        self.cache_size = cache_size
        self.labels = np.array([r.label for r in self.records], dtype=np.int64)
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self.epoch = 0
        self._order = self._epoch_order()
        counts = self.class_counts()
        if balanced and min(counts) == 0:
            logger.warning("ImageDataset: balanced=True but the records hold only one class: %s", counts)
        logger.debug("ImageDataset: %s images at %d px, %d items an epoch", counts, image_size, len(self))

    def class_counts(self) -> dict[str, int]:
        """Records per class name (before balancing)."""
        return {name: int((self.labels == label).sum()) for label, name in enumerate(CLASS_NAMES)}

    def _epoch_order(self) -> np.ndarray:
        if self.balanced:
            return balanced_order(self.labels, self.seed, self.epoch)
        return np.arange(len(self.records), dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        """Selects epoch ``epoch`` (non-negative): its augmentations and, when balanced, its item list."""
        if epoch < 0:
            msg = f"ImageDataset.set_epoch needs epoch >= 0, got {epoch}"
            raise InvalidArgumentError(msg)
        self.epoch = int(epoch)
        self._order = self._epoch_order()

    def __len__(self) -> int:
        return len(self._order)

    def record(self, index: int) -> ImageRecord:
        """The record item ``index`` of the current epoch shows."""
        if not 0 <= index < len(self):
            msg = f"ImageDataset index {index} out of range for {len(self)} items"
            raise IndexError(msg)
        return self.records[int(self._order[index])]

    def _decoded(self, record_index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``((S, S, 3) uint8 RGB, (S, S) bool mask or None)`` of a record, through the cache."""
        cached = self._cache.get(record_index)
        if cached is not None:
            self._cache.move_to_end(record_index)
            return cached
        record = self.records[record_index]
        image = read_image(record.path)
        mask = None
        if record.mask_path is not None and record.is_defect:
            mask = read_mask(record.mask_path, image.shape)
        size = (self.image_size, self.image_size)
        if image.shape[:2] != size:
            # Bilinear, half-pixel centres, no antialiasing: exactly the Resize the exported graph
            # applies (ONNX Resize at opset 17 has no antialias), so training sees what the line sees.
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            if mask is not None:
                resized = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST_EXACT)
                mask = resized.astype(bool)
        if self.cache_size > 0:
            self._cache[record_index] = (image, mask)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return image, mask

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Item ``index`` of the current epoch.

        Returns:
            ``(image, mask, has_mask, label)``: ``(3, S, S)`` float32 RGB in [0, 1];
            ``(1, S, S)`` float32 in {0, 1}; ``()`` float32, 1 when the mask is known
            (normal images, defect images with a mask) and 0 otherwise or without
            ``use_masks``; ``()`` float32, 0 normal or 1 defect.
        """
        record = self.record(index)
        image_u8, mask_bool = self._decoded(int(self._order[index]))
        image = image_u8.astype(np.float32) * np.float32(1.0 / 255.0)  # (S, S, 3)
        mask = np.zeros(image.shape[:2], np.float32) if mask_bool is None else mask_bool.astype(np.float32)
        known = self.use_masks and (not record.is_defect or mask_bool is not None)
        if self.augment:
            image, mask = augment(
                image, mask, self.augment, np.random.default_rng([self.seed, self.epoch, index])
            )
        return (
            torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
            torch.from_numpy(np.ascontiguousarray(mask)[None]),
            torch.tensor(1.0 if known else 0.0, dtype=torch.float32),
            torch.tensor(float(record.label), dtype=torch.float32),
        )
