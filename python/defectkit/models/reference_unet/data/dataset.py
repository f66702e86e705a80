"""The ``reference_unet`` training set: patches of defect-free strips with defects synthesised on the fly.

Items are every (strip, patch position) pair. Item ``i`` of epoch ``e`` draws its
randomness from ``np.random.default_rng([seed, e, i])``: the same batch comes out
whatever the number of DataLoader workers or the order items are fetched in, no two
items share a stream, and a new epoch gives new defects on the same patches.

Decoded strips are kept in a small LRU cache (per worker: each DataLoader worker has
its own copy of the dataset). Items of one strip are consecutive, so a sequential or
strip-grouped sampler reads each strip once; a fully shuffled one hits the cache about
``cache_size / len(paths)`` of the time.

Epochs and workers: ``set_epoch`` changes the dataset object in the main process;
DataLoader workers see it only when they are started, which is every epoch unless
``persistent_workers=True`` (then the epoch is frozen at the workers' start).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile
import torch
from torch.utils.data import Dataset

from defectkit.data.strip_io import read_strip_tifffile
from defectkit.errors import BadFileError, FileMissingError, InvalidArgumentError
from defectkit.models.reference_unet.data.augment import augment_patch, jitter_corner, parse_augment
from defectkit.models.reference_unet.data.tiling import patch_grid, patch_size_for
from defectkit.models.reference_unet.synthesis import SynthesisConfig, synthesize_detailed

__all__ = ["StripPatchDataset", "make_validation_set", "read_strip_shape"]

logger = logging.getLogger("defectkit")

StrPath = str | os.PathLike[str]
MODEL_CHANNELS = 3  # target, ref1, ref2; a fourth (ROI) channel is never shown to the model


def read_strip_shape(path: StrPath) -> tuple[int, int]:
    """Returns a strip's ``(H, W)`` from its TIFF header, without decoding pixels.

    Raises:
        FileMissingError: The file does not exist.
        BadFileError: It is not a readable TIFF.
    """
    if not os.path.isfile(path):
        msg = f"{path}: file not found"
        raise FileMissingError(msg)
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            return int(page.imagelength), int(page.imagewidth)
    except Exception as exc:  # tifffile raises many types on damaged input
        msg = f"{path}: cannot read TIFF header ({type(exc).__name__}: {exc})"
        raise BadFileError(msg) from exc


class StripPatchDataset(Dataset):
    """Synthetic training patches cut from defect-free strips.

    All strips must share one size (they come from one line); it is read from the first
    strip's header unless given. A strip that turns out smaller than a patch, or of another
    size, raises :class:`BadFileError` when it is first decoded; :meth:`validate` checks
    every header up front so training fails before it starts.

    Args:
        paths: The strip TIFFs (3 or 4 channels; only target, ref1, ref2 are used).
        patch_size: Patch side; ``None`` for :func:`patch_size_for` of the strip size.
        synthesis: Synthesis settings; ``None`` for the defaults.
        cache_size: Decoded strips kept per worker (~2 MB each at 976 x 176); 0 disables.
        seed: Non-negative base seed of every item's random stream.
        strip_shape: ``(H, W)`` of every strip; ``None`` to read the first strip's header.
        min_count: Fewest patch positions ``(along rows, along columns)``.
        augment: A :func:`~defectkit.models.reference_unet.data.augment.parse_augment` spec (``"none"``,
            ``"mix+invert"``, ...), applied to the clean patch before synthesis, from its own
            random stream ``[seed, epoch, index, 1]`` (so the defects drawn do not depend on it).
        distractor_masks: Items also carry the mask of the synthetic stamps that are no
            defect (:meth:`..synthesis.SynthesisResult.distractor_mask`), for a loss that weighs
            them.

    Raises:
        InvalidArgumentError: No paths, a negative seed or cache size, an unknown ``augment``.
        BadFileError: The strip size is smaller than one patch (naming the first strip).
    """

    def __init__(
        self,
        paths: Sequence[StrPath],
        patch_size: int | None = None,
        synthesis: SynthesisConfig | None = None,
        *,
        cache_size: int = 16,
        seed: int = 0,
        strip_shape: tuple[int, int] | None = None,
        min_count: tuple[int, int] = (1, 1),
        augment: str = "none",
        distractor_masks: bool = False,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            msg = "StripPatchDataset needs at least one strip path"
            raise InvalidArgumentError(msg)
        self.augment = parse_augment(augment)
        self.distractor_masks = distractor_masks
        if seed < 0 or cache_size < 0:
            msg = f"StripPatchDataset needs seed >= 0 and cache_size >= 0, got {seed} and {cache_size}"
            raise InvalidArgumentError(msg)
        self.strip_shape = tuple(strip_shape) if strip_shape is not None else read_strip_shape(self.paths[0])
        self.patch_size = patch_size if patch_size is not None else patch_size_for(*self.strip_shape)
        self._check_size(self.paths[0], self.strip_shape)
        self.positions = patch_grid(*self.strip_shape, self.patch_size, min_count)
        self.synthesis = synthesis if synthesis is not None else SynthesisConfig()
        self.cache_size = cache_size
        self.seed = seed
        self.epoch = 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        logger.debug(
            "StripPatchDataset: %d strips of %dx%d, %d patches of %d each",
            len(self.paths),
            *self.strip_shape,
            len(self.positions),
            self.patch_size,
        )

    def __len__(self) -> int:
        return len(self.paths) * len(self.positions)

    def set_epoch(self, epoch: int) -> None:
        """Selects the random streams of ``epoch`` (non-negative): same patches, new defects."""
        if epoch < 0:
            msg = f"StripPatchDataset.set_epoch needs epoch >= 0, got {epoch}"
            raise InvalidArgumentError(msg)
        self.epoch = int(epoch)

    def locate(self, index: int) -> tuple[int, tuple[int, int]]:
        """Returns ``(strip index, (y, x) patch corner)`` of item ``index``."""
        if not 0 <= index < len(self):
            msg = f"StripPatchDataset index {index} out of range for {len(self)} items"
            raise IndexError(msg)
        strip, position = divmod(index, len(self.positions))
        return strip, self.positions[position]

    def _check_size(self, path: Path, shape: tuple[int, ...]) -> None:
        height, width = shape[-2:]
        p = self.patch_size
        if height < p or width < p:
            msg = f"{path}: strip is {height}x{width} (HxW), smaller than one {p}x{p} patch"
            raise BadFileError(msg)
        if (height, width) != self.strip_shape:
            expected = "x".join(map(str, self.strip_shape))
            msg = (
                f"{path}: strip is {height}x{width} (HxW) but the dataset's strips are {expected}; "
                "all training strips must share one size"
            )
            raise BadFileError(msg)

    def validate(self) -> None:
        """Reads every strip's header (not its pixels) and checks its size.

        Raises:
            FileMissingError: A strip does not exist.
            BadFileError: A strip is unreadable, smaller than a patch or of another size.
        """
        for path in self.paths:
            self._check_size(path, read_strip_shape(path))

    def strip(self, index: int) -> np.ndarray:
        """Returns strip ``index`` as ``(3, H, W)`` float32 on the 0..255 scale, through the cache."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        path = self.paths[index]
        data = read_strip_tifffile(path)
        self._check_size(path, data.shape)
        data = np.array(data[:MODEL_CHANNELS], dtype=np.float32, copy=True)  # drops the ROI channel's memory
        if self.cache_size > 0:
            self._cache[index] = data
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return data

    def _clean_patch(self, rng: np.random.Generator) -> np.ndarray:
        """A random clean patch of the training set: ``(3, p, p)`` on the 0..255 scale."""
        strip_index, (y, x) = self.locate(int(rng.integers(len(self))))
        return self.strip(strip_index)[:, y : y + self.patch_size, x : x + self.patch_size]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        """Returns item ``index`` of the current epoch.

        Returns:
            ``(x, mask)``: ``(3, p, p)`` float32, target, ref1, ref2 divided by 255 (a defect
            may take a pixel slightly outside [0, 1]; nothing is clipped), and ``(1, p, p)``
            float32, 1 on target-only defects; with ``distractor_masks``, also a third
            ``(1, p, p)`` float32, 1 on the stamps that are no defect.
        """
        strip_index, (y, x) = self.locate(index)
        p = self.patch_size
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])  # augmentation's own stream
        if "jitter" in self.augment:
            y, x = jitter_corner((y, x), self.strip_shape, p, rng)
        patch = self.strip(strip_index)[:, y : y + p, x : x + p]
        if self.augment:
            patch = augment_patch(patch, self.augment, rng, self._clean_patch)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        result = synthesize_detailed(patch, rng, self.synthesis)
        image = result.patch * np.float32(1.0 / 255.0)
        item = (torch.from_numpy(image), torch.from_numpy(result.mask.astype(np.float32)[None]))
        if self.distractor_masks:
            item += (torch.from_numpy(result.distractor_mask().astype(np.float32)[None]),)
        return item


