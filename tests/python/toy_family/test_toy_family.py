"""The seam holds: a family defined only in this folder trains, exports and runs natively.

``toy.py`` registers the family; nothing outside the tests knows it. It goes
through the generic layers as a user would: ``defectkit train --family toy``,
``defectkit export --int8`` (the evidence-based gate included), ``defectkit
eval`` of the artifact (the family's evaluate runs the generic native
session), the native session from Python, and from C through the C API.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import defectkit
from defectkit import families
from defectkit.cli.main import main
from defectkit.models.family import Predictor
from defectkit.training import load_model

from . import toy


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    toy.register()
    root = tmp_path_factory.mktemp("toy")
    data = toy.write_dataset(root / "data", {"train": 96, "valid": 80, "test": 40})
    run = root / "run"
    args = ["train", str(data), "--family", "toy", "--out", str(run), "--no-progress", "--epochs", "30"]
    args += ["--lr", "0.03", "--precision", "fp32", "--hidden", "8", "--threads", "1"]
    assert main(args) == 0
    return data, run


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> tuple[pathlib.Path, dict]:
    _, run = trained
    out = tmp_path_factory.mktemp("toy_artifact")
    assert main(["export", str(run), "--out", str(out), "--int8", "--max-extensions", "0"]) == 0
    return out, json.loads((out / "export_report.json").read_text())


def test_training_went_through_the_generic_loop(trained) -> None:
    data, run = trained
    model, info = load_model(run)
    assert info["family"] == "toy" and info["toy_size"] == toy.SIZE  # the family's state in the checkpoint
    assert info["selection_metric"] == "image_auroc"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and "val_image_auroc" in rows[-1] and "progress" in rows[-1]
    result = families.get("toy").evaluate(Predictor(model=model, info=info), data)
    assert result["image_auroc"] > 0.9  # it learned: the seam trains for real


def test_export_wrote_both_precisions_through_the_gate(exported) -> None:
    out, report = exported
    assert report["family"] == "toy"
    assert {"fp32 plain", "int8 plain minmax"} <= set(report["candidates"])
    assert report["int8"]["gate"]["verdict"] in ("pass", "undecided", "fail")
    metadata = defectkit.read_artifact_metadata(out / "model_int8.onnx")
    assert metadata.family == "toy" and metadata.precision == "int8"
    assert [s.name for s in metadata.inputs] == ["signal", "image"]
    assert [s.dtype for s in metadata.inputs] == ["float32", "uint8"]
    assert [s.name for s in metadata.outputs] == ["score", "heatmap"]


def test_the_native_session_runs_it_from_python_like_onnxruntime(trained, exported) -> None:
    data, _ = trained
    out, _ = exported
    samples = toy.read_split(data, "test")[:5]
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        session = defectkit.ArtifactSession(out / name)
        reference = toy.ToyRunner(str(out / name))
        for sample in samples:
            native = session.run({"signal": sample.signal[None], "image": sample.image[None]})
            heatmap, score = reference.run(sample)
            np.testing.assert_allclose(native["heatmap"][0, 0], heatmap, atol=1e-6)
            assert float(native["score"][0]) == pytest.approx(score, abs=1e-6)


def test_eval_of_the_artifact_goes_through_the_family(trained, exported, tmp_path) -> None:
    data, _ = trained
    out, _ = exported
    result = tmp_path / "eval.json"
    assert main(["eval", str(out / "model_fp32.onnx"), str(data), "--json", str(result)]) == 0
    assert json.loads(result.read_text())["image_auroc"] > 0.9


def test_the_native_session_runs_it_from_c(trained, exported, tmp_path) -> None:
    """A C program built against the installed CMake package runs the INT8 artifact through the
    C API's generic session; its outputs equal the Python session's."""
    if (
        shutil.which("cmake") is None
        and not (pathlib.Path(defectkit.__file__).parents[3] / "bin" / "cmake").exists()
    ):
        pytest.skip("needs cmake")
    data, _ = trained
    out, _ = exported
    sample = toy.read_split(data, "test")[1]
    (tmp_path / "signal.bin").write_bytes(sample.signal[None].astype(np.float32).tobytes())
    (tmp_path / "image.bin").write_bytes(sample.image[None].astype(np.uint8).tobytes())
    build = tmp_path / "build"
    cmake = shutil.which("cmake") or "cmake"
    source = pathlib.Path(__file__).parent / "c_session"
    subprocess.run(
        [cmake, "-S", str(source), "-B", str(build), f"-Ddefectkit_DIR={defectkit.cmake_dir()}"],
        check=True,
        capture_output=True,
    )
    subprocess.run([cmake, "--build", str(build)], check=True, capture_output=True)
    printed = subprocess.run(
        [
            str(build / "run_session"),
            str(out / "model_int8.onnx"),
            str(tmp_path / "signal.bin"),
            str(tmp_path / "image.bin"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    expected = defectkit.ArtifactSession(out / "model_int8.onnx").run(
        {"signal": sample.signal[None], "image": sample.image[None]}
    )
    lines = dict(line.split(" ", 1) for line in printed.strip().splitlines())
    assert lines["family"] == "toy"
    assert float(lines["score"]) == pytest.approx(float(expected["score"][0]), abs=1e-6)
    assert float(lines["heatmap_sum"]) == pytest.approx(float(expected["heatmap"].sum()), rel=1e-5)


def test_gradient_accumulation_steps_like_the_larger_batch(trained, tmp_path) -> None:
    """Batches of 8 accumulated twice give the weights of batches of 16 (the toy has no batch
    norm, so only float rounding differs)."""
    from defectkit.training import TrainConfig, train

    data, _ = trained
    weights = []
    for batch, accumulate in ((16, 1), (8, 2)):
        run = tmp_path / f"b{batch}"
        config = TrainConfig(
            data=str(data), out=str(run), family="toy", family_config=toy.ToyConfig(), epochs=3, lr=0.03,
            batch_size=batch, accumulate=accumulate, precision="fp32", threads=1,
        )  # fmt: skip
        train(config, progress=False)
        weights.append(load_model(run, "last")[0].state_dict())
    for name, value in weights[0].items():
        np.testing.assert_allclose(weights[1][name].numpy(), value.numpy(), atol=1e-5, err_msg=name)
