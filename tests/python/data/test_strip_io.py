"""The strip readers against the strip data contract, on the corpus of strip_corpus.py."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile

import strip_corpus
from defectkit.data.strip_io import read_strip_tifffile, write_strip
from defectkit.errors import BadFileError, FileMissingError, InvalidArgumentError

GOOD_NAMES = [case.name for case in strip_corpus.GOOD_CASES]
BAD_CASES = {case.name: case for case in strip_corpus.BAD_CASES}


def _same_bits(actual: np.ndarray, expected: np.ndarray) -> bool:
    """Bit-for-bit equality of two float32 arrays (tells -0.0 from 0.0, compares NaN payloads)."""
    return (
        actual.dtype == np.float32
        and actual.shape == expected.shape
        and np.array_equal(actual.view(np.uint32), expected.view(np.uint32))
    )


# --- the Python (tifffile) reader -----------------------------------------------------------------


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_reads_every_conforming_encoding_exactly(name: str, good_strip_corpus: dict) -> None:
    path, expected = good_strip_corpus[name]
    strip = read_strip_tifffile(path)
    assert strip.dtype == np.float32
    assert strip.shape == expected.shape
    assert strip.flags.c_contiguous
    assert _same_bits(strip, expected)


@pytest.mark.parametrize("name", list(BAD_CASES))
def test_refuses_every_nonconforming_file(name: str, bad_strip_corpus: dict) -> None:
    case, path = BAD_CASES[name], bad_strip_corpus[name]
    with pytest.raises(BadFileError) as raised:
        read_strip_tifffile(path)
    assert type(raised.value) is case.error
    assert str(raised.value).startswith(f"{path}: ")
    assert case.message in str(raised.value)


def test_refuses_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.tif"
    with pytest.raises(FileMissingError) as raised:
        read_strip_tifffile(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert isinstance(raised.value, FileNotFoundError)


def test_refuses_a_directory_as_unopenable(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError) as raised:
        read_strip_tifffile(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path}: ")


def test_a_page_declaring_gigabytes_is_refused_before_decoding(tmp_path: Path) -> None:
    """A small file whose header declares 3 x 30,000 x 30,000 float32 (10.8 GB; a compressed page
    can do that in a few bytes): refused by the size bound, not by a MemoryError (the fuzz test
    found one like it)."""
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(path, np.zeros((3, 16, 16), np.float32), planarconfig="separate", compression="zlib")
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        offsets = [
            (tags[name].valueoffset, tags[name].dtype)
            for name in ("ImageWidth", "ImageLength", "RowsPerStrip")
        ]
    with open(path, "r+b") as file:
        for offset, dtype in offsets:
            file.seek(offset)
            file.write((30_000).to_bytes(2 if int(dtype) == 3 else 4, "little"))
    with pytest.raises(BadFileError, match="more than the limit"):
        read_strip_tifffile(path)


def test_accepts_str_paths(good_strip_corpus: dict) -> None:
    path, expected = good_strip_corpus[GOOD_NAMES[0]]
    assert _same_bits(read_strip_tifffile(str(path)), expected)


def test_corpus_covers_every_encoding_of_the_contract(good_strip_corpus: dict) -> None:
    """Reads the tags back, so the corpus is known to hold what its case names claim."""
    seen: dict[str, set] = {key: set() for key in ("dtype", "layout", "codec", "tiled", "order", "big", "c")}
    for path, expected in good_strip_corpus.values():
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            if len(tif.pages) > 1:
                layout = "pages"
            else:
                layout = "planar" if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE else "contig"
            seen["dtype"].add(str(page.dtype))
            seen["layout"].add(layout)
            seen["codec"].add((int(page.compression), int(page.predictor), page.dtype.kind))
            seen["tiled"].add((page.is_tiled, layout))
            seen["order"].add((tif.byteorder, layout))
            seen["big"].add((tif.is_bigtiff, layout))
            seen["c"].add((expected.shape[0], layout))
    layouts = {"planar", "contig", "pages"}
    assert seen["dtype"] == {"uint8", "uint16", "float32", "float64"}
    assert seen["layout"] == layouts
    for kind, predictor in (("u", 2), ("f", 3)):
        for compression in (1, 5, 8, 32946, 32773):
            assert (compression, 1, kind) in seen["codec"]
        for compression in (5, 8, 32946):
            assert (compression, predictor, kind) in seen["codec"]
    assert seen["tiled"] == {(tiled, layout) for tiled in (False, True) for layout in layouts}
    assert seen["order"] == {(order, layout) for order in "<>" for layout in layouts}
    assert seen["big"] == {(big, layout) for big in (False, True) for layout in layouts}
    assert seen["c"] == {(c, layout) for c in (3, 4) for layout in layouts}


# --- write_strip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", [None, "lzw", "deflate", "adobe_deflate", "packbits"])
def test_write_strip_round_trips_in_the_production_format(tmp_path: Path, compression: str | None) -> None:
    rng = np.random.default_rng(0)
    strip = (rng.random((4, 37, 53)) * 255).astype(np.float32)
    strip[3] = 255.0
    path = write_strip(tmp_path / "strip.tif", strip, compression=compression)
    assert _same_bits(read_strip_tifffile(path), strip)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1
        page = tif.pages[0]
        assert page.planarconfig == tifffile.PLANARCONFIG.SEPARATE
        assert page.samplesperpixel == 4
        assert page.dtype == np.float32


def test_write_strip_tiled_bigtiff(tmp_path: Path) -> None:
    strip = np.arange(3 * 40 * 60, dtype=np.float32).reshape(3, 40, 60) / 7
    path = write_strip(tmp_path / "strip.tif", strip, tile=(16, 32), bigtiff=True, compression="lzw")
    assert _same_bits(read_strip_tifffile(path), strip)


@pytest.mark.parametrize(
    "strip",
    [
        np.zeros((2, 8, 8)),
        np.zeros((5, 8, 8)),
        np.zeros((8, 8)),
        np.zeros((3, 0, 8)),
        np.full((3, 4, 4), np.nan),
    ],
    ids=["2ch", "5ch", "2d", "empty", "nan"],
)
def test_write_strip_refuses_non_strips(tmp_path: Path, strip: np.ndarray) -> None:
    with pytest.raises(InvalidArgumentError):
        write_strip(tmp_path / "strip.tif", strip)


# --- the native (libtiff) reader agrees with the Python one ---------------------------------------


def _native_read_strip() -> Callable[[str], np.ndarray]:
    try:
        defectkit = importlib.import_module("defectkit")
    except ImportError as exc:
        pytest.fail(f"the native module is not importable yet: {exc}")
    if not hasattr(defectkit, "read_strip"):
        pytest.fail("defectkit.read_strip (the native libtiff reader) does not exist yet")
    return defectkit.read_strip


def test_native_reader_agrees_bit_for_bit_on_the_good_corpus(good_strip_corpus: dict) -> None:
    read_strip = _native_read_strip()
    failures = []
    for name, (path, _) in good_strip_corpus.items():
        reference = read_strip_tifffile(path)
        try:
            native = np.asarray(read_strip(str(path)))
        except Exception as exc:  # collect every disagreement, report them together
            failures.append(f"{name}: raised {type(exc).__name__}: {exc}")
            continue
        if not _same_bits(native, reference):
            detail = f"{native.dtype} {native.shape}"
            if native.shape == reference.shape:
                detail += f", max |diff| {np.max(np.abs(native.astype(np.float64) - reference)):.3g}"
            failures.append(f"{name}: differs ({detail})")
    assert not failures, f"{len(failures)} of {len(good_strip_corpus)} differ:\n" + "\n".join(failures[:25])


def test_native_reader_refuses_the_bad_corpus_like_the_python_reader(
    bad_strip_corpus: dict, tmp_path: Path
) -> None:
    read_strip = _native_read_strip()
    failures = []
    cases = [(name, BAD_CASES[name].error, path) for name, path in bad_strip_corpus.items()]
    cases.append(("missing", FileMissingError, tmp_path / "nowhere.tif"))
    for name, error, path in cases:
        try:
            read_strip(str(path))
        except Exception as exc:
            if type(exc) is not error or str(path) not in str(exc):
                got = f"{type(exc).__name__}: {exc}"
                failures.append(f"{name}: expected {error.__name__} naming the file, got {got}")
        else:
            failures.append(f"{name}: accepted, expected {error.__name__}")
    assert not failures, f"{len(failures)} of {len(cases)} wrong:\n" + "\n".join(failures[:25])


def _native_refusal_in_child(path: Path, *, as_ordinary_user: bool = False, timeout_s: float = 30.0) -> dict:
    """What ``defectkit.read_strip(path)`` raises, called in a forked child so that a read that
    blocks (a FIFO opened for reading waits for a writer) is killed after ``timeout_s`` and fails
    the test instead of hanging it. With ``as_ordinary_user``, a child of root first drops to
    uid and gid 65534 (nobody).

    Returns:
        ``{"type": "module.Class", "message": str}``; ``{"type": None}`` if the read returned.
    """
    read_strip = _native_read_strip()
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(receive)
            result: dict = {"type": None}
            try:
                if as_ordinary_user and os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                read_strip(str(path))
            except Exception as exc:
                result = {"type": f"{type(exc).__module__}.{type(exc).__qualname__}", "message": str(exc)}
            os.write(send, json.dumps(result).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(send)
    deadline = time.monotonic() + timeout_s
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(receive)
            pytest.fail(f"defectkit.read_strip({str(path)!r}) still blocked after {timeout_s} s")
        time.sleep(0.01)
    with os.fdopen(receive, "rb") as pipe:
        return json.loads(pipe.read() or b'{"type": "no answer from the child"}')


def test_native_reader_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError) as raised:
        _native_read_strip()(str(tmp_path))
    assert str(raised.value) == f"{tmp_path}: not a regular file"


def test_native_reader_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "a_fifo.tif"
    os.mkfifo(path)
    got = _native_refusal_in_child(path)
    assert got == {"type": "defectkit.errors.FileMissingError", "message": f"{path}: not a regular file"}


def test_native_reader_refuses_a_file_it_cannot_open_even_when_run_as_root() -> None:
    # Root opens any file, so as root the read runs as nobody (uid 65534) in a child; the
    # reader then gets EACCES from open(), the path the refusal is for. Not under tmp_path:
    # pytest keeps its temporary folders to their owner, and nobody must reach the file.
    folder = Path(tempfile.mkdtemp(prefix="defectkit_unreadable_"))
    try:
        folder.chmod(0o755)
        path = write_strip(folder / "unreadable.tif", np.zeros((3, 32, 32), np.float32))
        path.chmod(0)
        got = _native_refusal_in_child(path, as_ordinary_user=True)
    finally:
        shutil.rmtree(folder)
    assert got == {
        "type": "defectkit.errors.FileMissingError",
        "message": f"{path}: cannot open: Permission denied",
    }
