"""read_image and read_mask: any image to RGB uint8, masks at the image's size, bad files refused."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from defectkit.errors import (
    BadFileError,
    Error,
    FileMissingError,
    InvalidArgumentError,
    UnsupportedFormatError,
)
from defectkit.models.guided_classifier.data.images import read_image, read_mask

_RNG = np.random.default_rng(7)
RGB8 = _RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
GREY8 = _RNG.integers(0, 256, (20, 30), dtype=np.uint8)
ALPHA8 = _RNG.integers(0, 256, (20, 30), dtype=np.uint8)
RGB16 = _RNG.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
GREY16 = _RNG.integers(0, 65536, (20, 30), dtype=np.uint16)


def _as8(values: np.ndarray) -> np.ndarray:
    return np.round(values / 257.0).astype(np.uint8)


def _grey3(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[:, :, None], 3, axis=2)


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _cv2_writer(array: np.ndarray) -> Callable[[Path], None]:
    return lambda path: cv2.imwrite(str(path), array)


def _tiff_writer(array: np.ndarray, **options) -> Callable[[Path], None]:
    return lambda path: tifffile.imwrite(path, array, **options)


PALETTE_RGB = np.array([[0, 0, 0], [255, 0, 0], [0, 128, 255], [10, 20, 30]], np.uint8)
PALETTE = np.zeros((3, 256), np.uint16)  # TIFF colormaps are 16-bit, one row per colour channel
PALETTE[:, :4] = PALETTE_RGB.T.astype(np.uint16) * 257

# name -> (file name, writer, the RGB uint8 read_image must return)
GOOD_CASES = {
    "png_rgb8": ("a.png", _cv2_writer(_bgr(RGB8)), RGB8),
    "png_grey8": ("a.png", _cv2_writer(GREY8), _grey3(GREY8)),
    "png_rgba8": ("a.png", _cv2_writer(np.dstack([_bgr(RGB8), ALPHA8])), RGB8),
    "png_rgb16": ("a.png", _cv2_writer(_bgr(RGB16)), _as8(RGB16)),
    "png_grey16": ("a.png", _cv2_writer(GREY16), _grey3(_as8(GREY16))),
    "png_rgba16": ("a.png", _cv2_writer(np.dstack([_bgr(RGB16), GREY16])), _as8(RGB16)),
    "bmp_rgb8": ("a.bmp", _cv2_writer(_bgr(RGB8)), RGB8),
    "tif_rgb8": ("a.tif", _tiff_writer(RGB8, photometric="rgb"), RGB8),
    "tif_rgb8_planar": (
        "a.tiff",
        _tiff_writer(RGB8.transpose(2, 0, 1).copy(), photometric="rgb", planarconfig="separate"),
        RGB8,
    ),
    "tif_rgb8_lzw": ("a.tif", _tiff_writer(RGB8, photometric="rgb", compression="lzw"), RGB8),
    "tif_rgba8": (
        "a.tif",
        _tiff_writer(np.dstack([RGB8, ALPHA8]), photometric="rgb", extrasamples=["unassalpha"]),
        RGB8,
    ),
    "tif_grey8": ("a.tif", _tiff_writer(GREY8, photometric="minisblack"), _grey3(GREY8)),
    "tif_grey_alpha8": (
        "a.tif",
        _tiff_writer(np.dstack([GREY8, ALPHA8]), photometric="minisblack", extrasamples=["unassalpha"]),
        _grey3(GREY8),
    ),
    "tif_grey16": ("a.tif", _tiff_writer(GREY16, photometric="minisblack"), _grey3(_as8(GREY16))),
    "tif_rgb16": ("a.tif", _tiff_writer(RGB16, photometric="rgb"), _as8(RGB16)),
    "tif_rgb16_big_endian": ("a.tif", _tiff_writer(RGB16, photometric="rgb", byteorder=">"), _as8(RGB16)),
    "tif_rgb16_zstd": (
        "a.tif",
        _tiff_writer(RGB16, photometric="rgb", compression="zstd"),
        _as8(RGB16),
    ),  # not in OpenCV
    "tif_bigtiff": ("a.tif", _tiff_writer(RGB8, photometric="rgb", bigtiff=True), RGB8),
    "tif_bilevel": (
        "a.tif",
        _tiff_writer(GREY8 > 127, photometric="minisblack"),
        _grey3((GREY8 > 127).astype(np.uint8) * 255),
    ),
    # photometric interpretations that need converting go through OpenCV (libtiff)
    "tif_min_is_white": ("a.tif", _tiff_writer(GREY8, photometric="miniswhite"), _grey3(255 - GREY8)),
    "tif_palette": (
        "a.tif",
        _tiff_writer(GREY8 % 4, photometric="palette", colormap=PALETTE),
        PALETTE_RGB[GREY8 % 4],
    ),
}


@pytest.mark.parametrize("case", sorted(GOOD_CASES))
def test_every_kind_of_image_reads_as_rgb_uint8(tmp_path: Path, case: str) -> None:
    name, write, expected = GOOD_CASES[case]
    path = tmp_path / name
    write(path)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (20, 30, 3) and image.flags.c_contiguous
    np.testing.assert_array_equal(image, expected)


def test_sixteen_bit_samples_are_divided_by_257_and_rounded(tmp_path: Path) -> None:
    values = np.array([[0, 128, 129, 385, 386, 65535, 65407, 65406]], np.uint16)  # round(x / 257) edges
    cv2.imwrite(str(tmp_path / "edges.png"), values)
    np.testing.assert_array_equal(read_image(tmp_path / "edges.png")[0, :, 0], [0, 0, 1, 1, 2, 255, 255, 254])


@pytest.mark.parametrize("grey", [False, True])
def test_jpeg_reads_as_rgb_close_to_what_was_written(tmp_path: Path, grey: bool) -> None:
    smooth = cv2.GaussianBlur(RGB8, (0, 0), 3)  # JPEG keeps smooth images close
    source = cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY) if grey else smooth
    cv2.imwrite(str(tmp_path / "a.jpg"), source if grey else _bgr(source), [cv2.IMWRITE_JPEG_QUALITY, 98])
    image = read_image(tmp_path / "a.jpg")
    expected = _grey3(source) if grey else source
    assert image.shape == (20, 30, 3)
    assert np.abs(image.astype(int) - expected).mean() < 3  # RGB, not BGR: that would differ by far more
    if grey:
        assert (image[:, :, 0] == image[:, :, 1]).all() and (image[:, :, 1] == image[:, :, 2]).all()


def _encoded(suffix: str) -> bytes:
    ok, data = cv2.imencode(suffix, _bgr(RGB8))
    assert ok
    return data.tobytes()


def _tiff_bytes(array: np.ndarray, **options) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.tif"
        tifffile.imwrite(path, array, **options)
        return path.read_bytes()


# name -> (file name, content, error class, what the message says after the path)
BAD_CASES = {
    "empty": ("a.png", b"", BadFileError, "empty file"),
    "text": ("a.png", b"name,label\nfoo.png,1\n", BadFileError, "not a readable PNG, JPEG or TIFF"),
    "garbage": ("a.jpg", bytes(range(256)) * 4, BadFileError, "not a readable"),
    "png_truncated": ("a.png", _encoded(".png")[:-200], BadFileError, "not a readable"),
    "png_header_only": ("a.png", _encoded(".png")[:40], BadFileError, "not a readable"),
    "jpeg_truncated": ("a.jpg", _encoded(".jpg")[: len(_encoded(".jpg")) // 2], BadFileError, "JPEG"),
    "jpeg_without_end_marker": ("a.jpg", _encoded(".jpg")[:-2], BadFileError, "no end-of-image marker"),
    "tiff_truncated": ("a.tif", _tiff_bytes(RGB8, photometric="rgb")[:1000], BadFileError, "TIFF"),
    "tiff_header_only": ("a.tif", b"II*\x00\x08\x00\x00\x00", BadFileError, "TIFF"),
    "tiff_float32": (
        "a.tif",
        _tiff_bytes(RGB8.astype(np.float32), photometric="rgb"),
        UnsupportedFormatError,
        "float32 samples",
    ),
    "tiff_int16": ("a.tif", _tiff_bytes(GREY16.astype(np.int16)), UnsupportedFormatError, "int16 samples"),
    "tiff_five_channels": (
        "a.tif",
        _tiff_bytes(np.dstack([RGB8, RGB8[:, :, :2]]), photometric="minisblack", planarconfig="contig"),
        UnsupportedFormatError,
        "5 channels",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_files_are_refused_with_the_path_first(tmp_path: Path, case: str) -> None:
    name, content, error, message = BAD_CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    for read in (read_image, lambda p: read_mask(p, (20, 30))):
        with pytest.raises(error, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
            read(path)


def test_missing_files_and_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError, match=re.escape(f"{tmp_path / 'no.png'}: file not found")):
        read_image(tmp_path / "no.png")
    with pytest.raises(BadFileError, match=re.escape(f"{tmp_path}: not a regular file")):
        read_image(tmp_path)


_SEEDS = {suffix: _encoded(suffix) for suffix in (".png", ".jpg")} | {
    ".tif": _tiff_bytes(RGB8, photometric="rgb")
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    suffix=st.sampled_from(sorted(_SEEDS)),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=4),
)
def test_damaged_files_never_crash(suffix: str, cut: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(_SEEDS[suffix])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    data = data[: max(1, int(cut * len(data)))] if cut < 1.0 else data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{suffix}"
        path.write_bytes(bytes(data))
        try:
            image = read_image(path)
        except Error as refused:
            assert str(refused).startswith(f"{path}: ")
        else:
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_masks_are_resized_with_nearest_neighbour(tmp_path: Path) -> None:
    small = (np.arange(12).reshape(3, 4) % 3 == 0).astype(np.uint8) * 255
    cv2.imwrite(str(tmp_path / "m.png"), small)
    up = read_mask(tmp_path / "m.png", (6, 8, 3))
    assert up.dtype == np.bool_ and up.shape == (6, 8)
    np.testing.assert_array_equal(up, np.kron(small > 0, np.ones((2, 2), bool)))
    cv2.imwrite(str(tmp_path / "big.png"), np.kron(small, np.ones((4, 4), np.uint8)))
    np.testing.assert_array_equal(read_mask(tmp_path / "big.png", (3, 4)), small > 0)
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), small > 0)  # no shape: its own size


def test_mask_values_above_127_are_defect_in_any_format(tmp_path: Path) -> None:
    grey = np.array([[0, 127, 128, 255]], np.uint8)
    expected = np.array([[False, False, True, True]])
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    np.testing.assert_array_equal(read_mask(tmp_path / "grey.png", (1, 4)), expected)
    cv2.imwrite(str(tmp_path / "grey16.png"), np.array([[0, 32767, 33000, 65535]], np.uint16))
    np.testing.assert_array_equal(read_mask(tmp_path / "grey16.png", (1, 4)), expected)
    tifffile.imwrite(tmp_path / "grey.tif", grey)
    np.testing.assert_array_equal(read_mask(tmp_path / "grey.tif", (1, 4)), expected)
    # colour: a red or green mark is defect, alpha does not matter
    bgra = np.array([[[0, 0, 0, 255], [0, 0, 255, 0], [0, 200, 0, 255], [90, 90, 90, 255]]], np.uint8)
    cv2.imwrite(str(tmp_path / "colour.png"), bgra)
    np.testing.assert_array_equal(read_mask(tmp_path / "colour.png", (1, 4)), [[False, True, True, False]])


def test_a_jpeg_mask_keeps_its_shape(tmp_path: Path) -> None:
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    cv2.imwrite(str(tmp_path / "m.jpg"), mask, [cv2.IMWRITE_JPEG_QUALITY, 90])
    read = read_mask(tmp_path / "m.jpg", (32, 32))
    assert (read != (mask > 0)).sum() <= 8


def test_a_mask_needs_a_valid_image_shape(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "m.png"), np.zeros((4, 4), np.uint8))
    for shape in ((4,), (0, 4), (2, 2, 3, 1)):
        with pytest.raises(InvalidArgumentError, match="read_mask needs the image shape"):
            read_mask(tmp_path / "m.png", shape)
