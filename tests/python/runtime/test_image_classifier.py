"""defectkit.ImageClassifier, read_image and decode_image: the native image head from Python.

The artifact (classifier_artifacts.py) computes known functions of the pixels, so every
result is checked against numpy; images are written by imagecodecs and tifffile.
"""

from __future__ import annotations

import gc
import json
import pathlib
from concurrent.futures import ThreadPoolExecutor

import imagecodecs
import numpy as np
import pytest
import tifffile

import defectkit
from defectkit import _native
from defectkit.cli import main
from runtime.artifacts import write_artifact
from runtime.classifier_artifacts import (
    CLASSES,
    blob_image,
    expected_mask,
    expected_probabilities,
    write_classifier_artifact,
)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return write_classifier_artifact(tmp_path_factory.mktemp("classifier") / "classifier.onnx")


@pytest.fixture(scope="module")
def classifier(artifact: pathlib.Path) -> defectkit.ImageClassifier:
    return defectkit.ImageClassifier(artifact)


def _check(result: defectkit.Classification, image: np.ndarray) -> None:
    assert result.mask.dtype == np.float32
    assert result.mask.shape == image.shape[:2]
    np.testing.assert_allclose(result.mask, expected_mask(image), atol=1e-5)
    np.testing.assert_allclose(result.probabilities, expected_probabilities(image), atol=1e-5)
    assert result.probabilities.dtype == np.float32
    assert result.classes == CLASSES
    assert result.defect_class == 1
    assert result.defect_probability == pytest.approx(float(result.probabilities[1]))
    assert result.is_defective == (result.defect_probability >= result.defect_threshold)
    assert result.label == CLASSES[result.top_class]


# ---- reading images -------------------------------------------------------------------------


