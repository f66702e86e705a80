"""A corpus of strip TIFFs for testing strip readers against the strip data contract.

``write_good_corpus`` writes one small file per encoding the contract accepts
(every dtype x layout x codec x striped/tiled x byte order, with channel
count, BigTIFF, odd sizes, rows per strip and photometric varied across them)
and returns the exact ``(C, H, W)`` float32 array a conforming reader must
return. ``write_bad_corpus`` writes files the contract refuses, with the
exception class and a message fragment the reference reader produces.

The case lists are plain data (``GOOD_CASES``, ``BAD_CASES``) so tests can
parametrize over them at collection time; writing is deterministic.
"""

from __future__ import annotations

import itertools
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from defectkit.errors import BadFileError, Error, UnsupportedFormatError

__all__ = [
    "BAD_CASES",
    "GOOD_CASES",
    "BadCase",
    "GoodCase",
    "expected_strip",
    "write_bad_corpus",
    "write_good_case",
    "write_good_corpus",
]

DTYPES = ("uint8", "uint16", "float32", "float64")
LAYOUTS = ("planar", "contig", "pages")
# (label, tifffile compression, predictor): predictors only with the codecs libtiff applies them to.
CODECS = (
    ("none", None, False),
    ("lzw", "lzw", False),
    ("lzw-pred", "lzw", True),
    ("deflate", "deflate", False),  # Compression 32946
    ("deflate-pred", "deflate", True),
    ("adobe_deflate", "adobe_deflate", False),  # Compression 8
    ("adobe_deflate-pred", "adobe_deflate", True),
    ("packbits", "packbits", False),
)
SIZES = ((40, 60), (37, 53), (33, 70), (1, 21), (19, 1))
TILES = ((16, 16), (32, 16), (16, 48))


@dataclass(frozen=True)
class GoodCase:
    """One conforming encoding: how to write it. ``predictor`` picks the dtype's own predictor."""

    name: str
    dtype: str
    layout: str
    compression: str | None
    predictor: bool
    tile: tuple[int, int] | None
    byteorder: str  # "<" or ">"
    bigtiff: bool
    channels: int
    size: tuple[int, int]
    rowsperstrip: int | None
    photometric: str


def _good_cases() -> list[GoodCase]:
    # The full product of the main axes; the secondary axes are drawn from a fixed-seed
    # generator so that, over 384 cases, each meets every main axis many times.
    rng = np.random.default_rng(20240611)
    cases = []
    axes = itertools.product(DTYPES, LAYOUTS, CODECS, (False, True), ("<", ">"))
    for index, (dtype, layout, (label, compression, predictor), tiled, byteorder) in enumerate(axes):
        channels = int(rng.choice((3, 4)))
        bigtiff = bool(rng.random() < 0.3)
        size = SIZES[0] if rng.random() < 0.5 else SIZES[int(rng.integers(1, len(SIZES)))]
        tile = TILES[int(rng.integers(len(TILES)))] if tiled else None
        rowsperstrip = None if tiled else (None, 1, 7)[int(rng.integers(3))]
        photometric = "minisblack" if layout == "pages" or rng.random() < 0.5 else "rgb"
        name = "_".join(
            (
                f"{index:03d}",
                dtype,
                layout,
                label,
                "tiled" if tiled else "striped",
                "be" if byteorder == ">" else "le",
                "bigtiff" if bigtiff else "classic",
                f"c{channels}",
                f"{size[0]}x{size[1]}",
            )
        )
        cases.append(
            GoodCase(
                name=name,
                dtype=dtype,
                layout=layout,
                compression=compression,
                predictor=predictor,
                tile=tile,
                byteorder=byteorder,
                bigtiff=bigtiff,
                channels=channels,
                size=size,
                rowsperstrip=rowsperstrip,
                photometric=photometric,
            )
        )
    return cases


GOOD_CASES: list[GoodCase] = _good_cases()


