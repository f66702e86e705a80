"""Artifact metadata parsing refuses malformed values with ModelError naming the source."""

from __future__ import annotations

import pytest

from defectkit.errors import ModelError
from defectkit.export.metadata import ArtifactMetadata


def valid() -> ArtifactMetadata:
    return ArtifactMetadata(
        family="reference_unet",
        graph="tiled",
        input={"name": "strip"},
        image_size=(976, 176),
        tiling={"patch": 128},
        score={"box": 3},
        outputs={"format": "raw"},
        thresholds={"image": 0.5, "pixel": 0.5},
        precision="fp32",
        provenance={},
    )


def test_round_trip() -> None:
    assert ArtifactMetadata.from_props(valid().to_props()) == valid()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("defectkit.format_version", "2", "newer"),
        ("defectkit.format_version", "one", "not an integer"),
        ("defectkit.image_size", "7", "image_size must be"),
        ("defectkit.image_size", "[976]", "image_size must be"),
        ("defectkit.image_size", "[976, -1]", "image_size must be"),
        ("defectkit.thresholds", "[0.5]", "must be JSON objects"),
        ("defectkit.tiling", "{not json", "not valid JSON"),
    ],
)
def test_malformed_values_are_refused(key, value, message) -> None:
    props = {**valid().to_props(), key: value}
    with pytest.raises(ModelError, match=message):
        ArtifactMetadata.from_props(props, source="a.onnx")


def test_missing_keys_are_named() -> None:
    props = valid().to_props()
    del props["defectkit.tiling"]
    with pytest.raises(ModelError, match=r"a\.onnx: artifact metadata lacks defectkit\.tiling"):
        ArtifactMetadata.from_props(props, source="a.onnx")