def make_validation_set(
    paths: Sequence[StrPath],
    patch: int | None = None,
    config: SynthesisConfig | None = None,
    seed: int = 0,
    *,
    max_patches: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Builds fixed synthetic patches from held-out strips, for the per-epoch validation pass.

    Used when a dataset has no ``valid/`` split: the same call always gives the same
    patches and defects (epoch 0 of a :class:`StripPatchDataset` with ``seed``), so
    validation losses are comparable across epochs and runs. Memory is
    ``N * 3 * p * p * 4`` bytes (~200 KB a patch at 128); ``max_patches`` bounds it.

    Args:
        paths: Held-out defect-free strips (not used for training).
        patch: Patch side; ``None`` for :func:`patch_size_for` of the strip size.
        config: Synthesis settings; ``None`` for the defaults.
        seed: Base seed of the patches' random streams.
        max_patches: Keep at most this many patches, evenly spread over the items.

    Returns:
        ``(x, mask)``: ``(N, 3, p, p)`` and ``(N, 1, p, p)`` float32, as the dataset's items.
    """
    dataset = StripPatchDataset(paths, patch, config, cache_size=1, seed=seed)  # items in strip order
    indices = np.arange(len(dataset))
    if max_patches is not None and max_patches < len(indices):
        indices = np.unique(np.linspace(0, len(dataset) - 1, num=max(max_patches, 1)).round().astype(int))
    items = [dataset[int(i)] for i in indices]
    return torch.stack([x for x, _ in items]), torch.stack([m for _, m in items])
