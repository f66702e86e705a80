"""The bench's export cache: a cached artifact counts only if the code that decides its graph is
unchanged, per family."""

from __future__ import annotations

import importlib
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _cache(monkeypatch, package: pathlib.Path):
    module = importlib.import_module("benchmarks.cache")
    monkeypatch.setattr(module, "PACKAGE", package)
    monkeypatch.setattr(module, "EXPORT", package / "export")
    return module


def _package(tmp_path: pathlib.Path) -> pathlib.Path:
    package = tmp_path / "defectkit"
    shutil.copytree(ROOT / "python" / "defectkit" / "models", package / "models")
    shutil.copytree(ROOT / "export", package / "export")
    shutil.copy(ROOT / "python" / "defectkit" / "artifact.py", package / "artifact.py")
    return package


def test_an_artifact_is_current_only_for_the_code_that_built_it(tmp_path, monkeypatch) -> None:
    package = _package(tmp_path)
    cache = _cache(monkeypatch, package)
    out = tmp_path / "export"
    out.mkdir()
    assert not cache.is_current(out, "reference_unet")  # nothing there
    (out / "model_int8.onnx").write_bytes(b"graph")
    assert not cache.is_current(out, "reference_unet")  # built by unknown code
    cache.mark_current(out, "reference_unet")
    assert cache.is_current(out, "reference_unet")
    assert not cache.is_current(out, "guided_classifier")  # another family's code

    # The other family's model changing leaves this one's cache alone; its own model or the
    # shared export pipeline changing does not.
    other = package / "models" / "guided_classifier" / "model.py"
    other.write_text(other.read_text() + "\n# changed\n")
    assert cache.is_current(out, "reference_unet")
    for changed in (package / "models" / "reference_unet" / "model.py", package / "export" / "quantize.py"):
        cache.mark_current(out, "reference_unet")
        changed.write_text(changed.read_text() + "\n# changed\n")
        assert not cache.is_current(out, "reference_unet"), changed


def test_export_unless_current_exports_once_per_code(tmp_path, monkeypatch) -> None:
    cache = _cache(monkeypatch, _package(tmp_path))
    out = tmp_path / "export"
    calls, logged = [], []

    def export(folder: pathlib.Path, tag: str) -> None:
        calls.append(tag)
        folder.mkdir(exist_ok=True)
        (folder / "model_int8.onnx").write_bytes(b"graph")

    for _ in range(2):
        cache.export_unless_current(out, "reference_unet", "width 16", logged.append, export, out, "w16")
    assert calls == ["w16"]  # the second call found it current
    assert logged[0] == "exporting width 16, FP32 + INT8 (random weights)"
    assert logged[1].startswith("  took ")
    assert cache.is_current(out, "reference_unet")
