"""The typed artifact schema (docs/ARTIFACT.md): format 2 round-trips, format 1 converts, and
malformed values are refused with a ModelError naming the source and the key."""

from __future__ import annotations

import dataclasses
import json

import pytest

from defectkit.artifact import PREFIX, ArtifactMetadata, TensorSpec
from defectkit.errors import ModelError


def valid() -> ArtifactMetadata:
    return ArtifactMetadata(
        family="toy",
        precision="int8",
        inputs=[
            TensorSpec("signal", "float32", ("batch", 8), "NC"),
            TensorSpec("image", "uint8", ("batch", 1, 16, 16), "NCHW", 255.0),
        ],
        outputs=[TensorSpec("score", "float32", ("batch",), "N", None, "defect probability")],
        thresholds={"image": 0.5},
        family_section={"anything": [1, 2]},
        provenance={"defectkit_version": "0"},
    )


def test_round_trip_through_metadata_props() -> None:
    props = valid().to_props()
    assert props[PREFIX + "format_version"] == "2"
    assert json.loads(props[PREFIX + "inputs"])[1]["shape"] == ["batch", 1, 16, 16]
    assert ArtifactMetadata.from_props(props) == valid()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("format_version", "3", "newer"),
        ("format_version", "two", "not an integer"),
        ("inputs", "[]", "non-empty JSON list"),
        ("inputs", "{}", "non-empty JSON list"),
        ("inputs", '[{"name": "x", "dtype": "float16", "shape": [1]}]', r"inputs\[0\] \(x\): dtype"),
        ("inputs", '[{"name": "x", "dtype": "uint8", "shape": [-1]}]', "shape must list"),
        ("inputs", '[{"name": "x", "dtype": "uint8", "shape": 3}]', "shape must list"),
        ("inputs", '[{"dtype": "uint8", "shape": [1]}]', "non-empty name"),
        (
            "outputs",
            '[{"name": "y", "dtype": "float32", "shape": [1], "scale": "big"}]',
            "scale must be a number",
        ),
        ("thresholds", '{"image": "high"}', "map names to numbers"),
        ("thresholds", "[0.5]", "must be a JSON object"),
        ("family_section", "7", "must be a JSON object"),
        ("provenance", "{not json", "not valid JSON"),
    ],
)
def test_malformed_values_are_refused(key, value, message) -> None:
    props = {**valid().to_props(), PREFIX + key: value}
    with pytest.raises(ModelError, match=f"a.onnx: .*{message}"):
        ArtifactMetadata.from_props(props, source="a.onnx")


def test_missing_keys_are_named() -> None:
    props = valid().to_props()
    del props[PREFIX + "outputs"]
    with pytest.raises(ModelError, match=r"a\.onnx: artifact metadata lacks defectkit\.outputs"):
        ArtifactMetadata.from_props(props, source="a.onnx")
    with pytest.raises(ModelError, match="not a defectkit artifact"):
        ArtifactMetadata.from_props({}, source="a.onnx")


def _v1(**overrides: str) -> dict[str, str]:
    values = {
        "format_version": "1",
        "family": "reference_unet",
        "graph": "tiled",
        "precision": "fp32",
        "input": json.dumps(
            {
                "name": "strip",
                "scale": 255.0,
                "channels": ["target", "ref1", "ref2"],
                "accepted_channels": [3, 4],
                "fourth_channel": "ignore",
            }
        ),
        "image_size": "[976, 176]",
        "tiling": json.dumps({"patch": 128}),
        "score": json.dumps({"box": 3}),
        "outputs": json.dumps({"format": "raw", "heatmap": "heatmap", "score": "score"}),
        "thresholds": json.dumps({"image": 0.5, "pixel": 0.4}),
        "provenance": "{}",
    }
    return {PREFIX + k: v for k, v in {**values, **overrides}.items()}


def test_format_1_reads_as_format_2() -> None:
    metadata = ArtifactMetadata.from_props(_v1())
    assert metadata.format_version == 1 and metadata.family == "reference_unet"
    assert [s.name for s in metadata.inputs] == ["strip"] and metadata.inputs[0].scale == 255.0
    assert [s.name for s in metadata.outputs] == ["heatmap", "score"]
    assert metadata.thresholds == {"image": 0.5, "pixel": 0.4}
    section = metadata.family_section
    assert section["graph"] == "tiled" and section["image_size"] == [976, 176]
    assert section["tiling"] == {"patch": 128} and section["output_format"] == "raw"
    assert metadata.to_props()[PREFIX + "format_version"] == "2"  # written back, it is format 2


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("image_size", "7", "image_size must be"),
        ("image_size", "[976, -1]", "image_size must be"),
        ("tiling", "[1]", "must be JSON objects"),
    ],
)
def test_malformed_format_1_values_are_refused(key, value, message) -> None:
    with pytest.raises(ModelError, match=message):
        ArtifactMetadata.from_props(_v1(**{key: value}), source="a.onnx")


def test_int8_weight_bits_round_trip_and_default_to_full_range() -> None:
    """7-bit weights are declared (the runtime refuses 8-bit ones on CPUs without VNNI); an INT8
    file without the key was written before it, with full-range weights."""
    seven = valid()
    seven.int8_weight_bits = 7
    props = seven.to_props()
    assert props[PREFIX + "int8_weight_bits"] == "7"
    assert ArtifactMetadata.from_props(props).int8_weight_bits == 7
    del props[PREFIX + "int8_weight_bits"]
    assert ArtifactMetadata.from_props(props).int8_weight_bits == 8
    assert valid().int8_weight_bits == 8  # undeclared INT8: full range
    fp32 = dataclasses.replace(valid(), precision="fp32")
    assert PREFIX + "int8_weight_bits" not in fp32.to_props()
    assert ArtifactMetadata.from_props(fp32.to_props()).int8_weight_bits is None
    message = r'a\.onnx: defectkit\.int8_weight_bits must be "7" or "8", got \'6\''
    with pytest.raises(ModelError, match=message):
        ArtifactMetadata.from_props({**props, PREFIX + "int8_weight_bits": "6"}, "a.onnx")