def _raw_values(dtype: str, channels: int, size: tuple[int, int], seed: int) -> np.ndarray:
    """Deterministic (C, H, W) samples: a gradient with noise, plus the dtype's edge values."""
    rng = np.random.default_rng(seed)
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width]
    ramp = (yy * 3.7 + xx * 1.3)[None] + rng.normal(0, 20, (channels, height, width))
    if dtype in ("uint8", "uint16"):
        top = np.iinfo(dtype).max
        values = np.mod(ramp * (top / 255.0), top + 1).astype(dtype)
        edges = [0, top, 1, top - 1, top // 2 + 1] + ([257, 65279] if dtype == "uint16" else [])
    else:
        values = (ramp * 1.2345 - 10.0).astype(dtype)  # negative and above 255 on purpose
        edges = [12.345, 0.0, -0.0, 255.0, 254.99998, -3.5, 300.25, 1.0e-40, 1.0 / 3.0, 0.1]
        if dtype == "float64":
            edges += [1.0 + 2.0**-24, 1.0e-300, 3.0e38, -123456.789012345]  # rounding-to-float32 cases
    flat = values.reshape(-1)
    flat[: len(edges)] = np.asarray(edges[: flat.size], dtype=dtype)
    return values


def expected_strip(raw: np.ndarray) -> np.ndarray:
    """The array a conforming reader returns for raw (C, H, W) samples."""
    if raw.dtype == np.uint16:
        return raw.astype(np.float32) / np.float32(257.0)
    return raw.astype(np.float32)


def write_good_case(directory: Path, case: GoodCase) -> tuple[Path, np.ndarray]:
    """Writes one conforming file; returns its path and the expected (C, H, W) float32 array."""
    seed = GOOD_CASES.index(case) if case in GOOD_CASES else 0
    raw = _raw_values(case.dtype, case.channels, case.size, seed)
    path = Path(directory) / f"{case.name}.tif"
    options = {
        "compression": case.compression,
        "predictor": True if case.predictor else None,
        "tile": case.tile,
        "rowsperstrip": case.rowsperstrip,
        "metadata": None,
    }
    with tifffile.TiffWriter(path, bigtiff=case.bigtiff, byteorder=case.byteorder) as tif:
        if case.layout == "planar":
            tif.write(raw, photometric=case.photometric, planarconfig="separate", **options)
        elif case.layout == "contig":
            tif.write(raw.transpose(1, 2, 0), photometric=case.photometric, planarconfig="contig", **options)
        else:
            for plane in raw:
                tif.write(plane, photometric="minisblack", **options)
    return path, expected_strip(raw)


def write_good_corpus(directory: Path) -> list[tuple[Path, np.ndarray]]:
    """Writes every conforming case into ``directory``; returns (path, expected array) pairs."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    return [write_good_case(directory, case) for case in GOOD_CASES]


# --- files the contract refuses ------------------------------------------------------------------


def _strip(dtype: str = "float32", channels: int = 3, size: tuple[int, int] = (40, 60)) -> np.ndarray:
    raw = _raw_values("float32", channels, size, seed=7)
    if dtype.startswith(("int", "uint")):
        return np.clip(raw, 0, 120).astype(dtype)
    return raw.astype(dtype)


def _imwrite(path: Path, data: np.ndarray, **options: object) -> None:
    options = {"photometric": "minisblack", "metadata": None, **options}
    tifffile.imwrite(path, data, **options)


def _write_pages(path: Path, planes: list[np.ndarray], **options: object) -> None:
    with tifffile.TiffWriter(path) as tif:
        for plane in planes:
            tif.write(plane, photometric="minisblack", metadata=None, **options)


def _cut(path: Path, keep: Callable[[int], int]) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: keep(len(data))])


def _set_classic_tag(path: Path, tag: int, value: int) -> None:
    """Overwrites a SHORT/LONG tag value in the first IFD of a little-endian classic TIFF."""
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        code, kind = struct.unpack_from("<HH", data, entry)
        if code == tag:
            struct.pack_into("<H" if kind == 3 else "<I", data, entry + 8, value)
            path.write_bytes(bytes(data))
            return
    msg = f"tag {tag} not found in {path}"
    raise KeyError(msg)


def _with_value(value: float, *, channel: int = 0, dtype: str = "float32") -> np.ndarray:
    data = _strip(dtype)
    data[channel, 20, 30] = value
    return data


def _write_jpeg(path: Path) -> None:
    _imwrite(path, _strip("uint8").transpose(1, 2, 0), photometric="rgb", compression="jpeg")


def _write_zero_height(path: Path) -> None:
    _imwrite(path, _strip("uint8", size=(8, 8)), planarconfig="separate")
    _set_classic_tag(path, 257, 0)  # ImageLength


def _write_multi_sample_pages(path: Path) -> None:
    with tifffile.TiffWriter(path) as tif:
        for _ in range(2):
            tif.write(_strip(), photometric="minisblack", planarconfig="separate", metadata=None)


def _write_compressed_then_cut(path: Path, *, layout: str, keep: Callable[[int], int]) -> None:
    if layout == "pages":
        _write_pages(path, list(_strip()), compression="lzw", predictor=True)
    else:
        _imwrite(path, _strip(), planarconfig="separate", compression="deflate", predictor=True)
    _cut(path, keep)


@dataclass(frozen=True)
class BadCase:
    """One refused file: how to write it, the exception class and a message fragment."""

    name: str
    error: type[Error]
    message: str
    write: Callable[[Path], None]


BAD_CASES: list[BadCase] = [
    BadCase("not_a_tiff_png", BadFileError, "not a TIFF",
            lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))),
    BadCase("not_a_tiff_text", BadFileError, "not a TIFF",
            lambda p: p.write_bytes(b"target,ref1,ref2\n1,2,3\n")),
    BadCase("empty", BadFileError, "empty", lambda p: p.write_bytes(b"")),
    BadCase("truncated_half_planar_deflate", BadFileError, "truncated",
            lambda p: _write_compressed_then_cut(p, layout="planar", keep=lambda n: n // 2)),
    BadCase("truncated_half_pages_lzw", BadFileError, "truncated",
            lambda p: _write_compressed_then_cut(p, layout="pages", keep=lambda n: n // 2)),
    BadCase("truncated_last_byte", BadFileError, "truncated",
            lambda p: _write_compressed_then_cut(p, layout="planar", keep=lambda n: n - 1)),
    BadCase("truncated_in_header", BadFileError, "truncated",
            lambda p: _write_compressed_then_cut(p, layout="planar", keep=lambda n: 5)),
    BadCase("truncated_in_bigtiff_header", BadFileError, "truncated",
            lambda p: (_imwrite(p, _strip(), planarconfig="separate", bigtiff=True), _cut(p, lambda n: 12))),
    BadCase("truncated_in_ifd", BadFileError, "truncated",
            lambda p: _write_compressed_then_cut(p, layout="planar", keep=lambda n: 20)),
    BadCase("channels_1", BadFileError, "has 1 channel", lambda p: _imwrite(p, _strip()[0])),
    BadCase("channels_2_contig", BadFileError, "has 2 channels",
            lambda p: _imwrite(p, _strip(channels=2).transpose(1, 2, 0), planarconfig="contig")),
    BadCase("channels_2_planar", BadFileError, "has 2 channels",
            lambda p: _imwrite(p, _strip(channels=2), planarconfig="separate")),
    BadCase("channels_2_pages", BadFileError, "has 2 channels",
            lambda p: _write_pages(p, list(_strip()[:2]))),
    BadCase("channels_5_planar", BadFileError, "has 5 channels",
            lambda p: _imwrite(p, _strip(channels=5), planarconfig="separate")),
    BadCase("channels_5_contig_uint8", BadFileError, "has 5 channels",
            lambda p: _imwrite(p, _strip("uint8", channels=5).transpose(1, 2, 0), planarconfig="contig")),
    BadCase("channels_5_pages", BadFileError, "has 5 channels",
            lambda p: _write_pages(p, list(_strip(channels=5)))),
    BadCase("pages_of_3_samples", BadFileError, "pages", _write_multi_sample_pages),
    BadCase("pages_differ_in_size", BadFileError, "differ",
            lambda p: _write_pages(p, [*_strip()[:2], _strip(size=(40, 61))[2]])),
    BadCase("pages_differ_in_dtype", BadFileError, "differ",
            lambda p: _write_pages(p, [*_strip()[:2], _strip("float64")[2]])),
    BadCase("zero_height", BadFileError, "zero-size", _write_zero_height),
    BadCase("nan_float32", BadFileError, "NaN",
            lambda p: _imwrite(p, _with_value(np.nan), planarconfig="separate")),
    BadCase("nan_in_roi_channel", BadFileError, "NaN",
            lambda p: _imwrite(p, np.concatenate([_strip(), _with_value(np.nan)[:1]]),
                               planarconfig="separate")),
    BadCase("pos_inf_float64", BadFileError, "Inf",
            lambda p: _imwrite(p, _with_value(np.inf, channel=2, dtype="float64"), planarconfig="separate")),
    BadCase("neg_inf_float32_contig", BadFileError, "Inf",
            lambda p: _imwrite(p, _with_value(-np.inf, channel=1).transpose(1, 2, 0), planarconfig="contig")),
    BadCase("float64_beyond_float32_range", BadFileError, "Inf",
            lambda p: _imwrite(p, _with_value(1e39, dtype="float64"), planarconfig="separate")),
    BadCase("int8", UnsupportedFormatError, "int8",
            lambda p: _imwrite(p, _strip("int8"), planarconfig="separate")),
    BadCase("int16", UnsupportedFormatError, "int16",
            lambda p: _imwrite(p, _strip("int16"), planarconfig="separate")),
    BadCase("int16_pages", UnsupportedFormatError, "int16", lambda p: _write_pages(p, list(_strip("int16")))),
    BadCase("uint32", UnsupportedFormatError, "uint32",
            lambda p: _imwrite(p, _strip("uint32"), planarconfig="separate")),
    BadCase("float16", UnsupportedFormatError, "float16",
            lambda p: _imwrite(p, _strip("float16"), planarconfig="separate")),
    BadCase("complex64", UnsupportedFormatError, "complex64",
            lambda p: _imwrite(p, _strip("complex64"), planarconfig="separate")),
    BadCase("jpeg_compressed", UnsupportedFormatError, "compression", _write_jpeg),
]  # fmt: skip


def write_bad_case(directory: Path, case: BadCase) -> Path:
    """Writes one refused file; returns its path."""
    path = Path(directory) / f"{case.name}.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tifffile warns about some of the oddities on purpose
        case.write(path)
    return path


def write_bad_corpus(directory: Path) -> list[tuple[Path, type[Error], str]]:
    """Writes every refused case into ``directory``; returns (path, exception class, fragment)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    return [(write_bad_case(directory, case), case.error, case.message) for case in BAD_CASES]