def test_read_image_decodes_png_jpeg_and_tiff_by_content(tmp_path: pathlib.Path) -> None:
    rgb = blob_image()
    grey = np.ascontiguousarray(rgb[..., 0])
    offsets = np.arange(rgb.size).reshape(rgb.shape) % 200  # values between multiples of 257
    wide = (rgb.astype(np.int64) * 257 - offsets).clip(0, 65535).astype(np.uint16)
    rgba = np.dstack([rgb, np.full(grey.shape, 7, np.uint8)])
    (tmp_path / "rgb.jpg").write_bytes(imagecodecs.png_encode(rgb))  # a PNG, whatever the name says
    (tmp_path / "grey.png").write_bytes(imagecodecs.png_encode(grey))
    (tmp_path / "wide.png").write_bytes(imagecodecs.png_encode(wide))
    (tmp_path / "rgba.png").write_bytes(imagecodecs.png_encode(rgba))
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "wide.tif", wide, photometric="rgb")

    np.testing.assert_array_equal(defectkit.read_image(tmp_path / "rgb.jpg"), rgb)
    np.testing.assert_array_equal(defectkit.read_image(tmp_path / "grey.png"), grey[..., None])
    scaled = np.round(wide / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(defectkit.read_image(tmp_path / "wide.png"), scaled)
    np.testing.assert_array_equal(defectkit.read_image(tmp_path / "rgba.png"), rgb)
    np.testing.assert_array_equal(defectkit.read_image(tmp_path / "rgb.tif"), rgb)
    np.testing.assert_array_equal(defectkit.read_image(str(tmp_path / "wide.tif")), scaled)
    image = defectkit.read_image(tmp_path / "rgb.jpg")
    assert image.dtype == np.uint8 and image.flags.c_contiguous

    jpeg = imagecodecs.jpeg8_encode(rgb, level=95)
    decoded = defectkit.decode_image(jpeg)
    assert decoded.shape == rgb.shape
    assert np.abs(decoded.astype(int) - imagecodecs.jpeg8_decode(jpeg).astype(int)).max() <= 1
    np.testing.assert_array_equal(defectkit.decode_image(bytearray(imagecodecs.png_encode(rgb))), rgb)


def test_read_image_refusals_name_the_file(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(defectkit.FileMissingError, match=f"^{missing}: no such file"):
        defectkit.read_image(missing)
    with pytest.raises(FileNotFoundError):
        defectkit.read_image(missing)
    cut = tmp_path / "cut.png"
    cut.write_bytes(imagecodecs.png_encode(blob_image())[:60])
    with pytest.raises(defectkit.BadFileError, match=f"^{cut}: corrupt or truncated PNG"):
        defectkit.read_image(cut)
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(defectkit.BadFileError, match="not a PNG, JPEG or TIFF image"):
        defectkit.read_image(text)
    floats = tmp_path / "float.tif"
    tifffile.imwrite(floats, np.zeros((4, 5), np.float32))
    with pytest.raises(defectkit.UnsupportedFormatError, match="float32"):
        defectkit.read_image(floats)
    with pytest.raises(defectkit.BadFileError, match=r"^image buffer: empty file"):
        defectkit.decode_image(b"")


# ---- classifying ----------------------------------------------------------------------------


def test_metadata_and_classes(classifier: defectkit.ImageClassifier, artifact: pathlib.Path) -> None:
    assert classifier.classes == CLASSES
    meta = classifier.metadata
    assert meta["family"] == "guided_classifier"
    assert meta["defect_class"] == 1
    assert meta["channels"] == 0
    assert meta["input_size"] == (28, 28)
    assert meta["thresholds"] == {"defect": pytest.approx(0.5), "pixel": pytest.approx(0.6)}
    assert meta["backbone"] == "dinov2" and meta["pooling"] == "guided"
    assert meta["provenance"]["defectkit_version"] == "0.1.0"
    assert classifier.artifact.family == "guided_classifier"
    assert classifier.path == str(artifact)
    assert classifier.provider == "CPUExecutionProvider"


def test_uint8_rgb_and_grey_arrays_are_read_in_place(classifier: defectkit.ImageClassifier) -> None:
    rgb = blob_image()
    grey = np.ascontiguousarray(rgb[..., 0])
    copies, conversions = _native.input_copies(), classifier._classifier.conversions
    result = classifier.classify(rgb)
    _check(result, rgb)
    _check(classifier.classify(grey), grey)  # (H, W)
    _check(classifier.classify(grey[..., None]), grey)  # (H, W, 1)
    assert _native.input_copies() == copies
    assert classifier._classifier.conversions == conversions
    assert [(r.x, r.y, r.width, r.height, r.area) for r in result.regions] == [
        (3, 2, 4, 3, 12),
        (11, 8, 2, 2, 4),
    ]
    assert isinstance(result.regions[0], defectkit.Region)


def test_other_arrays_are_converted_once(classifier: defectkit.ImageClassifier) -> None:
    rgb = blob_image()
    reference = classifier.classify(rgb)
    copies, conversions = _native.input_copies(), classifier._classifier.conversions
    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)])
    np.testing.assert_array_equal(classifier.classify(rgba).mask, reference.mask)
    np.testing.assert_array_equal(classifier.classify(rgb.astype(np.uint16) * 257).mask, reference.mask)
    # A crop: rows apart in memory, handed over as they are, converted once by the runtime.
    big = np.zeros((20, 30, 3), np.uint8)
    big[4:16, 5:21] = rgb
    np.testing.assert_array_equal(classifier.classify(big[4:16, 5:21]).mask, reference.mask)
    assert _native.input_copies() == copies
    assert classifier._classifier.conversions == conversions + 3
    # Pixels scattered within rows (Fortran order): made contiguous by numpy first.
    np.testing.assert_array_equal(classifier.classify(np.asfortranarray(rgb)).mask, reference.mask)
    assert _native.input_copies() == copies + 1


