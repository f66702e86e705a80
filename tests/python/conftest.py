"""Shared pytest setup for the Python tests: corpus helpers importable, strip corpora per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))  # tests import helper modules such as strip_corpus directly

import strip_corpus  # noqa: E402


@pytest.fixture(scope="session")
def good_strip_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, object]]:
    """Every conforming strip encoding, written once: case name -> (path, expected (C, H, W) float32)."""
    directory = tmp_path_factory.mktemp("good_strips")
    return {case.name: strip_corpus.write_good_case(directory, case) for case in strip_corpus.GOOD_CASES}


@pytest.fixture(scope="session")
def bad_strip_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every refused strip file, written once: case name -> path."""
    directory = tmp_path_factory.mktemp("bad_strips")
    return {case.name: strip_corpus.write_bad_case(directory, case) for case in strip_corpus.BAD_CASES}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-strip training set of 192 x 64 strips (see tiny_training.py)."""
    import tiny_training

    return tiny_training.write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "data")
