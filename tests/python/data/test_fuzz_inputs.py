"""Property-based fuzzing (hypothesis) of the Python entry points that parse user files:
strip reading, mask reading and dataset discovery. Whatever the bytes or the folder tree,
each must return or raise a defectkit.Error subclass, never anything else. Bounded: a few
hundred examples in all, a few seconds per test."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import defectkit
from defectkit.data import read_strip_tifffile, write_strip
from defectkit.data.layout import discover_dataset, read_mask

# derandomize: the same 150 inputs on every run and machine, as make fuzz-smoke does (a random
# draw once found a header declaring 23.6 GiB in CI: test_strip_io.py now pins that case).
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True,
)


def _seed_strips() -> list[bytes]:
    """A few valid strips to mutate: mutations of real files reach deeper than random bytes."""
    seeds = []
    with tempfile.TemporaryDirectory() as tmp:
        strip = np.arange(3 * 9 * 11, dtype=np.float32).reshape(3, 9, 11) % 256
        for k, (dtype, compression, tile, bigtiff) in enumerate(
            [
                ("uint8", None, None, False),
                ("uint16", "zlib", None, True),
                ("float32", "lzw", (16, 16), False),
            ]
        ):
            path = Path(tmp) / f"seed{k}.tif"
            write_strip(path, strip.astype(dtype), compression=compression, tile=tile, bigtiff=bigtiff)
            seeds.append(path.read_bytes())
    return seeds


SEED_STRIPS = _seed_strips()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with random bytes overwritten and maybe cut short, or plain random bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=512))
    data = bytearray(seeds[draw(st.integers(0, len(seeds) - 1))])
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


def _refuses_cleanly(call: Callable[[], object]) -> None:
    with contextlib.suppress(defectkit.Error):  # a clean refusal; anything else propagates
        call()


@FUZZ
@given(data=mutated(SEED_STRIPS))
def test_read_strip_tifffile_returns_or_raises_a_defectkit_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "strip.tif"
        path.write_bytes(data)
        _refuses_cleanly(lambda: read_strip_tifffile(path))


def _seed_masks() -> list[bytes]:
    mask = (np.arange(12 * 10).reshape(12, 10) % 3 == 0).astype(np.uint8) * 255
    return [
        cv2.imencode(".png", mask)[1].tobytes(),
        cv2.imencode(".png", np.stack([mask] * 3, -1))[1].tobytes(),
    ]


SEED_MASKS = _seed_masks()


@FUZZ
@given(data=mutated(SEED_MASKS), suffix=st.sampled_from([".png", ".tif", ".bmp"]))
def test_read_mask_returns_or_raises_a_defectkit_error(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"crack_mask{suffix}"
        path.write_bytes(data)
        _refuses_cleanly(lambda: read_mask(path, (12, 10)))


# Dataset trees: paths built from MVTec-like parts, so generated trees come close to
# valid layouts (and break them in every way) instead of being random noise.
_FOLDERS = [
    "train/good",
    "test/good",
    "test/crack",
    "test/scratch",
    "ground_truth/crack",
    "ground_truth",
    "train",
]
_STEMS = ["000", "001", "crack_mask", "000_mask", "001_mask", ".hidden", "a b"]
_SUFFIXES = [".png", ".tif", ".tiff", ".txt", ".PNG", ""]
_entry = st.tuples(
    st.sampled_from(_FOLDERS), st.sampled_from(_STEMS), st.sampled_from(_SUFFIXES), st.booleans()
)


@FUZZ
@given(entries=st.lists(_entry, max_size=10), as_folder=st.lists(st.sampled_from(_FOLDERS), max_size=2))
def test_discover_dataset_returns_or_raises_a_defectkit_error(entries: list, as_folder: list) -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        png = SEED_MASKS[0]
        for folder, stem, suffix, valid in entries:
            path = tmp / folder / f"{stem}{suffix}"
            try:  # entries may collide (a file where a folder is): keep the first
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png if valid else b"not an image")
            except OSError:
                continue
        for folder in as_folder:  # a file where a folder belongs
            target = tmp / folder
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    target.write_bytes(b"x")
            except OSError:
                continue
        _refuses_cleanly(lambda: discover_dataset(tmp))
        _refuses_cleanly(lambda: discover_dataset(tmp / "missing"))
    finally:
        shutil.rmtree(tmp)


@pytest.mark.parametrize("name", ["truncated", "garbage"])
def test_corpus_style_bad_strips_are_defectkit_errors(tmp_path: Path, name: str) -> None:
    """Fixed examples of what the properties above generate, so a regression names itself."""
    path = tmp_path / f"{name}.tif"
    path.write_bytes(SEED_STRIPS[0][:100] if name == "truncated" else b"II*\x00" + b"\xff" * 60)
    with pytest.raises(defectkit.BadFileError):
        read_strip_tifffile(path)
