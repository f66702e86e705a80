"""A session fixed to one input shape (the OpenVINO provider's ``reshape_input``) refuses others.

Given a fixed shape, the OpenVINO provider read any input as that shape: an RGB PNG through the
ViT-S/14 INT8 artifact fixed to one channel came back with a wrong probability and no error. The
runtime now checks each input against the shape first (``defectkit/input_bounds.h``; its parser
is tested in tests/cpp/test_input_bounds.cpp). The provider comes with ``make bench``
(``.deps/onnxruntime-openvino``), not with ``make test``, so this runs where it is installed and
skips elsewhere; one process opens one ONNX Runtime library, hence the subprocess.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from benchmarks.openvino_peer import openvino_ep_library

from runtime.classifier_artifacts import write_classifier_artifact

LIBRARY = openvino_ep_library()
pytestmark = pytest.mark.skipif(
    LIBRARY is None, reason="ONNX Runtime's OpenVINO provider: `make bench` installs it"
)

CHECK = """
import json, sys
import numpy as np
import defectkit
from runtime.classifier_artifacts import blob_image

artifact, library = sys.argv[1], sys.argv[2]
out = {}

def attempt(key, options, image):
    try:
        c = defectkit.ImageClassifier(artifact, provider="openvino", onnxruntime_library=library,
                                      provider_options=options)
        out[key] = c.classify(image).probabilities.tolist()
    except defectkit.Error as e:
        out[key] = f"refused ({type(e).__name__}): {e}"

grey, rgb = blob_image(12, 16, 1), blob_image(12, 16, 3)
attempt("free grey", None, grey)
attempt("fixed grey", {"reshape_input": "image[1,12,16,1]"}, grey)
attempt("fixed grey, rgb given", {"reshape_input": "image[1,12,16,1]"}, rgb)
attempt("range, rgb given", {"reshape_input": "image[1,12,16,1..3]"}, rgb)
attempt("free rgb", None, rgb)
attempt("not an input", {"reshape_input": "strip[1,12,16,1]"}, grey)
attempt("malformed", {"reshape_input": "image[1,12,16"}, grey)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    artifact = write_classifier_artifact(tmp_path_factory.mktemp("classifier") / "classifier.onnx")
    tests = pathlib.Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(artifact), str(LIBRARY)],
        capture_output=True, text=True, timeout=300, cwd=tests, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_fixed_shape_runs_as_without_it(outcomes: dict) -> None:
    assert outcomes["fixed grey"] == pytest.approx(outcomes["free grey"], abs=1e-5)
    assert outcomes["range, rgb given"] == pytest.approx(outcomes["free rgb"], abs=1e-5)


def test_another_shape_is_refused_naming_both(outcomes: dict) -> None:
    message = outcomes["fixed grey, rgb given"]
    assert message.startswith("refused (InvalidArgumentError): ")
    assert "input 'image' is (1, 12, 16, 3), outside the [1, 12, 16, 1]" in message
    assert "reshape_input 'image[1,12,16,1]'" in message


def test_a_name_that_is_no_input_and_a_malformed_value_are_refused(outcomes: dict) -> None:
    # OpenVINO refuses an unknown name itself while the session loads, before the runtime's own
    # check (which names the model's inputs) could.
    assert outcomes["not an input"].startswith("refused (ModelError): ")
    assert "'strip' is not found" in outcomes["not an input"]
    assert outcomes["malformed"].startswith("refused (InvalidArgumentError): ")
    assert "provider option reshape_input 'image[1,12,16': no ']'" in outcomes["malformed"]
