"""Decoding the images and masks of a ``guided_classifier`` dataset.

Images arrive as PNG, JPEG or TIFF, grey or colour, with or without alpha, 8 or 16 bits;
:func:`read_image` turns every one into ``(H, W, 3)`` uint8 RGB, the one form the dataset
and the model see. OpenCV decodes PNG and JPEG (it gives BGR; the channels are put in RGB
order here); grey and RGB TIFFs go through tifffile, which keeps samples as stored (OpenCV
premultiplies unassociated alpha), and other TIFFs (palette, min-is-white, YCbCr, CMYK)
through OpenCV, which turns them into colours.

Everything else is refused with a defectkit error whose message starts with the path: a
missing file (:class:`FileMissingError`), an empty, truncated or corrupt one
(:class:`BadFileError`), a well-formed one of a kind not read here: float or signed samples,
more than 4 channels (:class:`UnsupportedFormatError`). Bad input never crashes.

EXIF orientation is not applied: pixels are used as stored, the same way masks are drawn.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from defectkit.errors import BadFileError, FileMissingError, InvalidArgumentError, UnsupportedFormatError

try:
    import cv2
except ImportError as exc:  # an optional dependency: the training extra brings it
    msg = "reading guided_classifier images needs OpenCV: pip install 'defectkit[train]'"
    raise ImportError(msg) from exc

__all__ = ["IMAGE_SUFFIXES", "MASK_THRESHOLD", "read_image", "read_mask"]

logger = logging.getLogger("defectkit")

StrPath = str | os.PathLike[str]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
MASK_THRESHOLD = 127  # a mask pixel above this (on the 8-bit scale) is defect
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_MAX_DECODED_BYTES = 1 << 31  # a TIFF header claiming more is taken for damage, not allocated
_TIFFFILE_PHOTOMETRICS = (1, 2)  # min-is-black, RGB: samples are the grey levels or colours
_JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG_START_OF_SCAN = b"\xff\xda"
_JPEG_END_OF_IMAGE = b"\xff\xd9"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing, unreadable, empty or non-regular file is refused."""
    try:
        if not path.exists():
            msg = f"{path}: file not found"
            raise FileMissingError(msg)
        if not path.is_file():
            msg = f"{path}: not a regular file"
            raise BadFileError(msg)
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot open file ({exc.strerror or exc})"
        raise FileMissingError(msg) from exc
    if not data:
        msg = f"{path}: empty file (0 bytes)"
        raise BadFileError(msg)
    return data


def _check_jpeg_complete(path: Path, data: bytes) -> None:
    """Refuses a JPEG cut short: libjpeg would pad it with grey and only warn.

    The end-of-image marker must follow the last start-of-scan marker (entropy-coded data
    never holds ``FF D9``: a literal ``FF`` is stuffed as ``FF 00``), so a thumbnail's own
    end marker earlier in the file does not count.
    """
    last_scan = data.rfind(_JPEG_START_OF_SCAN)
    if last_scan < 0 or data.find(_JPEG_END_OF_IMAGE, last_scan) < 0:
        msg = f"{path}: truncated or corrupt JPEG (no end-of-image marker after the last scan)"
        raise BadFileError(msg)


def _decode_tiff(path: Path, data: bytes) -> tuple[np.ndarray | None, str]:
    """First page of a grey or RGB TIFF through tifffile, channels last in RGB(A) order.

    tifffile gives samples exactly as stored, where OpenCV (libtiff's RGBA interface)
    premultiplies unassociated alpha into the colours. Other photometric interpretations
    (min-is-white, palette, YCbCr, CMYK) and codecs tifffile lacks are left to OpenCV, which
    converts them to colours: then the array is ``None`` and the string says why.

    Raises:
        BadFileError: No pages, data past the end of the file, an absurd size in the header.
    """
    import io

    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            if not tif.pages:
                msg = f"{path}: truncated or corrupt TIFF (no image pages)"
                raise BadFileError(msg)
            page = tif.pages[0]
            for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False):
                if offset + count > len(data):
                    end = offset + count
                    msg = f"{path}: truncated TIFF (data ends at byte {end}, the file has {len(data)})"
                    raise BadFileError(msg)
            itemsize = page.dtype.itemsize if page.dtype is not None else 1
            if int(np.prod(page.shape, dtype=np.float64)) * itemsize > _MAX_DECODED_BYTES:
                msg = f"{path}: corrupt TIFF (its header claims a {page.shape} image, too large to decode)"
                raise BadFileError(msg)
            if page.photometric not in _TIFFFILE_PHOTOMETRICS:
                return None, f"photometric {page.photometric!r}"
            array, axes = page.asarray(), page.axes
    except BadFileError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # tifffile and imagecodecs raise many types on damaged input
        return None, f"{type(exc).__name__}: {exc}"
    if axes.startswith("S") and array.ndim == 3:  # planar configuration: one plane per channel
        array = np.moveaxis(array, 0, -1)
    return array, ""


