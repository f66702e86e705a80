"""The native runtime, as Python sees it: strip reading, ONNX Runtime sessions and any artifact.
Strip inspection (reference_unet) lives in :mod:`defectkit.strip_runtime`, image reading and
classification (guided_classifier) in :mod:`defectkit.image_runtime`; both build on this module.

Everything here runs in C++ (``defectkit._native``) and needs neither torch
nor tifffile: a production install is numpy + onnxruntime + this package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from defectkit import _native
from defectkit._ortpath import find_onnxruntime_library
from defectkit._version import __version__
from defectkit.errors import InvalidArgumentError

__all__ = [
    "ArtifactMetadata",
    "ArtifactSession",
    "Model",
    "Region",
    "TensorSpec",
    "native_info",
    "onnxruntime_library_path",
    "read_artifact_metadata",
    "read_strip",
]

# The C++ structs themselves (read-only properties), as the runtime parsed them.
ArtifactMetadata = _native.ArtifactMetadata
TensorSpec = _native.TensorSpec

ORT_LIBRARY_ENV = "DEFECTKIT_ORT_LIBRARY"


def onnxruntime_library_path() -> str:
    """Returns the ONNX Runtime library the runtime opens.

    ``$DEFECTKIT_ORT_LIBRARY`` when set, else the library inside the installed
    onnxruntime package, else the path compiled in at build time.
    """
    from_env = os.environ.get(ORT_LIBRARY_ENV)
    if from_env:
        return from_env
    found = find_onnxruntime_library()
    return str(found) if found is not None else _native.default_onnxruntime_library()


def native_info() -> dict[str, Any]:
    """Loads ONNX Runtime if needed and describes the native runtime.

    Returns:
        ``{"defectkit": version, "onnxruntime": version, "onnxruntime_library": path,
        "providers": [...], "int8_8bit_weights_exact": bool}`` (the last: whether this CPU has
        AVX512-VNNI, without which the runtime refuses INT8 artifacts with 8-bit weights).

    Raises:
        defectkit.BackendError: ONNX Runtime cannot be loaded.
    """
    info = _native.load_onnxruntime(onnxruntime_library_path())
    return {
        "defectkit": __version__,
        "onnxruntime": info["version"],
        "onnxruntime_library": info["library_path"],
        "providers": list(info["providers"]),
        "int8_8bit_weights_exact": bool(_native.cpu_sums_int8_products_exactly()),
    }


def read_strip(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads a strip TIFF with the native (libtiff) reader.

    Args:
        path: a TIFF per the data contract (3 or 4 channels; planar, contiguous
            or one page per channel; uint8/uint16/float32/float64).

    Returns:
        ``(C, H, W)`` float32 on the 0..255 scale (uint16 divided by 257).

    Raises:
        defectkit.FileMissingError: the file does not exist.
        defectkit.BadFileError: the file breaks the contract (message names file and problem).
        defectkit.UnsupportedFormatError: a sample format or codec outside the contract.
    """
    return _native.read_strip(os.fspath(path))


