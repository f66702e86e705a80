"""Fixtures of the export tests: the strip fixture network and its data (strip_fixture.py)."""

from __future__ import annotations

import pathlib

import pytest

from .strip_fixture import FixtureRun, write_fixture_dataset, write_fixture_run


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return write_fixture_dataset(tmp_path_factory.mktemp("export_fixture") / "data")


@pytest.fixture(scope="session")
def fixture_run(fixture_data: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> FixtureRun:
    return write_fixture_run(tmp_path_factory.mktemp("export_fixture_run"), fixture_data)
