"""Image reading and classification (guided_classifier) by the native runtime, as Python sees it.

Everything here runs in C++ (``defectkit._native``: libpng, libjpeg-turbo, libtiff and ONNX
Runtime) and needs neither torch nor OpenCV.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from defectkit import _native
from defectkit.errors import InvalidArgumentError
from defectkit.runtime import ArtifactMetadata, Region, onnxruntime_library_path

__all__ = ["Classification", "ImageClassifier", "decode_image", "read_image"]


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads a camera image with the native decoders (libpng, libjpeg-turbo, libtiff).

    The format is decided by the file's content, not its extension: PNG (any colour type
    and bit depth, palettes expanded), JPEG (baseline or progressive, grey or colour),
    TIFF (first page, uint8/uint16 grey or RGB).

    Args:
        path: the image file.

    Returns:
        ``(H, W, C)`` uint8 with C 1 (grey) or 3 (RGB): alpha dropped, 16-bit samples
        scaled to ``round(v / 257)``. The array owns its buffer.

    Raises:
        defectkit.FileMissingError: the file does not exist or is not a regular file.
        defectkit.BadFileError: unknown content, truncated or corrupt, an empty or huge image.
        defectkit.UnsupportedFormatError: CMYK JPEG, float or CMYK TIFF, > 4 channels, ...
    """
    return _native.read_image(os.fspath(path))


