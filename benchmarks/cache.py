"""Which cached bench artifacts the current code would still export the same way.

Setup caches random-weight exports under ``--work`` (minutes each). A cached artifact from
older model or export code would time a graph the code no longer produces (the folded sigmoid
head replaced the softmax: a cached softmax graph would look slower than what ships), so each
export folder carries the digest of the code that built it, and setup rebuilds when it differs.
"""

from __future__ import annotations

import hashlib
import pathlib
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "defectkit"
EXPORT = ROOT / "export"  # installed as defectkit.export (pyproject.toml wheel.packages)
STAMP = "code_digest.txt"


def export_code_digest(family: str) -> str:
    """sha256 over what decides ``family``'s exported graph (its model folder, the seam files
    beside it, the export pipeline, the artifact format): paths and contents, 16 hex digits."""
    models = PACKAGE / "models"
    files = sorted((models / family).rglob("*.py")) + sorted(models.glob("*.py"))
    files += sorted(EXPORT.rglob("*.py")) + [PACKAGE / "artifact.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_current(out: pathlib.Path, family: str, artifact: str = "model_int8.onnx") -> bool:
    """True if ``out`` holds ``artifact`` built by ``family``'s code as it is now."""
    stamp = out / STAMP
    if not ((out / artifact).is_file() and stamp.is_file()):
        return False
    return stamp.read_text().strip() == export_code_digest(family)


def mark_current(out: pathlib.Path, family: str) -> None:
    """Records that ``out`` was just built by ``family``'s current code."""
    (out / STAMP).write_text(export_code_digest(family) + "\n")


def export_unless_current(
    out: pathlib.Path, family: str, label: str, log: Callable[[str], None], export: Callable, *args: object
) -> None:
    """Runs ``export(*args)``, which writes ``out``, unless ``out`` is current; logs what it exports
    and how long it took, and marks ``out`` current once it finished."""
    if is_current(out, family):
        return
    log(f"exporting {label}, FP32 + INT8 (random weights)")
    start = time.perf_counter()
    export(*args)
    mark_current(out, family)
    log(f"  took {time.perf_counter() - start:.0f} s")
