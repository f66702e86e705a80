"""defectkit.export: turning a trained run into the deployable ONNX artifact.

Installed as ``defectkit.export`` (mapped from the repository's ``export/``
folder into the wheel). Needs the ``defectkit[train]`` extra.
"""

from __future__ import annotations

__all__: list[str] = []
