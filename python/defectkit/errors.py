"""The exceptions defectkit raises, shared by the native runtime and Python code.

Every error is a :class:`Error`; the subclasses also derive from the builtin
exception a caller would naturally catch (a missing file is a
``FileNotFoundError``, a malformed strip a ``ValueError``). The native module
maps ``defectkit::ErrorCode`` onto these classes, so a strip refused by the C++
reader and one refused by the tifffile reader raise the same type.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BadFileError",
    "Error",
    "FileMissingError",
    "InvalidArgumentError",
    "ModelError",
    "UnsupportedFormatError",
    "error_for_code",
]


class Error(Exception):
    """Base class of every defectkit error. ``code`` names the kind of failure."""

    code = "error"


class InvalidArgumentError(Error, ValueError):
    """The caller passed something unusable (bad shape, dtype or option)."""

    code = "invalid_argument"


class FileMissingError(Error, FileNotFoundError):
    """A path that does not exist or cannot be opened."""

    code = "file_not_found"


class BadFileError(Error, ValueError):
    """A file that breaks the data contract: not a TIFF, truncated, NaN values, wrong channels."""

    code = "bad_file"


class UnsupportedFormatError(BadFileError):
    """A well-formed file in a variant defectkit does not read (signed integers, lossy codecs)."""

    code = "unsupported"


class ModelError(Error, ValueError):
    """An ONNX artifact that cannot be used (corrupt, foreign, missing metadata)."""

    code = "model"


class BackendError(Error, RuntimeError):
    """ONNX Runtime itself failed: library missing, session or run failure."""

    code = "backend"


_BY_CODE: dict[str, type[Error]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        FileMissingError,
        BadFileError,
        UnsupportedFormatError,
        ModelError,
        BackendError,
    )
}


def error_for_code(code: str) -> type[Error]:
    """Returns the exception class for a native error code name (``"bad_file"``)."""
    return _BY_CODE.get(code, Error)
