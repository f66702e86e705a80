"""Property-based fuzzing of artifact metadata parsing in Python
(ArtifactMetadata.from_props): any metadata_props must parse or raise a defectkit.Error."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import defectkit
from defectkit.artifact import PREFIX, ArtifactMetadata

_KEYS = ["format_version", "family", "graph", "precision", "input", "image_size", "tiling", "score"]
_KEYS += ["outputs", "thresholds", "provenance", "unknown", "inputs", "family_section"]
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_value = st.one_of(st.text(max_size=20), _json.map(json.dumps), st.sampled_from(["1", "0", "2", " 1", "1.0"]))


# A complete, valid-looking set: fuzzing replaces or drops a few keys, so most examples
# get past the "missing key" check and reach the parsing of each value.
_VALID = {
    "format_version": "1",
    "family": "reference_unet",
    "graph": "patch",
    "precision": "fp32",
    "input": json.dumps({"name": "patch", "layout": "NCHW", "dtype": "float32", "scale": 255.0}),
    "image_size": "[976, 176]",
    "tiling": json.dumps({"patch": 128, "min_overlap": 32}),
    "score": json.dumps({"reduction": "box_mean_max", "box": 3}),
    "outputs": json.dumps({"heatmap": "heatmap"}),
    "thresholds": json.dumps({"image": 0.5, "pixel": 0.5}),
    "provenance": "{}",
}


_VALID_2 = {
    "format_version": "2",
    "family": "toy",
    "precision": "fp32",
    "inputs": json.dumps(
        [{"name": "x", "dtype": "uint8", "shape": ["batch", 3], "layout": "NC", "scale": 255}]
    ),
    "outputs": json.dumps(
        [{"name": "y", "dtype": "float32", "shape": ["batch"], "layout": "N", "scale": None}]
    ),
    "thresholds": json.dumps({"image": 0.5}),
    "family_section": "{}",
    "provenance": "{}",
}


@st.composite
def _props(draw: st.DrawFn) -> dict[str, str]:
    props = {PREFIX + k: v for k, v in draw(st.sampled_from([_VALID, _VALID_2])).items()}
    for key in draw(st.lists(st.sampled_from(_KEYS), max_size=3)):
        props[PREFIX + key] = draw(_value)
    for key in draw(st.lists(st.sampled_from(_KEYS), max_size=1)):
        props.pop(PREFIX + key, None)
    return props


@settings(max_examples=300, deadline=None, database=None)
@given(props=_props())
def test_from_props_returns_or_raises_a_defectkit_error(props: dict[str, str]) -> None:
    with contextlib.suppress(defectkit.Error):
        ArtifactMetadata.from_props(props, "fuzz.onnx")


# A finding of the test above (a TypeError from tuple(image_size)), fixed; kept as a regression.
@pytest.mark.parametrize("image_size", ["null", "5", "true", '"ab"', '{"h": 1, "w": 2}'])
def test_an_image_size_that_is_not_a_list_is_a_model_error(image_size: str) -> None:
    props = {PREFIX + k: v for k, v in _VALID.items()}
    props[PREFIX + "image_size"] = image_size
    with pytest.raises(defectkit.ModelError, match="image_size"):
        ArtifactMetadata.from_props(props, "fuzz.onnx")
