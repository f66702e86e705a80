"""``ExportOptions`` refuses what export cannot honour, before any work: here, the INT8 weight range."""

from __future__ import annotations

import pathlib

import pytest

from defectkit.errors import InvalidArgumentError
from defectkit.export import pipeline
from defectkit.export.pipeline import ExportOptions


def options(**changes) -> ExportOptions:
    return ExportOptions(run=pathlib.Path("run"), out=pathlib.Path("out"), int8=True, **changes)


def test_weight_bits_default_to_7_and_other_ranges_are_refused() -> None:
    assert options().int8_weight_bits == 7
    options().validate()
    with pytest.raises(InvalidArgumentError, match=r"INT8 weight bits must be one of \(7, 8\), got 6"):
        options(int8_weight_bits=6).validate()


@pytest.mark.parametrize("exact", [True, False])
def test_8_bit_weights_only_where_this_cpu_sums_their_products_exactly(monkeypatch, exact) -> None:
    """On a CPU without AVX512-VNNI the gate would measure a model with saturated sums, and the
    runtime would refuse the artifact: export says so at once."""
    monkeypatch.setattr(pipeline, "_cpu_sums_int8_products_exactly", lambda: exact)
    if exact:
        options(int8_weight_bits=8).validate()
    else:
        with pytest.raises(InvalidArgumentError, match="8-bit INT8 weights need a CPU with AVX512-VNNI"):
            options(int8_weight_bits=8).validate()
    ExportOptions(run=pathlib.Path("r"), out=pathlib.Path("o"), int8=False, int8_weight_bits=8).validate()
