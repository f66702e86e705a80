"""Reading and writing strip TIFFs with tifffile, per the strip data contract.

A strip holds three or four channels: target, ref1, ref2 and optionally a
production ROI mask. The channels are stored channels-first (planar
configuration *separate*, or one single-sample page per channel) or
channels-last (planar configuration *contig*); the TIFF tags decide which,
never the array's shape. Samples are uint8, uint16, float32 or float64;
compression is none, LZW, Deflate (both codes) or PackBits, with the
horizontal predictor for integers or the floating-point predictor for floats;
striped or tiled; either byte order; classic TIFF or BigTIFF.

:func:`read_strip_tifffile` is the reference implementation of the contract:
the native ``defectkit.read_strip`` (libtiff) must agree with it bit for bit.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import tifffile

from defectkit.errors import BadFileError, FileMissingError, InvalidArgumentError, UnsupportedFormatError

__all__ = ["read_strip_tifffile", "write_strip"]

StrPath = str | os.PathLike[str]

_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic LE/BE, BigTIFF LE/BE
_CLASSIC_HEADER_BYTES = 8
_BIGTIFF_HEADER_BYTES = 16

# TIFF Compression codes the contract accepts.
_COMPRESSIONS = {1: "none", 5: "LZW", 8: "AdobeDeflate", 32946: "Deflate", 32773: "PackBits"}
_PREDICTOR_NONE, _PREDICTOR_HORIZONTAL, _PREDICTOR_FLOAT = 1, 2, 3
_SAMPLE_UINT, _SAMPLE_INT, _SAMPLE_FLOAT = 1, 2, 3
_SAMPLE_KINDS = {1: "uint", 2: "int", 3: "float", 4: "void", 5: "complex-int", 6: "complex"}
_SUPPORTED_DTYPES = {(_SAMPLE_UINT, 8), (_SAMPLE_UINT, 16), (_SAMPLE_FLOAT, 32), (_SAMPLE_FLOAT, 64)}
_PLANAR_CONTIG, _PLANAR_SEPARATE = 1, 2
_PHOTOMETRIC_PALETTE, _PHOTOMETRIC_YCBCR = 3, 6

# uint16 strips are brought to the 0..255 scale by an IEEE float32 division by 257
# (65535 / 257 == 255 exactly); the native reader divides the same way.
_UINT16_DIVISOR = np.float32(257.0)

_MIN_CHANNELS, _MAX_CHANNELS = 3, 4


class _ThreadLogCapture(logging.Handler):
    """Collects warnings that tifffile logs from the current thread.

    tifffile reports some damage (an IFD chain pointing past the end of a
    truncated file, a missing offsets tag) by logging and carrying on with
    fewer pages; a strip reader must refuse such a file instead.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def _capture_tifffile_warnings() -> Iterator[_ThreadLogCapture]:
    logger = logging.getLogger("tifffile")
    handler = _ThreadLogCapture()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _check_header(path: StrPath, size: int) -> None:
    """Refuses empty files, non-TIFFs and files cut inside the header."""
    if size == 0:
        msg = f"{path}: empty file (0 bytes)"
        raise BadFileError(msg)
    with open(path, "rb") as fh:
        head = fh.read(_BIGTIFF_HEADER_BYTES)
    prefix = head[:4]
    if not any(magic.startswith(prefix) for magic in _TIFF_MAGICS):
        msg = f"{path}: not a TIFF file (starts with {head[:8]!r})"
        raise BadFileError(msg)
    needed = _BIGTIFF_HEADER_BYTES if prefix in _TIFF_MAGICS[2:] else _CLASSIC_HEADER_BYTES
    if size < needed:
        msg = f"{path}: truncated TIFF header ({size} bytes, a header needs {needed})"
        raise BadFileError(msg)


def _enum_name(enum: type, value: int) -> str:
    """Names a TIFF tag value (``"JPEG (7)"``), or just the number for values tifffile does not know."""
    try:
        return f"{enum(value).name} ({value})"
    except ValueError:
        return str(value)