def _decode_opencv(path: Path, data: bytes) -> np.ndarray | None:
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        logger.debug("%s: OpenCV failed: %s", path, exc)
        return None


def _decode(path: StrPath) -> tuple[Path, np.ndarray, bool]:
    """Decodes a file as stored: ``(path, (H, W) or (H, W, C) array, channels are BGR)``."""
    path = Path(path)
    data = _read_bytes(path)
    if data[:4] in _TIFF_MAGICS:
        array, why_not = _decode_tiff(path, data)
        bgr = array is None
        if array is None:
            array = _decode_opencv(path, data)
        if array is None:
            msg = f"{path}: truncated, corrupt or unreadable TIFF ({why_not})"
            raise BadFileError(msg)
    else:
        if data.startswith(_JPEG_MAGIC):
            _check_jpeg_complete(path, data)
        array, bgr = _decode_opencv(path, data), True
        if array is None:
            msg = f"{path}: not a readable PNG, JPEG or TIFF image (truncated, corrupt or another format)"
            raise BadFileError(msg)
    if array.size == 0 or array.ndim not in (2, 3):
        msg = f"{path}: corrupt image (decoded to shape {array.shape})"
        raise BadFileError(msg)
    if array.ndim == 3 and array.shape[2] > 4:
        msg = f"{path}: {array.shape[2]} channels are not supported (grey, grey+alpha, RGB or RGBA only)"
        raise UnsupportedFormatError(msg)
    return path, array, bgr


def _to_uint8(path: Path, array: np.ndarray) -> np.ndarray:
    """8-bit samples as they are, 16-bit ones divided by 257 and rounded, bilevel ones to 0/255."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        # (x + 128) // 257 == round(x / 257) for every integer x (no ties: 257 is odd).
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    msg = f"{path}: {array.dtype} samples are not supported (8- or 16-bit unsigned integers only)"
    raise UnsupportedFormatError(msg)


def read_image(path: StrPath) -> np.ndarray:
    """Reads an image as RGB.

    Grey images are replicated to three channels, alpha is dropped, 16-bit samples are
    scaled to 8 bits (``/ 257``, rounded).

    Args:
        path: A PNG, JPEG or TIFF (BMP also decodes).

    Returns:
        ``(H, W, 3)`` uint8, RGB, C-contiguous.

    Raises:
        FileMissingError: The file does not exist or cannot be opened.
        BadFileError: An empty, truncated or corrupt file, or not an image.
        UnsupportedFormatError: Float or signed samples, or more than 4 channels.
    """
    path, array, bgr = _decode(path)
    array = _to_uint8(path, array)
    if array.ndim == 3 and array.shape[2] in (1, 2):  # grey, grey + alpha
        array = array[:, :, 0]
    if array.ndim == 2:
        return np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    colour = array[:, :, :3]
    if bgr:
        colour = colour[:, :, ::-1]
    return np.ascontiguousarray(colour)


def read_mask(path: StrPath, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Reads a defect mask at an image's size.

    Args:
        path: A PNG, TIFF or JPEG, grey or colour (8 or 16 bits); a pixel whose brightest
            colour channel exceeds :data:`MASK_THRESHOLD` on the 8-bit scale is defect
            (alpha is ignored).
        shape: The image's ``(H, W)`` or ``(H, W, C)``; the mask is resized to ``(H, W)``
            with nearest-neighbour sampling when its own size differs. ``None``: the mask's
            own size.

    Returns:
        ``(H, W)`` bool, True on defect pixels.

    Raises:
        InvalidArgumentError: ``shape`` is not ``(H, W)`` or ``(H, W, C)`` of positive sizes.
        FileMissingError: The mask does not exist or cannot be opened.
        BadFileError: The mask cannot be decoded.
        UnsupportedFormatError: Float or signed samples, or more than 4 channels.
    """
    if shape is not None and (len(shape) not in (2, 3) or min(shape[:2]) < 1):
        msg = f"{path}: read_mask needs the image shape as (H, W) or (H, W, C), got {tuple(shape)}"
        raise InvalidArgumentError(msg)
    path, array, _ = _decode(path)  # colour order does not matter: max over channels
    array = _to_uint8(path, array)
    if array.ndim == 3:
        colour_channels = 1 if array.shape[2] <= 2 else 3  # grey(+alpha) or colour(+alpha)
        array = array[:, :, :colour_channels].max(axis=2)
    mask = (array > MASK_THRESHOLD).astype(np.uint8)
    if shape is None:
        return mask.astype(bool)
    height, width = int(shape[0]), int(shape[1])
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return mask.astype(bool)
