"""Strip-level heatmaps from a patch model: cut tiles, run them in batches, stitch nearest-centre.

A strip (976 x 176 by default) is covered by 128 x 128 tiles whose starts come
from :func:`defectkit.models.reference_unet.data.tiling.positions_along` (evenly spaced, first at 0,
last flush with the edge), so neighbouring tiles overlap. Each output pixel is
taken whole from one tile, the one whose centre is nearest along each axis: no
averaging, hence no seams and no blurring of the model's output, and every
pixel comes from (to within a row) the tile in which it sits farthest from a
border, where the UNet's zero-padding matters least. The C++ runtime is to
apply the same rule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from defectkit.errors import InvalidArgumentError
from defectkit.models.reference_unet.data.tiling import positions_along

__all__ = [
    "heatmaps_for",
    "image_score",
    "nearest_centre_index",
    "sliding_window_heatmap",
    "stitch_nearest_centre",
]

logger = logging.getLogger("defectkit")


def nearest_centre_index(starts: Sequence[int], patch: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """For each output coordinate along one axis, the tile that owns it and the offset inside that tile.

    Row (or column) ``i`` belongs to the tile whose centre ``start + patch / 2`` is nearest to ``i``,
    i.e. the tile minimising ``|i - (start + patch / 2)|``; ties go to the earlier tile. (This is the
    rule the runtime shares; measuring from the pixel centre ``i + 0.5`` instead would move some
    boundaries by one row.)

    Args:
        starts: Tile starts along the axis, increasing.
        patch: Tile size along the axis.
        length: Output length along the axis.

    Returns:
        ``(tile, offset)``: two (length,) int64 arrays; ``starts[tile[i]] + offset[i] == i``.

    Raises:
        InvalidArgumentError: if the tiles do not cover ``[0, length)``.
    """
    starts_arr = np.asarray(starts, dtype=np.int64)
    if starts_arr.ndim != 1 or starts_arr.size == 0:
        msg = f"tile starts must be a non-empty 1-D sequence, got {starts!r}"
        raise InvalidArgumentError(msg)
    # Compare doubled coordinates so every quantity is an integer and ties are exact.
    doubled_rows = 2 * np.arange(length, dtype=np.int64)  # (length,)
    doubled_centres = 2 * starts_arr + patch  # (T,)
    distance = np.abs(doubled_rows[:, None] - doubled_centres[None, :])  # (length, T)
    tile = np.argmin(distance, axis=1)  # argmin takes the first minimum: ties go to the earlier tile
    offset = np.arange(length, dtype=np.int64) - starts_arr[tile]
    if length and (offset.min() < 0 or offset.max() >= patch):
        msg = f"tiles at {starts_arr.tolist()} of size {patch} do not cover length {length}"
        raise InvalidArgumentError(msg)
    return tile, offset


def stitch_nearest_centre(
    tiles: np.ndarray | torch.Tensor, ys: Sequence[int], xs: Sequence[int], height: int, width: int
) -> np.ndarray:
    """Assembles tiles into one map, each pixel from the tile whose centre is nearest (per axis).

    Args:
        tiles: (T, 1, p, p) or (T, p, p) with ``T = len(ys) * len(xs)``, in row-major order:
            tile ``k`` sits at ``(ys[k // len(xs)], xs[k % len(xs)])``.
        ys: Tile starts along the height.
        xs: Tile starts along the width.
        height: Output height H.
        width: Output width W.

    Returns:
        (H, W) array of the tiles' dtype (float32 for torch input).

    Raises:
        InvalidArgumentError: on a tile count or shape that does not match, or tiles that leave gaps.
    """
    if isinstance(tiles, torch.Tensor):
        tiles = tiles.detach().cpu().numpy()
    tiles = np.asarray(tiles)
    if tiles.ndim == 4 and tiles.shape[1] == 1:
        tiles = tiles[:, 0]
    if tiles.ndim != 3 or tiles.shape[0] != len(ys) * len(xs):
        msg = f"expected tiles (T, 1, p, p) or (T, p, p) with T = {len(ys)} x {len(xs)}, got {tiles.shape}"
        raise InvalidArgumentError(msg)
    patch_h, patch_w = tiles.shape[1:]
    row_tile, row_offset = nearest_centre_index(ys, patch_h, height)  # (H,), (H,)
    col_tile, col_offset = nearest_centre_index(xs, patch_w, width)  # (W,), (W,)
    tile_index = row_tile[:, None] * len(xs) + col_tile[None, :]  # (H, W)
    return tiles[tile_index, row_offset[:, None], col_offset[None, :]]  # (H, W)


def _as_strip_tensor(strip: np.ndarray | torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(strip)
    if tensor.ndim != 3:
        msg = f"expected a strip (C, H, W), got shape {tuple(tensor.shape)}"
        raise InvalidArgumentError(msg)
    return tensor.to(torch.float32)


def sliding_window_heatmap(
    model: torch.nn.Module,
    strip: np.ndarray | torch.Tensor,
    patch: int = 128,
    min_count: tuple[int, int] = (1, 1),
    batch_size: int = 32,
) -> np.ndarray:
    """Runs a patch model over a whole strip and returns its defect-probability heatmap.

    Args:
        model: Has ``defect_probability(x: (B, C, p, p)) -> (B, 1, p, p)``; used as is (call
            ``model.eval()`` first). Runs on the device of its parameters.
        strip: (C, H, W) float32 in [0, 1] (numpy or torch), H and W at least ``patch``.
        patch: Tile size p.
        min_count: Minimum number of tiles along (H, W), passed to ``positions_along``.
        batch_size: Tiles per forward.

    Returns:
        (H, W) float32 defect probability.

    Raises:
        InvalidArgumentError: if the strip is not 3-D or smaller than one patch.
    """
    tensor = _as_strip_tensor(strip)
    _, height, width = tensor.shape
    if height < patch or width < patch:
        msg = f"strip of shape {tuple(tensor.shape)} is smaller than one {patch} x {patch} patch"
        raise InvalidArgumentError(msg)
    ys = positions_along(height, patch, min_count[0])
    xs = positions_along(width, patch, min_count[1])
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")

    tiles = torch.stack([tensor[:, y : y + patch, x : x + patch] for y in ys for x in xs])  # (T, C, p, p)
    outputs = []
    with torch.inference_mode():
        for begin in range(0, tiles.shape[0], batch_size):
            batch = tiles[begin : begin + batch_size].to(device)  # (B, C, p, p)
            outputs.append(model.defect_probability(batch).float().cpu())  # (B, 1, p, p)
    probabilities = torch.cat(outputs).numpy()  # (T, 1, p, p)
    return stitch_nearest_centre(probabilities, ys, xs, height, width)  # (H, W)


def heatmaps_for(
    model: torch.nn.Module,
    strips: Iterable[np.ndarray | torch.Tensor],
    progress: bool = True,
    **kwargs: Any,
) -> list[np.ndarray]:
    """Heatmaps for many strips, with a progress bar.

    Args:
        model: As for :func:`sliding_window_heatmap`.
        strips: Iterable of (C, H, W) strips; sizes may differ.
        progress: Show a tqdm bar.
        **kwargs: ``patch``, ``min_count``, ``batch_size`` for :func:`sliding_window_heatmap`.

    Returns:
        One (H, W) float32 heatmap per strip, in order.
    """
    total = len(strips) if hasattr(strips, "__len__") else None
    return [
        sliding_window_heatmap(model, strip, **kwargs)
        for strip in tqdm(strips, total=total, desc="heatmaps", unit="strip", disable=not progress)
    ]


_BORDERS = {"reflect": cv2.BORDER_REFLECT, "zeros": cv2.BORDER_CONSTANT}


def image_score(heatmap: np.ndarray | torch.Tensor, box: int = 3, border: str = "reflect") -> float:
    """Image-level defect score: the maximum of the heatmap after a ``box`` x ``box`` mean filter.

    DRAEM scores an image the same way with a 21 x 21 box (average pooling, stride 1, then the
    maximum): the mean filter makes one hot pixel count for little and a defect-sized blob for a
    lot. The default here is 3: on the demo strips, whose defects are often a few pixels wide
    (pits, clusters, thin scratches), a 21 x 21 box dilutes them into the background and boxes
    1-5 ranked the test strips better than 9-21 in every run measured; pass ``box=21`` for DRAEM's.

    Args:
        heatmap: (H, W) defect probability.
        box: Odd side of the mean filter; 1 gives the plain maximum.
        border: ``"reflect"`` mirrors the heatmap at its edges (``cv2.BORDER_REFLECT``: a defect on
            the edge of the strip is not diluted); ``"zeros"`` pads with zeros and still divides by
            ``box * box``, exactly DRAEM's ``avg_pool2d(..., padding=box // 2)``.

    Returns:
        The score, in [0, 1] for a probability heatmap.

    Raises:
        InvalidArgumentError: on a non-2-D heatmap, an even or non-positive box, or an unknown border.
    """
    if isinstance(heatmap, torch.Tensor):
        heatmap = heatmap.detach().cpu().numpy()
    array = np.asarray(heatmap, dtype=np.float32)
    if array.ndim != 2 or array.size == 0:
        msg = f"expected a non-empty heatmap (H, W), got shape {array.shape}"
        raise InvalidArgumentError(msg)
    if box < 1 or box % 2 == 0:
        msg = f"box must be a positive odd number, got {box}"
        raise InvalidArgumentError(msg)
    if border not in _BORDERS:
        msg = f"unknown border {border!r}; expected one of {sorted(_BORDERS)}"
        raise InvalidArgumentError(msg)
    smoothed = cv2.blur(array, (box, box), borderType=_BORDERS[border])  # (H, W)
    return float(smoothed.max())