def _check_page_format(path: StrPath, page: tifffile.TiffPage) -> None:
    """Refuses sample formats, codecs and predictors outside the contract."""
    sampleformat = int(page.sampleformat)
    bits = int(page.bitspersample)
    if (sampleformat, bits) not in _SUPPORTED_DTYPES:
        kind = _SAMPLE_KINDS.get(sampleformat, f"sampleformat-{sampleformat}-")
        msg = (
            f"{path}: unsupported sample format {kind}{bits}; "
            "a strip holds uint8, uint16, float32 or float64 samples"
        )
        raise UnsupportedFormatError(msg)
    compression = int(page.compression)
    if compression not in _COMPRESSIONS:
        msg = (
            f"{path}: unsupported compression {_enum_name(tifffile.COMPRESSION, compression)}; "
            "a strip is uncompressed, LZW, Deflate or PackBits"
        )
        raise UnsupportedFormatError(msg)
    predictor = int(page.predictor)
    allowed = _PREDICTOR_FLOAT if sampleformat == _SAMPLE_FLOAT else _PREDICTOR_HORIZONTAL
    if predictor not in (_PREDICTOR_NONE, allowed):
        msg = f"{path}: unsupported predictor {predictor} for {_SAMPLE_KINDS[sampleformat]}{bits} samples"
        raise UnsupportedFormatError(msg)
    if int(page.photometric) in (_PHOTOMETRIC_PALETTE, _PHOTOMETRIC_YCBCR):
        name = _enum_name(tifffile.PHOTOMETRIC, int(page.photometric))
        msg = f"{path}: unsupported photometric interpretation {name}"
        raise UnsupportedFormatError(msg)
    if page.imagedepth != 1:
        msg = f"{path}: unsupported volumetric page (ImageDepth {page.imagedepth})"
        raise UnsupportedFormatError(msg)
    if page.imagelength == 0 or page.imagewidth == 0:
        msg = f"{path}: zero-size image ({page.imagelength}x{page.imagewidth})"
        raise BadFileError(msg)


def _check_segments(path: StrPath, page: tifffile.TiffPage, file_size: int) -> None:
    """Refuses pages whose strips or tiles are missing or run past the end of the file."""
    offsets, counts = page.dataoffsets, page.databytecounts
    if not offsets or len(offsets) != len(counts):
        msg = (
            f"{path}: corrupt TIFF (page {page.index} has {len(offsets)} offsets, {len(counts)} byte counts)"
        )
        raise BadFileError(msg)
    for offset, count in zip(offsets, counts, strict=True):
        if count == 0:
            msg = f"{path}: corrupt TIFF (page {page.index} has an empty strip or tile)"
            raise BadFileError(msg)
        if offset + count > file_size:
            msg = (
                f"{path}: truncated file (page {page.index} data ends at byte {offset + count}, "
                f"the file has {file_size})"
            )
            raise BadFileError(msg)


def _channel_count(path: StrPath, pages: Sequence[tifffile.TiffPage]) -> int:
    """Returns the number of channels the tags describe, or refuses the layout."""
    first = pages[0]
    if len(pages) == 1:
        channels = int(first.samplesperpixel)
    else:
        if any(int(page.samplesperpixel) != 1 for page in pages):
            spp = sorted({int(page.samplesperpixel) for page in pages})
            msg = (
                f"{path}: {len(pages)} pages with {spp} samples per pixel; a strip is one page "
                "of 3-4 samples or 3-4 pages of one sample"
            )
            raise BadFileError(msg)
        shapes = {(page.imagelength, page.imagewidth, page.dtype) for page in pages}
        if len(shapes) != 1:
            msg = f"{path}: channel pages differ in size or sample type ({sorted(map(str, shapes))})"
            raise BadFileError(msg)
        channels = len(pages)
    if not _MIN_CHANNELS <= channels <= _MAX_CHANNELS:
        noun = "channel" if channels == 1 else "channels"
        msg = f"{path}: has {channels} {noun}; a strip needs 3 or 4 (target, ref1, ref2, optional ROI)"
        raise BadFileError(msg)
    return channels


# The native reader's bound (StripReaderOptions::max_values, 2^28 values = 1 GiB of float32): a
# header may declare any size, and a compressed page a few bytes long can declare gigabytes.
MAX_VALUES = 1 << 28


def _check_size(path: StrPath, pages: list[tifffile.TiffPage]) -> None:
    values = sum(int(p.imagelength) * int(p.imagewidth) * int(p.samplesperpixel) for p in pages)
    if values > MAX_VALUES:
        shape = f"{int(pages[0].imagewidth)} x {int(pages[0].imagelength)}"
        msg = f"{path}: the header asks for {values} values ({shape}), more than the limit of {MAX_VALUES}"
        raise BadFileError(msg)


def _page_planes(page: tifffile.TiffPage) -> np.ndarray:
    """Decodes one page into (S, H, W) planes in file channel order, per its PlanarConfiguration."""
    samples = int(page.samplesperpixel)
    height, width = int(page.imagelength), int(page.imagewidth)
    data = page.asarray()
    if samples == 1 or int(page.planarconfig) == _PLANAR_SEPARATE:
        return data.reshape(samples, height, width)
    if int(page.planarconfig) == _PLANAR_CONTIG:
        return data.reshape(height, width, samples).transpose(2, 0, 1)
    msg = f"invalid PlanarConfiguration {page.planarconfig}"
    raise tifffile.TiffFileError(msg)


