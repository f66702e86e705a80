"""Strip inspection (reference_unet) by the native runtime, as Python sees it: strip in,
:class:`Inspection` out.

Runs in C++ (``defectkit._native``: libtiff and ONNX Runtime) and needs neither torch nor
tifffile.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from defectkit import _native
from defectkit.errors import InvalidArgumentError
from defectkit.runtime import ArtifactMetadata, Region, onnxruntime_library_path

__all__ = ["Inspection", "Inspector"]


@dataclass(frozen=True)
class Inspection:
    """What the runtime concluded about one strip.

    Attributes:
        heatmap: ``(H, W)`` float32 defect probability; the array owns its buffer.
        score: image score, the max of the heatmap after the artifact's box mean filter.
        is_defective: ``score >= image_threshold``.
        regions: connected defect regions, in row-major order of their first pixel.
        image_threshold: the image threshold applied (the artifact's unless overridden).
        pixel_threshold: the pixel threshold applied.
    """

    heatmap: np.ndarray
    score: float
    is_defective: bool
    regions: list[Region]
    image_threshold: float
    pixel_threshold: float

    @classmethod
    def _from_native(cls, raw: dict[str, Any]) -> Inspection:
        regions = [Region(**r) for r in raw["regions"]]
        return cls(
            heatmap=raw["heatmap"],
            score=float(raw["score"]),
            is_defective=bool(raw["is_defective"]),
            regions=regions,
            image_threshold=float(raw["image_threshold"]),
            pixel_threshold=float(raw["pixel_threshold"]),
        )


StripInput = str | os.PathLike[str] | np.ndarray


class Inspector:
    """Strip in, :class:`Inspection` out, run by the C++ runtime on a defectkit artifact.

    The artifact's metadata configures everything: full-image graphs run the strip as it is;
    patch graphs are tiled, batched and stitched nearest-centre in C++. Thread-safe: one
    Inspector may serve several Python threads (the GIL is released while it works).

    Args:
        path: the artifact (``.onnx`` with ``defectkit.`` metadata, see docs/ARTIFACT.md).
        threads: ONNX Runtime intra-op threads; 0 lets ONNX Runtime decide.
        provider: ``"cpu"``, or ``"cuda"``/``"tensorrt"``/``"openvino"`` when available.
        image_threshold: default image threshold for this Inspector; None: the artifact's.
        pixel_threshold: default pixel threshold for this Inspector; None: the artifact's.
        max_batch: most tiles per ONNX Runtime run for patch artifacts (bounds memory).
        graph_optimization: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``.
        onnxruntime_library: the library to open; default :func:`onnxruntime_library_path`.
        verify: check the file's SHA-256 before loading it. ``True``: against the digest
            ``export_report.json`` beside the artifact records; a string: against that hex digest.
        provider_options: key/value options for the ``"openvino"`` provider, as ONNX Runtime
            documents them (``{"device_type": "GPU"}``, ``{"reshape_input": "strip[1,4,976,176]"}``).

    Raises:
        defectkit.FileMissingError: no such file.
        defectkit.ModelError: not a usable artifact (missing or newer metadata, unknown family, ...),
            or, with ``verify``, a file whose SHA-256 differs or a missing export report.
        defectkit.BackendError: ONNX Runtime missing, or the provider not in it.
        defectkit.InvalidArgumentError: provider options for a provider other than openvino.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int = 0,
        provider: str = "cpu",
        image_threshold: float | None = None,
        pixel_threshold: float | None = None,
        max_batch: int = 16,
        graph_optimization: str = "all",
        onnxruntime_library: str | None = None,
        verify: bool | str = False,
        provider_options: Mapping[str, str] | None = None,
    ) -> None:
        library = onnxruntime_library or onnxruntime_library_path()
        expected = verify if isinstance(verify, str) else ""
        self._inspector = _native.Inspector(
            os.fspath(path),
            threads,
            0,
            provider,
            graph_optimization,
            max_batch,
            library,
            verify=bool(verify),
            expected_sha256=expected,
            provider_options=dict(provider_options or {}),
        )
        self._image_threshold = image_threshold
        self._pixel_threshold = pixel_threshold

    @property
    def path(self) -> str:
        """The artifact file."""
        return self._inspector.path

    @property
    def provider(self) -> str:
        """The execution provider the session runs on."""
        return self._inspector.provider

    @property
    def metadata(self) -> dict[str, Any]:
        """The artifact's ``defectkit.`` metadata, validated and typed.

        Keys as in docs/ARTIFACT.md (``format_version``, ``family``, ``graph``, ``input``,
        ``image_size`` as ``(H, W)``, ``tiling``, ``score``, ``outputs``, ``thresholds``,
        ``precision``) and ``provenance`` parsed from its JSON.
        """
        info = dict(self._inspector.info)
        info["provenance"] = json.loads(info.pop("provenance_json") or "{}")
        return info

    @property
    def artifact(self) -> ArtifactMetadata:
        """The generic metadata (as :class:`ArtifactSession` shows it), checked against the graph."""
        return self._inspector.artifact

    def inspect(
        self,
        strip: StripInput,
        *,
        layout: Literal["CHW", "HWC"] = "CHW",
        roi: bool = False,
        image_threshold: float | None = None,
        pixel_threshold: float | None = None,
    ) -> Inspection:
        """Inspects one strip.

        Args:
            strip: a strip TIFF path, or an array ``(C, H, W)`` / ``(H, W, C)`` with C 3 or 4,
                float32 on the 0..255 scale, uint8, uint16 (divided by 257) or float64.
                C-contiguous float32/uint8/uint16 arrays are read in place, without a copy;
                others are converted once.
            layout: ``"CHW"`` or ``"HWC"`` for arrays.
            roi: zero the heatmap where channel 3 is 0 (needs 4 channels; always on for
                artifacts exported with an ROI channel).
            image_threshold: overrides the image threshold for this call.
            pixel_threshold: overrides the pixel threshold for this call.

        Returns:
            The :class:`Inspection`.

        Raises:
            defectkit.InvalidArgumentError: a strip the artifact cannot take (size, channels,
                dtype, NaN/Inf, a buffer smaller than its shape).
            defectkit.FileMissingError, defectkit.BadFileError: for paths, as :func:`read_strip`.
        """
        image = self._image_threshold if image_threshold is None else image_threshold
        pixel = self._pixel_threshold if pixel_threshold is None else pixel_threshold
        if isinstance(strip, np.ndarray):
            raw = self._inspector.inspect_array(strip, layout, roi, image, pixel)
        elif isinstance(strip, (str, os.PathLike)):
            raw = self._inspector.inspect_path(os.fspath(strip), roi, image, pixel)
        else:
            msg = f"expected a strip path or a numpy array, got {type(strip).__name__}"
            raise InvalidArgumentError(msg)
        return Inspection._from_native(raw)

    def inspect_batch(self, strips: Iterable[StripInput], **options: Any) -> list[Inspection]:
        """Inspects several strips in order; ``options`` as for :meth:`inspect`."""
        return [self.inspect(strip, **options) for strip in strips]
