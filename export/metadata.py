"""The artifact's self-description: ``defectkit.*`` keys in the ONNX file's ``metadata_props``.

The keys and their meaning are the contract in docs/ARTIFACT.md, shared with the
C++ runtime. Structured values are JSON text, so any ONNX tool shows them and
any language parses them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import onnx

from defectkit.errors import BadFileError, FileMissingError, ModelError

__all__ = ["FORMAT_VERSION", "PREFIX", "ArtifactMetadata", "read_metadata", "write_metadata"]

FORMAT_VERSION = 1
PREFIX = "defectkit."
_JSON_KEYS = ("input", "image_size", "tiling", "score", "outputs", "thresholds", "provenance")
_TEXT_KEYS = ("family", "graph", "precision")


@dataclasses.dataclass
class ArtifactMetadata:
    """Everything the runtime needs to run an artifact, typed. Field names are the keys without
    the ``defectkit.`` prefix."""

    family: str
    graph: str  # "tiled", "full_frame" or "patch"
    input: dict[str, Any]
    image_size: tuple[int, int]
    tiling: dict[str, Any]
    score: dict[str, Any]
    outputs: dict[str, Any]
    thresholds: dict[str, float]
    precision: str  # "fp32" or "int8"
    provenance: dict[str, Any]
    format_version: int = FORMAT_VERSION

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` entries, key -> string value."""
        values = dataclasses.asdict(self)
        props = {f"{PREFIX}format_version": str(self.format_version)}
        props.update({f"{PREFIX}{key}": str(values[key]) for key in _TEXT_KEYS})
        props.update({f"{PREFIX}{key}": json.dumps(values[key], sort_keys=True) for key in _JSON_KEYS})
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "<model>") -> ArtifactMetadata:
        """Parses ``metadata_props``; refuses missing keys, bad JSON and newer formats.

        Raises:
            ModelError: naming ``source`` and the problem.
        """
        version_text = props.get(f"{PREFIX}format_version")
        if version_text is None:
            msg = f"{source}: not a defectkit artifact (no {PREFIX}format_version in its metadata)"
            raise ModelError(msg)
        try:
            version = int(version_text)
        except ValueError as error:
            msg = f"{source}: {PREFIX}format_version is {version_text!r}, not an integer"
            raise ModelError(msg) from error
        if version > FORMAT_VERSION:
            msg = f"{source}: artifact format {version} is newer than this defectkit reads ({FORMAT_VERSION})"
            raise ModelError(msg)
        missing = [f"{PREFIX}{k}" for k in (*_TEXT_KEYS, *_JSON_KEYS) if f"{PREFIX}{k}" not in props]
        if missing:
            msg = f"{source}: artifact metadata lacks {', '.join(missing)}"
            raise ModelError(msg)
        fields: dict[str, Any] = {key: props[f"{PREFIX}{key}"] for key in _TEXT_KEYS}
        for key in _JSON_KEYS:
            try:
                fields[key] = json.loads(props[f"{PREFIX}{key}"])
            except json.JSONDecodeError as error:
                msg = f"{source}: {PREFIX}{key} is not valid JSON ({error})"
                raise ModelError(msg) from error
        size = fields["image_size"]
        if not (isinstance(size, list) and len(size) == 2 and all(type(v) is int and v > 0 for v in size)):
            msg = f"{source}: {PREFIX}image_size must be [H, W] of positive integers, got {size!r}"
            raise ModelError(msg)
        fields["image_size"] = tuple(size)
        wrong = [k for k in _JSON_KEYS if k != "image_size" and not isinstance(fields[k], dict)]
        if wrong:
            msg = f"{source}: {', '.join(PREFIX + k for k in wrong)} must be JSON objects"
            raise ModelError(msg)
        return cls(format_version=version, **fields)


def write_metadata(model: onnx.ModelProto, metadata: ArtifactMetadata) -> None:
    """Replaces the model's ``defectkit.*`` metadata with ``metadata`` (other keys stay)."""
    kept = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    for key, value in [*kept, *metadata.to_props().items()]:
        model.metadata_props.add(key=key, value=value)


def read_metadata(path: str | os.PathLike[str]) -> ArtifactMetadata:
    """Reads an artifact's metadata without loading its weights into memory twice.

    Raises:
        FileMissingError: no file at ``path``.
        BadFileError: not an ONNX file.
        ModelError: no or invalid defectkit metadata.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        msg = f"{path}: no such artifact"
        raise FileMissingError(msg)
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as error:  # protobuf raises DecodeError, onnx its own types
        msg = f"{path}: not an ONNX file ({type(error).__name__}: {error})"
        raise BadFileError(msg) from error
    return ArtifactMetadata.from_props({p.key: p.value for p in model.metadata_props}, source=path)
