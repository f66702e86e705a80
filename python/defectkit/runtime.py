"""The native runtime, as Python sees it: strip reading and ONNX Runtime sessions.

Everything here runs in C++ (``defectkit._native``) and needs neither torch
nor tifffile: a production install is numpy + onnxruntime + this package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from defectkit import _native
from defectkit._ortpath import find_onnxruntime_library
from defectkit._version import __version__
from defectkit.errors import InvalidArgumentError

__all__ = ["Model", "native_info", "onnxruntime_library_path", "read_strip"]

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
        "providers": [...]}``.

    Raises:
        defectkit.BackendError: ONNX Runtime cannot be loaded.
    """
    info = _native.load_onnxruntime(onnxruntime_library_path())
    return {
        "defectkit": __version__,
        "onnxruntime": info["version"],
        "onnxruntime_library": info["library_path"],
        "providers": list(info["providers"]),
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

    Raises:
        defectkit.FileMissingError, defectkit.ModelError, defectkit.BackendError.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        intra_op_threads: int = 0,
        inter_op_threads: int = 0,
        onnxruntime_library: str | None = None,
    ) -> None:
        library = onnxruntime_library or onnxruntime_library_path()
        self._model = _native.Model(os.fspath(path), intra_op_threads, inter_op_threads, library)

    @property
    def path(self) -> str:
        """The file the session was created from."""
        return self._model.path

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
