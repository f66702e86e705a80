"""Where square patches are cut from an image: evenly spaced, overlapping, flush with both ends.

The same positions serve training (every position of every strip is one item) and
inference tiling (the exported artifact records them), so both see a strip the
same way.
"""

from __future__ import annotations

import math

from defectkit.errors import InvalidArgumentError

__all__ = ["PATCH_SIZES", "STRIP_ASPECT", "patch_grid", "patch_size_for", "positions_along"]

# Patch side by image shape. Strips (976 x 176 by default) are cut into 128-px squares, which
# keep most of the narrow side in one patch; squarer images get 256-px squares for context.
PATCH_SIZES = {"strip": 128, "square": 256}
STRIP_ASPECT = 2.0  # an image at least this many times longer than wide (or wider than long) is a strip


def positions_along(
    length: int, patch: int, min_count: int = 1, *, min_overlap: int | None = None
) -> list[int]:
    """Returns evenly spaced patch start positions covering ``length``, first 0, last ``length - patch``.

    The count is the smallest that covers the length with neighbours overlapping by at
    least ``min_overlap`` pixels, ``ceil((length - min_overlap) / (patch - min_overlap))``,
    raised to ``min_count``, and capped at ``length - patch + 1`` (positions are distinct
    integers). Positions are ``round(i * (length - patch) / (count - 1))``, halves rounded
    up, so they are strictly increasing and spaced within one pixel of each other.

    The default overlap, ``patch // 8`` (16 px for 128), gives the seed tiling of a
    976-px strip: 9 patches of 128 every 106 px; without it (``min_overlap=0``) the count
    is ``ceil(length / patch)`` and neighbours may barely overlap (8 patches, ~7 px).
    Overlap gives stitching a margin where both neighbours saw context on either side.

    Args:
        length: Image extent along the axis, pixels.
        patch: Patch side, pixels.
        min_count: Fewest positions wanted (capped as above).
        min_overlap: Least overlap of neighbouring patches, pixels, in ``[0, patch)``;
            ``None`` for ``patch // 8``.

    Returns:
        Start positions, ascending; ``[0]`` when ``length == patch``.

    Raises:
        InvalidArgumentError: ``patch < 1``, ``length < patch``, ``min_count < 1`` or a
            ``min_overlap`` outside ``[0, patch)``.
    """
    if patch < 1 or min_count < 1:
        msg = f"positions_along needs patch >= 1 and min_count >= 1, got patch={patch}, min_count={min_count}"
        raise InvalidArgumentError(msg)
    if length < patch:
        msg = f"positions_along: length {length} is smaller than one patch ({patch})"
        raise InvalidArgumentError(msg)
    overlap = patch // 8 if min_overlap is None else min_overlap
    if not 0 <= overlap < patch:
        msg = f"positions_along needs 0 <= min_overlap < patch ({patch}), got {min_overlap}"
        raise InvalidArgumentError(msg)
    needed = math.ceil((length - overlap) / (patch - overlap))
    count = min(max(min_count, needed), length - patch + 1)
    if count == 1:
        return [0]
    span = length - patch
    # Integer arithmetic: floor(i * span / (count - 1) + 1/2) exactly, no float rounding surprises.
    return [(2 * i * span + (count - 1)) // (2 * (count - 1)) for i in range(count)]


def patch_grid(
    height: int,
    width: int,
    patch: int,
    min_count: tuple[int, int] = (1, 1),
    *,
    min_overlap: int | None = None,
) -> list[tuple[int, int]]:
    """Returns the ``(y, x)`` top-left corners of the patches tiling an image, row-major.

    Args:
        height: Image rows.
        width: Image columns.
        patch: Patch side.
        min_count: Fewest positions ``(along rows, along columns)``.
        min_overlap: As in :func:`positions_along`, for both axes.

    Raises:
        InvalidArgumentError: The image is smaller than one patch on either axis.
    """
    ys = positions_along(height, patch, min_count[0], min_overlap=min_overlap)
    xs = positions_along(width, patch, min_count[1], min_overlap=min_overlap)
    return [(y, x) for y in ys for x in xs]


def patch_size_for(height: int, width: int) -> int:
    """Returns the default patch side for an image of ``height x width``.

    Rule: an image whose long side is at least ``STRIP_ASPECT`` (2) times its short side
    is a strip and gets ``PATCH_SIZES["strip"]`` (128); any other gets
    ``PATCH_SIZES["square"]`` (256), unless its short side is under 256, when it gets 128
    too (a 300 x 176 crop cannot hold a 256 patch). An image under 128 holds no patch;
    callers check.

    Raises:
        InvalidArgumentError: ``height`` or ``width`` is not positive.
    """
    if height < 1 or width < 1:
        msg = f"patch_size_for needs a positive image size, got {height}x{width}"
        raise InvalidArgumentError(msg)
    is_strip = max(height, width) >= STRIP_ASPECT * min(height, width)
    if is_strip or min(height, width) < PATCH_SIZES["square"]:
        return PATCH_SIZES["strip"]
    return PATCH_SIZES["square"]