def test_files_and_encoded_bytes(classifier: defectkit.ImageClassifier, tmp_path: pathlib.Path) -> None:
    rgb = blob_image()
    png = imagecodecs.png_encode(rgb)
    (tmp_path / "image.png").write_bytes(png)
    from_file = classifier.classify(tmp_path / "image.png")
    _check(from_file, rgb)
    np.testing.assert_array_equal(classifier.classify(png).mask, from_file.mask)
    np.testing.assert_array_equal(classifier.classify(memoryview(png)).mask, from_file.mask)
    jpeg = imagecodecs.jpeg8_encode(rgb, level=90)
    _check(classifier.classify(jpeg), defectkit.decode_image(jpeg))
    with pytest.raises(defectkit.FileMissingError, match=r"missing\.png: no such file"):
        classifier.classify(tmp_path / "missing.png")
    with pytest.raises(defectkit.BadFileError, match="image buffer: corrupt or truncated JPEG"):
        classifier.classify(jpeg[: len(jpeg) // 2])


def test_thresholds_per_classifier_and_per_call(artifact: pathlib.Path) -> None:
    rgb = blob_image()
    m = float(expected_probabilities(rgb)[1])
    low = defectkit.ImageClassifier(artifact, defect_threshold=m - 0.01, pixel_threshold=0.0)
    result = low.classify(rgb)
    assert result.is_defective
    assert result.defect_threshold == pytest.approx(m - 0.01)
    assert len(result.regions) == 1 and result.regions[0].area == rgb.shape[0] * rgb.shape[1]
    result = low.classify(rgb, defect_threshold=m + 0.01, pixel_threshold=0.99)
    assert not result.is_defective
    assert result.pixel_threshold == pytest.approx(0.99)
    assert result.regions == []


def test_refuses_what_it_cannot_take(classifier: defectkit.ImageClassifier, tmp_path: pathlib.Path) -> None:
    rgb = blob_image()
    with pytest.raises(defectkit.InvalidArgumentError, match="float32 is not uint8 or uint16"):
        classifier.classify(rgb.astype(np.float32))
    with pytest.raises(defectkit.InvalidArgumentError, match="1 \\(grey\\), 3 \\(RGB\\) or 4 \\(RGBA\\)"):
        classifier.classify(rgb[..., :2])
    with pytest.raises(defectkit.InvalidArgumentError, match="is \\(H, W\\) or \\(H, W, C\\)"):
        classifier.classify(rgb[None])
    with pytest.raises(defectkit.InvalidArgumentError, match="empty image"):
        classifier.classify(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(defectkit.InvalidArgumentError, match="expected an image path"):
        classifier.classify(42)  # type: ignore[arg-type]
    grey_only = defectkit.ImageClassifier(write_classifier_artifact(tmp_path / "grey.onnx", channels=1))
    _check(grey_only.classify(rgb[..., 0]), rgb[..., 0])
    with pytest.raises(defectkit.InvalidArgumentError, match="the artifact takes grey images"):
        grey_only.classify(rgb)


def test_each_head_refuses_the_others_family(artifact: pathlib.Path, tmp_path: pathlib.Path) -> None:
    strip = write_artifact(tmp_path / "strip.onnx")
    with pytest.raises(
        defectkit.ModelError, match="a reference_unet artifact; defectkit::ImageClassifier runs"
    ):
        defectkit.ImageClassifier(strip)
    with pytest.raises(defectkit.ModelError, match="a guided_classifier artifact; defectkit::Inspector runs"):
        defectkit.Inspector(artifact)
    broken = write_classifier_artifact(tmp_path / "broken.onnx", family_section={"classes": ["a", "b", "c"]})
    with pytest.raises(defectkit.ModelError, match="has no 'defect_class'"):
        defectkit.ImageClassifier(broken)


def test_verify(artifact: pathlib.Path) -> None:
    import hashlib

    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert defectkit.ImageClassifier(artifact, verify=digest).classes == CLASSES
    with pytest.raises(defectkit.ModelError, match="SHA-256 mismatch"):
        defectkit.ImageClassifier(artifact, verify="0" * 64)


def test_results_own_their_buffers(artifact: pathlib.Path) -> None:
    rgb = blob_image()
    local = defectkit.ImageClassifier(artifact)
    result = local.classify(rgb)
    del local
    gc.collect()
    _check(result, rgb)
    result.mask[0, 0] = 5.0  # writable, its own memory


def test_one_classifier_many_threads(classifier: defectkit.ImageClassifier) -> None:
    images = [np.clip(blob_image().astype(int) + 13 * k, 0, 255).astype(np.uint8) for k in range(6)]
    expected = [classifier.classify(image).mask for image in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        masks = list(pool.map(lambda k: classifier.classify(images[k % 6]).mask, range(48)))
    for k, mask in enumerate(masks):
        np.testing.assert_array_equal(mask, expected[k % 6])


# ---- defectkit bench ------------------------------------------------------------------------


def test_bench_cli_times_a_classifier(
    artifact: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(imagecodecs.png_encode(blob_image()))
    (images / "b.jpg").write_bytes(imagecodecs.jpeg8_encode(blob_image(20, 24)))
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                str(artifact),
                "--images",
                str(images),
                "--runs",
                "3",
                "--warmup",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    record = json.loads(out.read_text())
    assert record["family"] == "guided_classifier"
    assert record["images"].startswith("2 image files")
    assert record["includes_file_read"] is True
    assert record["runs"] == 3 and record["images_per_s"] == record["strips_per_s"] > 0
    from defectkit.benchmarking import RESULT_KEYS

    assert set(RESULT_KEYS) <= set(record)
    assert main(["bench", str(artifact), "--runs", "2", "--warmup", "0", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["images"] == "random 28x28 image in memory" and record["input_size"] == [28, 28]
    assert main(["bench", str(artifact), "--strips", str(images)]) == 2
    assert (
        "a guided_classifier artifact classifies images: give --images, not --strips"
        in capsys.readouterr().err
    )


def test_provider_options_for_a_provider_that_takes_none_are_refused(artifact: pathlib.Path) -> None:
    with pytest.raises(defectkit.InvalidArgumentError, match="openvino provider only"):
        defectkit.ImageClassifier(artifact, provider_options={"device_type": "CPU"})