def _to_strip_scale(path: StrPath, planes: np.ndarray) -> np.ndarray:
    """Converts raw samples to the float32 0..255 scale and refuses non-finite values."""
    if planes.dtype == np.uint16:
        strip = planes.astype(np.float32) / _UINT16_DIVISOR
    else:
        with np.errstate(over="ignore"):  # float64 beyond the float32 range becomes Inf, refused below
            strip = planes.astype(np.float32)  # uint8 as is; float64 rounded to nearest float32
    if not np.isfinite(strip).all():
        if np.isnan(strip).any():
            msg = f"{path}: contains NaN values"
        else:
            msg = f"{path}: contains Inf values (infinite, or beyond the float32 range)"
        raise BadFileError(msg)
    return np.ascontiguousarray(strip, dtype=np.float32)


def read_strip_tifffile(path: StrPath) -> np.ndarray:
    """Reads a strip TIFF into a channels-first float32 array, per the strip data contract.

    Args:
        path: The TIFF file.

    Returns:
        The strip as a C-contiguous float32 array of shape ``(C, H, W)``, ``C`` in {3, 4},
        channels in file order. uint8 samples are kept as they are, uint16 samples are
        divided by 257 (0..255 scale), float samples are kept as they are.

    Raises:
        FileMissingError: The file does not exist or cannot be opened.
        UnsupportedFormatError: A well-formed TIFF whose sample format (signed integers,
            uint32, float16, complex), codec, predictor or photometric the contract excludes.
        BadFileError: An empty, non-TIFF, truncated or corrupt file, a channel count other
            than 3 or 4, a zero-size image, more than ``MAX_VALUES`` values, or NaN/Inf values.
    """
    try:
        file_size = os.stat(path).st_size
        _check_header(path, file_size)
    except FileNotFoundError as exc:
        msg = f"{path}: file not found"
        raise FileMissingError(msg) from exc
    except OSError as exc:
        msg = f"{path}: cannot open file ({exc.strerror or exc})"
        raise FileMissingError(msg) from exc
    try:
        with _capture_tifffile_warnings() as log, tifffile.TiffFile(path) as tif:
            pages = list(tif.pages)
            if log.messages:
                msg = f"{path}: truncated or corrupt TIFF ({log.messages[0]})"
                raise BadFileError(msg)
            if not pages:
                msg = f"{path}: truncated or corrupt TIFF (no image pages)"
                raise BadFileError(msg)
            for page in pages:
                _check_page_format(path, page)
            _channel_count(path, pages)
            _check_size(path, pages)
            for page in pages:
                _check_segments(path, page, file_size)
            planes = np.concatenate([_page_planes(page) for page in pages])
            if log.messages:
                msg = f"{path}: truncated or corrupt TIFF ({log.messages[0]})"
                raise BadFileError(msg)
    except BadFileError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # tifffile, imagecodecs and struct raise many types on damaged input
        msg = f"{path}: truncated or corrupt TIFF ({type(exc).__name__}: {exc})"
        raise BadFileError(msg) from exc
    return _to_strip_scale(path, planes)


def write_strip(
    path: StrPath,
    strip: np.ndarray,
    *,
    compression: str | None = None,
    tile: tuple[int, int] | None = None,
    bigtiff: bool = False,
) -> Path:
    """Writes a strip in the production format: float32, channels-first (planar), one page.

    Args:
        path: Where to write; parent folders must exist.
        strip: Array of shape ``(C, H, W)``, ``C`` in {3, 4} (production strips carry the
            ROI mask as the fourth channel), on the 0..255 scale; cast to float32.
        compression: ``None`` (uncompressed, the production default), ``"lzw"``,
            ``"deflate"``, ``"adobe_deflate"`` or ``"packbits"``. LZW and Deflate use the
            floating-point predictor.
        tile: Tile ``(height, width)``, multiples of 16, or ``None`` for strips.
        bigtiff: Write BigTIFF instead of classic TIFF.

    Returns:
        The path written, as a :class:`~pathlib.Path`.

    Raises:
        InvalidArgumentError: ``strip`` is not ``(3|4, H, W)``, is empty or not finite.
    """
    data = np.asarray(strip)
    if data.ndim != 3 or not _MIN_CHANNELS <= data.shape[0] <= _MAX_CHANNELS or 0 in data.shape:
        msg = f"{path}: a strip must have shape (3 or 4, H, W), got {data.shape}"
        raise InvalidArgumentError(msg)
    data = np.ascontiguousarray(data, dtype=np.float32)
    if not np.isfinite(data).all():
        msg = f"{path}: a strip must not contain NaN or Inf"
        raise InvalidArgumentError(msg)
    predictor = compression in ("lzw", "deflate", "adobe_deflate")
    tifffile.imwrite(
        path,
        data,
        bigtiff=bigtiff,
        photometric="minisblack",
        planarconfig="separate",
        compression=compression,
        predictor=predictor or None,
        tile=tile,
        metadata=None,  # no tifffile JSON description: the tags say everything
    )
    return Path(path)