class Model:
    """One ONNX Runtime session over an ONNX file, run by the C++ runtime.

    Args:
        path: the ``.onnx`` file.
        intra_op_threads: threads inside one operator; 0 lets ONNX Runtime decide.
        inter_op_threads: threads across operators; 0 lets ONNX Runtime decide.
        onnxruntime_library: the library to open; default :func:`onnxruntime_library_path`.
        provider: ``"cpu"`` (always there), ``"cuda"``, ``"tensorrt"`` or ``"openvino"`` when the
            loaded ONNX Runtime offers it (else :class:`defectkit.BackendError`).
        graph_optimization: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``.

    Raises:
        defectkit.FileMissingError, defectkit.ModelError, defectkit.BackendError,
        defectkit.InvalidArgumentError (an unknown provider or optimisation level).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        intra_op_threads: int = 0,
        inter_op_threads: int = 0,
        onnxruntime_library: str | None = None,
        provider: str = "cpu",
        graph_optimization: str = "all",
    ) -> None:
        library = onnxruntime_library or onnxruntime_library_path()
        self._model = _native.Model(
            os.fspath(path), intra_op_threads, inter_op_threads, library, provider, graph_optimization
        )

    @property
    def path(self) -> str:
        """The file the session was created from."""
        return self._model.path

    @property
    def provider(self) -> str:
        """The execution provider the session runs on (``"CPUExecutionProvider"``, ...)."""
        return self._model.provider

    @property
    def input_names(self) -> list[str]:
        """Graph input names, in order."""
        return [name for name, _ in self._model.inputs]

    @property
    def output_names(self) -> list[str]:
        """Graph output names, in order."""
        return [name for name, _ in self._model.outputs]

    @property
    def metadata(self) -> dict[str, str]:
        """The file's ``metadata_props``."""
        return dict(self._model.metadata)

    def run(self, inputs: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs the graph.

        Args:
            inputs: float32 arrays, one per input, in order or by name. C-contiguous
                float32 arrays are passed without a copy; others are converted once.

        Returns:
            Output name -> float32 array.
        """
        if isinstance(inputs, Mapping):
            missing = [name for name in self.input_names if name not in inputs]
            if missing:
                msg = f"{self.path}: missing inputs {missing}; the model takes {self.input_names}"
                raise InvalidArgumentError(msg)
            arrays = [inputs[name] for name in self.input_names]
        else:
            arrays = list(inputs)
        outputs = self._model.run(arrays)
        return dict(zip(self.output_names, outputs, strict=True))


def read_artifact_metadata(
    path: str | os.PathLike[str], *, onnxruntime_library: str | None = None
) -> ArtifactMetadata:
    """Reads any artifact's metadata with the native parser (no onnx package needed).

    Format 2 as written, format 1 converted; either way checked against the graph (whose
    shapes complete a format-1 file's tensor specs). An INT8 file this CPU would refuse to run
    (8-bit weights without AVX512-VNNI, docs/HARDENING.md) is still described here.

    Args:
        path: the ``.onnx`` artifact.
        onnxruntime_library: the library to open; default :func:`onnxruntime_library_path`.

    Returns:
        The :class:`ArtifactMetadata` (``format_version``, ``family``, ``precision``, ``inputs``
        and ``outputs`` as :class:`TensorSpec`, ``thresholds``, ``family_section``, ``provenance``).

    Raises:
        defectkit.FileMissingError, defectkit.ModelError (not an artifact, a newer format,
        metadata that disagrees with the graph), defectkit.BackendError.
    """
    library = onnxruntime_library or onnxruntime_library_path()
    return _native.read_artifact_metadata(os.fspath(path), library)


class ArtifactSession:
    """Any defectkit artifact, whatever its family: named arrays in, named arrays out.

    The metadata (format 1 or 2) is parsed and checked against the graph when the session
    opens. Thread-safe: one session may serve several Python threads (the GIL is released
    while it runs).

    Args:
        path: the ``.onnx`` artifact.
        intra_op_threads: threads inside one operator; 0 lets ONNX Runtime decide.
        inter_op_threads: threads across operators; 0 lets ONNX Runtime decide.
        provider: ``"cpu"``, or ``"cuda"``/``"tensorrt"``/``"openvino"`` when available.
        graph_optimization: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``.
        onnxruntime_library: the library to open; default :func:`onnxruntime_library_path`.

    Raises:
        defectkit.FileMissingError, defectkit.ModelError, defectkit.BackendError.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        intra_op_threads: int = 0,
        inter_op_threads: int = 0,
        provider: str = "cpu",
        graph_optimization: str = "all",
        onnxruntime_library: str | None = None,
    ) -> None:
        library = onnxruntime_library or onnxruntime_library_path()
        self._session = _native.ArtifactSession(
            os.fspath(path), intra_op_threads, inter_op_threads, library, provider, graph_optimization
        )

    @property
    def path(self) -> str:
        """The artifact file."""
        return self._session.path

    @property
    def provider(self) -> str:
        """The execution provider the session runs on."""
        return self._session.provider

    @property
    def metadata(self) -> ArtifactMetadata:
        """The artifact's metadata, checked against the graph."""
        return self._session.metadata

    @property
    def input_names(self) -> list[str]:
        """Input names, in the graph's order."""
        return [spec.name for spec in self._session.metadata.inputs]

    @property
    def output_names(self) -> list[str]:
        """Output names, in the graph's order."""
        return [spec.name for spec in self._session.metadata.outputs]

    def run(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Runs the graph.

        Args:
            inputs: one array per input, by name, in any order, e.g. ``{"image": (N, H, W, 3)
                uint8, "series": (N, T) float32}``. A C-contiguous array of the spec's dtype is
                read in place; others are converted once, within their kind (float64 to
                float32, int32 to int64, not float to uint8).

        Returns:
            Output name -> array (the spec's dtype; each array owns its buffer), in output order.

        Raises:
            defectkit.InvalidArgumentError: a missing, unknown, mistyped or misshaped input,
                named in the message.
        """
        return self._session.run(dict(inputs))


@dataclass(frozen=True)
class Region:
    """One connected component (8-connectivity) of ``heatmap >= pixel_threshold``.

    Attributes:
        x: left column of the bounding box.
        y: top row of the bounding box.
        width: bounding box width, pixels.
        height: bounding box height, pixels.
        area: pixels in the component.
        peak: highest heatmap value inside it.
        centroid_x: mean column of its pixels.
        centroid_y: mean row of its pixels.
    """

    x: int
    y: int
    width: int
    height: int
    area: int
    peak: float
    centroid_x: float
    centroid_y: float
