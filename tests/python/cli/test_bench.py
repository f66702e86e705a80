"""defectkit bench and its statistics: known data, and its JSON on a tiny artifact (benchmarks/
itself: tests/python/benchmarks/).

Never timings: what a run measures depends on the machine.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from defectkit.benchmarking import RESULT_KEYS, latency_summary, percentile, write_study
from defectkit.cli import main
from defectkit.data import write_strip
from runtime.artifacts import strip_values, write_artifact


def test_percentile_is_nearest_rank_like_defectkit_bench() -> None:
    values = list(range(100, 0, -1))  # 1..100, unsorted
    assert percentile(values, 0) == 1
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([5.0], 99) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0  # rank ceil(0.5 * 4) = 2: no interpolation
    assert percentile([1.0, 2.0, 3.0, 4.0], 51) == 3.0


@pytest.mark.parametrize(("values", "p"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_refuses_bad_input(values: list[float], p: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, p)


def test_latency_summary_on_known_latencies() -> None:
    stats = latency_summary([0.004, 0.001, 0.003, 0.002], gflop_per_strip=2.0)
    assert stats["runs"] == 4
    assert stats["min_ms"] == pytest.approx(1.0)
    assert stats["p50_ms"] == pytest.approx(2.0)
    assert stats["p90_ms"] == pytest.approx(4.0)
    assert stats["p99_ms"] == pytest.approx(4.0)
    assert stats["max_ms"] == pytest.approx(4.0)
    assert stats["mean_ms"] == pytest.approx(2.5)
    assert stats["strips_per_s"] == pytest.approx(400.0)  # 4 strips in 10 ms
    assert stats["gflop_per_s"] == pytest.approx(800.0)
    # A wall time longer than the sum (gaps between strips) lowers the throughput, not the latencies.
    slow = latency_summary([0.004, 0.001, 0.003, 0.002], wall_s=0.02)
    assert slow["strips_per_s"] == pytest.approx(200.0)
    assert slow["gflop_per_s"] is None
    assert slow["p50_ms"] == stats["p50_ms"]


def _check_schema(result: dict, runs: int) -> None:
    missing = [key for key in RESULT_KEYS if key not in result]
    assert not missing
    assert result["runs"] == runs
    assert result["min_ms"] <= result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["strips_per_s"] > 0
    assert result["peak_rss_mib"] > 0
    assert len(result["load_average"]) == 2  # before and after the timed runs
    json.dumps(result)  # plain JSON types only


def test_bench_writes_the_shared_schema_on_a_tiny_artifact(tmp_path: pathlib.Path, capsys) -> None:
    artifact = write_artifact(tmp_path / "tiny.onnx", "tiled", size=(37, 29))
    out = tmp_path / "bench.json"
    assert (
        main(["bench", str(artifact), "--runs", "5", "--warmup", "1", "--threads", "1", "--json", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    _check_schema(result, runs=5)
    assert result["graph"] == "tiled"
    assert result["threads"] == 1
    assert result["includes_file_read"] is False
    assert "p99" in capsys.readouterr().out


def test_bench_reads_a_folder_of_strips(tmp_path: pathlib.Path) -> None:
    artifact = write_artifact(tmp_path / "tiny.onnx", "patch", size=(37, 29))
    strips = tmp_path / "strips"
    strips.mkdir()
    for index in range(2):
        write_strip(strips / f"s{index}.tif", strip_values(4, 37, 29, seed=index))
    out = tmp_path / "bench.json"
    assert main(["bench", str(artifact), "--strips", str(strips), "--runs", "3", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    _check_schema(result, runs=3)
    assert result["includes_file_read"] is True


def test_bench_refuses_an_empty_strip_folder(tmp_path: pathlib.Path, capsys) -> None:
    artifact = write_artifact(tmp_path / "tiny.onnx", "tiled", size=(37, 29))
    (tmp_path / "empty").mkdir()
    assert main(["bench", str(artifact), "--strips", str(tmp_path / "empty")]) == 2
    assert "no .tif/.tiff strips" in capsys.readouterr().err


def test_write_study_writes_the_dated_json_and_table(tmp_path: pathlib.Path, capsys) -> None:
    import datetime
    import json

    write_study(tmp_path / "results", "probe", {"ratio": 0.98}, "| a |\n")
    stem = tmp_path / "results" / f"probe-{datetime.date.today().isoformat()}"
    assert json.loads(stem.with_suffix(".json").read_text()) == {"ratio": 0.98}
    assert stem.with_suffix(".md").read_text() == "| a |\n"
    assert "| a |" in capsys.readouterr().out
    write_study(tmp_path / "results", "probe", {"ratio": 1.5}, "| b |\n")  # same day: kept apart
    write_study(tmp_path / "results", "probe", {"ratio": 2.5}, "| c |\n")
    assert json.loads(stem.with_suffix(".json").read_text()) == {"ratio": 0.98}
    second, third = (stem.with_name(f"{stem.name}-{n}") for n in (2, 3))
    assert second.with_suffix(".md").read_text() == "| b |\n"
    assert json.loads(third.with_suffix(".json").read_text()) == {"ratio": 2.5}
