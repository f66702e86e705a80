"""The artifact's self-description, typed: ``defectkit.*`` keys in the ONNX file's ``metadata_props``.

docs/ARTIFACT.md is the contract; these dataclasses mirror the C++
``defectkit::ArtifactMetadata`` (``cpp/include/defectkit/artifact_metadata.h``):
export writes through them, tests read through them, and the native runtime
parses the same JSON. Format 2 has a common header (format version, family,
precision, provenance), named inputs and outputs, thresholds and a family
section; format 1 (reference_unet before the family seam) is read and
converted.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING, Any

from defectkit.errors import BadFileError, FileMissingError, ModelError

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DTYPES",
    "FORMAT_VERSION",
    "PREFIX",
    "ArtifactMetadata",
    "TensorSpec",
    "read_metadata",
    "write_metadata",
]

FORMAT_VERSION = 2
PREFIX = "defectkit."
DTYPES = ("float32", "uint8", "int64")
_JSON_KEYS = ("inputs", "outputs", "thresholds", "family_section", "provenance")
_TEXT_KEYS = ("family", "precision")
_V1_JSON_KEYS = ("input", "image_size", "tiling", "score", "outputs", "thresholds", "provenance")
_V1_TEXT_KEYS = ("family", "graph", "precision")


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, element type, shape (ints fixed, strings symbolic),
    layout (axis names), value scale (inputs: the top of the range they take) and a meaning."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]
    layout: str = ""
    scale: float | None = None
    meaning: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> TensorSpec:
        """Raises ModelError naming ``where`` on any malformed field."""
        if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
            msg = f"{where} must be an object with a non-empty name, got {value!r}"
            raise ModelError(msg)
        if value.get("dtype") not in DTYPES:
            dtype = value.get("dtype")
            msg = f"{where} ({value['name']}): dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
            raise ModelError(msg)
        shape = value.get("shape")
        if not isinstance(shape, list) or not all(
            (type(d) is int and d >= 0) or (isinstance(d, str) and d) for d in shape
        ):
            msg = f"{where} ({value['name']}): shape must list sizes (ints >= 0) or names, got {shape!r}"
            raise ModelError(msg)
        scale = value.get("scale")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))):
            msg = f"{where} ({value['name']}): scale must be a number or null, got {scale!r}"
            raise ModelError(msg)
        for text in ("layout", "meaning"):
            if not isinstance(value.get(text, ""), str):
                msg = f"{where} ({value['name']}): {text} must be text"
                raise ModelError(msg)
        return cls(
            value["name"],
            value["dtype"],
            tuple(shape),
            value.get("layout", ""),
            None if scale is None else float(scale),
            value.get("meaning", ""),
        )


@dataclasses.dataclass
class ArtifactMetadata:
    """Everything the runtime needs to run an artifact, typed (format 2). Field names are the keys
    without the ``defectkit.`` prefix."""

    family: str
    precision: str  # "fp32" or "int8"
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    thresholds: dict[str, float]
    family_section: dict[str, Any]
    provenance: dict[str, Any]
    format_version: int = FORMAT_VERSION
    # INT8: 7 (weights within +-64, exact on every x86-64 CPU) or 8 (+-127: AVX512-VNNI only; what
    # a file without the key has); None for FP32. See cpp/include/defectkit/int8_weights.h.
    int8_weight_bits: int | None = None

    def __post_init__(self) -> None:
        if self.precision == "int8" and self.int8_weight_bits is None:
            self.int8_weight_bits = 8  # undeclared: full range, as every file before the key
        elif self.precision != "int8":
            self.int8_weight_bits = None

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` entries, key -> string value (always format 2)."""
        values = {
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
            "thresholds": self.thresholds,
            "family_section": self.family_section,
            "provenance": self.provenance,
        }
        props = {f"{PREFIX}format_version": str(FORMAT_VERSION)}
        props.update({f"{PREFIX}{key}": str(getattr(self, key)) for key in _TEXT_KEYS})
        props.update({f"{PREFIX}{key}": json.dumps(values[key], sort_keys=True) for key in _JSON_KEYS})
        if self.precision == "int8":
            props[f"{PREFIX}int8_weight_bits"] = str(self.int8_weight_bits)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "<model>") -> ArtifactMetadata:
        """Parses ``metadata_props`` of format 2 or 1; refuses missing keys, bad JSON and newer
        formats. Format 1 carries no tensor shapes: its specs have an empty shape.

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
        if version == 1:
            return _from_v1(_fields(props, _V1_TEXT_KEYS, _V1_JSON_KEYS, source), source)
        fields = _fields(props, _TEXT_KEYS, _JSON_KEYS, source)
        for key in ("inputs", "outputs"):
            if not isinstance(fields[key], list) or not fields[key]:
                msg = f"{source}: {PREFIX}{key} must be a non-empty JSON list of tensor specs"
                raise ModelError(msg)
            fields[key] = [
                TensorSpec.from_dict(v, f"{source}: {PREFIX}{key}[{i}]") for i, v in enumerate(fields[key])
            ]
        for key in ("thresholds", "family_section", "provenance"):
            if not isinstance(fields[key], dict):
                msg = f"{source}: {PREFIX}{key} must be a JSON object"
                raise ModelError(msg)
        bad = {
            k: v
            for k, v in fields["thresholds"].items()
            if isinstance(v, bool) or not isinstance(v, (int, float))
        }
        if bad:
            msg = f"{source}: {PREFIX}thresholds must map names to numbers, got {bad!r}"
            raise ModelError(msg)
        fields["thresholds"] = {k: float(v) for k, v in fields["thresholds"].items()}
        bits = _weight_bits(props, fields["precision"], source)
        return cls(format_version=version, int8_weight_bits=bits, **fields)

    def input(self, name: str) -> TensorSpec:
        return next(s for s in self.inputs if s.name == name)

    def output(self, name: str) -> TensorSpec:
        return next(s for s in self.outputs if s.name == name)


def _fields(props: dict[str, str], text_keys: tuple, json_keys: tuple, source: str) -> dict[str, Any]:
    missing = [f"{PREFIX}{k}" for k in (*text_keys, *json_keys) if f"{PREFIX}{k}" not in props]
    if missing:
        msg = f"{source}: artifact metadata lacks {', '.join(missing)}"
        raise ModelError(msg)
    fields: dict[str, Any] = {key: props[f"{PREFIX}{key}"] for key in text_keys}
    for key in json_keys:
        try:
            fields[key] = json.loads(props[f"{PREFIX}{key}"])
        except json.JSONDecodeError as error:
            msg = f"{source}: {PREFIX}{key} is not valid JSON ({error})"
            raise ModelError(msg) from error
    return fields


def _weight_bits(props: dict[str, str], precision: str, source: str) -> int | None:
    """``defectkit.int8_weight_bits`` of an INT8 file: 7 or 8; None when absent or FP32 (the
    dataclass reads an undeclared INT8 as 8)."""
    text = props.get(f"{PREFIX}int8_weight_bits")
    if precision != "int8" or text is None:
        return None
    if text not in ("7", "8"):
        msg = f'{source}: {PREFIX}int8_weight_bits must be "7" or "8", got {text!r}'
        raise ModelError(msg)
    return int(text)


def _from_v1(fields: dict[str, Any], source: str) -> ArtifactMetadata:
    """A format-1 (reference_unet) artifact's keys, as format 2."""
    size = fields["image_size"]
    if not (isinstance(size, list) and len(size) == 2 and all(type(v) is int and v > 0 for v in size)):
        msg = f"{source}: {PREFIX}image_size must be [H, W] of positive integers, got {size!r}"
        raise ModelError(msg)
    wrong = [k for k in _V1_JSON_KEYS if k != "image_size" and not isinstance(fields[k], dict)]
    if wrong:
        msg = f"{source}: {', '.join(PREFIX + k for k in wrong)} must be JSON objects"
        raise ModelError(msg)
    spec, outputs = fields["input"], fields["outputs"]
    output_specs = [TensorSpec(outputs.get("heatmap", "heatmap"), "float32", ())]
    if outputs.get("score"):
        output_specs.append(TensorSpec(outputs["score"], "float32", ()))
    return ArtifactMetadata(
        format_version=1,
        family=fields["family"],
        precision=fields["precision"],
        inputs=[TensorSpec(spec.get("name", "strip"), "float32", (), "NCHW", spec.get("scale", 255.0))],
        outputs=output_specs,
        thresholds=dict(fields["thresholds"]),
        family_section={
            "graph": fields["graph"],
            "image_size": size,
            "channels": spec.get("channels"),
            "accepted_channels": spec.get("accepted_channels"),
            "fourth_channel": spec.get("fourth_channel", "ignore"),
            "tiling": fields["tiling"],
            "score": fields["score"],
            "output_format": outputs.get("format", "raw"),
        },
        provenance=fields["provenance"],
        # int8_weight_bits: full range (format 1 predates 7-bit weights), set by __post_init__
    )


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
    import onnx  # the [train] extra; the runtime reads metadata natively (defectkit.read_artifact_metadata)

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
