"""defectkit.Inspector(path, verify=...) checks the artifact's SHA-256 before loading it:
against export_report.json beside it, or an explicit digest; a corrupted file is a ModelError."""

from __future__ import annotations

import hashlib
import json
import pathlib

import pytest

import defectkit

from .artifacts import write_artifact


def _artifact_with_report(folder: pathlib.Path) -> pathlib.Path:
    artifact = write_artifact(folder / "model_fp32.onnx")
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    report = {"files": {"model_fp32.onnx": {"sha256": digest, "bytes": artifact.stat().st_size}}}
    (folder / "export_report.json").write_text(json.dumps(report))
    return artifact


def test_verify_accepts_the_recorded_digest_and_refuses_a_corrupted_file(tmp_path: pathlib.Path) -> None:
    artifact = _artifact_with_report(tmp_path)
    defectkit.Inspector(artifact, threads=1, verify=True)
    defectkit.Inspector(artifact, threads=1, verify=hashlib.sha256(artifact.read_bytes()).hexdigest())

    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    artifact.write_bytes(bytes(data))
    with pytest.raises(defectkit.ModelError, match=r"model_fp32\.onnx: SHA-256 mismatch"):
        defectkit.Inspector(artifact, threads=1, verify=True)


def test_verify_without_a_report_names_the_missing_report(tmp_path: pathlib.Path) -> None:
    artifact = write_artifact(tmp_path / "model_fp32.onnx")
    with pytest.raises(defectkit.ModelError, match=r"no export report at .*export_report\.json"):
        defectkit.Inspector(artifact, threads=1, verify=True)
    with pytest.raises(defectkit.InvalidArgumentError, match="not 64 hexadecimal digits"):
        defectkit.Inspector(artifact, threads=1, verify="abc")
