"""defectkit: train defect-detection models in Python, run them natively on the line.

The runtime API (this module) needs numpy and onnxruntime only; training and
export come with the ``defectkit[train]`` extra.
"""

from __future__ import annotations

import pathlib

from defectkit._version import __version__
from defectkit.errors import (
    BackendError,
    BadFileError,
    Error,
    FileMissingError,
    InvalidArgumentError,
    ModelError,
    UnsupportedFormatError,
)
from defectkit.image_runtime import Classification, ImageClassifier, decode_image, read_image
from defectkit.runtime import (
    ArtifactSession,
    Model,
    Region,
    native_info,
    onnxruntime_library_path,
    read_artifact_metadata,
    read_strip,
)
from defectkit.strip_runtime import Inspection, Inspector

__all__ = [
    "ArtifactSession",
    "BackendError",
    "BadFileError",
    "Classification",
    "Error",
    "FileMissingError",
    "ImageClassifier",
    "Inspection",
    "Inspector",
    "InvalidArgumentError",
    "Model",
    "ModelError",
    "Region",
    "UnsupportedFormatError",
    "__version__",
    "cmake_dir",
    "decode_image",
    "native_info",
    "onnxruntime_library_path",
    "read_artifact_metadata",
    "read_image",
    "read_strip",
]


def cmake_dir() -> pathlib.Path:
    """Returns the folder holding ``defectkitConfig.cmake`` in this installation.

    A C++ program builds against the installed package with
    ``cmake -Ddefectkit_DIR=$(python -c "import defectkit; print(defectkit.cmake_dir())")``.
    """
    from defectkit import _native

    # The compiled module sits in the installed package folder beside lib/,
    # also in an editable install, where __file__ points at the sources.
    return pathlib.Path(_native.__file__).parent / "lib" / "cmake" / "defectkit"