def decode_image(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Decodes an encoded PNG, JPEG or TIFF image held in memory (a frame grabber's JPEG).

    Returns and raises as :func:`read_image` (messages name "image buffer").
    """
    return _native.decode_image(bytes(data))


@dataclass(frozen=True)
class Classification:
    """What the runtime concluded about one image (a guided_classifier artifact).

    Attributes:
        probabilities: ``(K,)`` float32 class probabilities, in the order of ``classes``.
        classes: the artifact's class names.
        top_class: index of the most probable class (the first on a tie).
        defect_class: index of the class compared with the defect threshold.
        defect_probability: ``probabilities[defect_class]``.
        is_defective: ``defect_probability >= defect_threshold``.
        mask: ``(H, W)`` float32 defect probability per pixel, at the image's size; owns its buffer.
        regions: connected components (8-connectivity) of ``mask >= pixel_threshold``.
        defect_threshold: the defect threshold applied (the artifact's unless overridden).
        pixel_threshold: the pixel threshold applied.
    """

    probabilities: np.ndarray
    classes: list[str]
    top_class: int
    defect_class: int
    defect_probability: float
    is_defective: bool
    mask: np.ndarray
    regions: list[Region]
    defect_threshold: float
    pixel_threshold: float

    @property
    def label(self) -> str:
        """The most probable class's name."""
        return self.classes[self.top_class]

    @classmethod
    def _from_native(cls, raw: dict[str, Any]) -> Classification:
        return cls(
            probabilities=raw["probabilities"],
            classes=list(raw["classes"]),
            top_class=int(raw["top_class"]),
            defect_class=int(raw["defect_class"]),
            defect_probability=float(raw["defect_probability"]),
            is_defective=bool(raw["is_defective"]),
            mask=raw["mask"],
            regions=[Region(**r) for r in raw["regions"]],
            defect_threshold=float(raw["defect_threshold"]),
            pixel_threshold=float(raw["pixel_threshold"]),
        )


ImageInput = str | os.PathLike[str] | np.ndarray | bytes | bytearray | memoryview


class ImageClassifier:
    """Image in, :class:`Classification` out, run by the C++ runtime on a guided_classifier artifact.

    The graph takes the image as the camera gives it (uint8, any size, grey or RGB) and does
    its own resizing and normalisation; the runtime decodes files, converts arrays at most once
    and applies the thresholds. Thread-safe: one classifier may serve several Python threads
    (the GIL is released while it works).

    Args:
        path: the artifact (``.onnx`` of family ``guided_classifier``, see docs/ARTIFACT.md).
        threads: ONNX Runtime intra-op threads; 0 lets ONNX Runtime decide.
        provider: ``"cpu"``, or ``"cuda"``/``"tensorrt"``/``"openvino"`` when available.
        defect_threshold: default defect threshold for this classifier; None: the artifact's.
        pixel_threshold: default pixel threshold for this classifier; None: the artifact's.
        graph_optimization: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``.
        onnxruntime_library: the library to open; default :func:`onnxruntime_library_path`.
        verify: check the file's SHA-256 before loading it. ``True``: against the digest
            ``export_report.json`` beside the artifact records; a string: against that hex digest.
        provider_options: key/value options for the ``"openvino"`` provider, as ONNX Runtime
            documents them (e.g. ``{"device_type": "GPU"}``).

    Raises:
        defectkit.FileMissingError: no such file.
        defectkit.ModelError: not a usable guided_classifier artifact (another family, a family
            section or tensors the runtime cannot use), or, with ``verify``, a digest mismatch.
        defectkit.BackendError: ONNX Runtime missing, or the provider not in it.
        defectkit.InvalidArgumentError: provider options for a provider other than openvino.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int = 0,
        provider: str = "cpu",
        defect_threshold: float | None = None,
        pixel_threshold: float | None = None,
        graph_optimization: str = "all",
        onnxruntime_library: str | None = None,
        verify: bool | str = False,
        provider_options: Mapping[str, str] | None = None,
    ) -> None:
        library = onnxruntime_library or onnxruntime_library_path()
        expected = verify if isinstance(verify, str) else ""
        self._classifier = _native.ImageClassifier(
            os.fspath(path),
            threads,
            0,
            provider,
            graph_optimization,
            library,
            verify=bool(verify),
            expected_sha256=expected,
            provider_options=dict(provider_options or {}),
        )
        self._defect_threshold = defect_threshold
        self._pixel_threshold = pixel_threshold

    @property
    def path(self) -> str:
        """The artifact file."""
        return self._classifier.path

    @property
    def provider(self) -> str:
        """The execution provider the session runs on."""
        return self._classifier.provider

    @property
    def classes(self) -> list[str]:
        """The class names, in the order of :attr:`Classification.probabilities`."""
        return list(self._classifier.info["classes"])

    @property
    def metadata(self) -> dict[str, Any]:
        """The artifact's family section and thresholds as the runtime read them.

        Keys: ``format_version``, ``family``, ``classes``, ``defect_class``, ``channels`` (1 or 3
        when the graph's channel axis is fixed, 0 when it takes either), ``input_size`` (``(H, W)``
        or None), ``mean``, ``std``, ``backbone``, ``pooling``, ``thresholds`` (``defect``,
        ``pixel``), ``precision``, and ``provenance`` parsed from its JSON.
        """
        info = dict(self._classifier.info)
        info["provenance"] = json.loads(info.pop("provenance_json") or "{}")
        return info

    @property
    def artifact(self) -> ArtifactMetadata:
        """The generic metadata (as :class:`ArtifactSession` shows it), checked against the graph."""
        return self._classifier.artifact

    def classify(
        self,
        image: ImageInput,
        *,
        defect_threshold: float | None = None,
        pixel_threshold: float | None = None,
    ) -> Classification:
        """Classifies one image.

        Args:
            image: an image file (PNG, JPEG or TIFF, decided by content); encoded bytes of one;
                or an array ``(H, W)`` / ``(H, W, C)`` with C 1, 3 or 4 (alpha dropped), uint8 or
                uint16 (scaled to 8 bits). A C-contiguous uint8 grey or RGB array is read in
                place, without a copy; others are converted once.
            defect_threshold: overrides the defect threshold for this call.
            pixel_threshold: overrides the pixel threshold for this call.

        Returns:
            The :class:`Classification`.

        Raises:
            defectkit.InvalidArgumentError: an array the runtime cannot take (dtype, shape,
                channels), or an image of another size than a fixed-size artifact takes.
            defectkit.FileMissingError, defectkit.BadFileError, defectkit.UnsupportedFormatError:
                for files and bytes, as :func:`read_image`.
        """
        defect = self._defect_threshold if defect_threshold is None else defect_threshold
        pixel = self._pixel_threshold if pixel_threshold is None else pixel_threshold
        if isinstance(image, np.ndarray):
            raw = self._classifier.classify_array(image, defect, pixel)
        elif isinstance(image, (str, os.PathLike)):
            raw = self._classifier.classify_path(os.fspath(image), defect, pixel)
        elif isinstance(image, (bytes, bytearray, memoryview)):
            raw = self._classifier.classify_encoded(bytes(image), defect, pixel)
        else:
            msg = f"expected an image path, encoded bytes or a numpy array, got {type(image).__name__}"
            raise InvalidArgumentError(msg)
        return Classification._from_native(raw)

    def classify_batch(self, images: Iterable[ImageInput], **options: Any) -> list[Classification]:
        """Classifies several images in order; ``options`` as for :meth:`classify`."""
        return [self.classify(image, **options) for image in images]
