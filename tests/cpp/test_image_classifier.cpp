// ImageClassifier on the hand-built guided_classifier artifact of
// classifier_fixtures.h (mask and probabilities known functions of the
// pixels): grey, RGB, RGBA, 16-bit and strided inputs, files and encoded
// bytes, thresholds and regions, the zero-copy path, threads, and refusals
// (other families both ways, metadata the head cannot use, bad views).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <thread>
#include <vector>

#include "artifact_fixtures.h"
#include "classifier_fixtures.h"
#include "defectkit/error.h"
#include "defectkit/image_classifier.h"
#include "defectkit/inspector.h"
#include "defectkit/integrity.h"
#include "image_fixtures.h"

namespace dt = defectkit::testing;
using defectkit::Classification;
using defectkit::ClassifyOptions;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::ImageClassifier;
using defectkit::ImageView;
using defectkit::PixelType;

namespace {

constexpr int kH = 12, kW = 16;

// Dark background, two bright blobs: a 3 x 4 block and a 2 x 2 block (regions at pixel 0.6).
int rgb_value(int c, int y, int x) {
  const bool blob = (y >= 2 && y < 5 && x >= 3 && x < 7) || (y >= 8 && y < 10 && x >= 11 && x < 13);
  return blob ? 200 + 20 * c : 10 + 3 * c + y + x;
}

std::vector<uint8_t> rgb_image(int channels) {
  std::vector<uint8_t> pixels(static_cast<size_t>(kH) * kW * channels);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x)
      for (int c = 0; c < channels; ++c) pixels[(y * kW + x) * channels + c] = static_cast<uint8_t>(rgb_value(c, y, x));
  return pixels;
}

ImageView view(const void* data, size_t bytes, int channels, PixelType type = PixelType::kUInt8, size_t stride = 0) {
  ImageView v;
  v.data = data;
  v.size_bytes = bytes;
  v.pixel_type = type;
  v.height = kH;
  v.width = kW;
  v.channels = channels;
  v.row_stride = stride;
  return v;
}

std::string artifact(const std::string& name, const dt::ClassifierSpec& spec = {}) {
  const std::string path = dt::temp_path(name);
  dt::write_classifier_artifact(path, spec);
  return path;
}

// What the graph must give for an image whose pixel (y, x) has colour `rgb(c, y, x)`.
void expect_result(const Classification& r, const std::function<int(int, int, int)>& rgb) {
  ASSERT_EQ(r.height, kH);
  ASSERT_EQ(r.width, kW);
  ASSERT_EQ(r.mask.size(), static_cast<size_t>(kH * kW));
  double sum = 0.0;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      const double want = dt::classifier_mask_value(rgb(0, y, x), rgb(1, y, x), rgb(2, y, x));
      EXPECT_NEAR(r.mask[y * kW + x], want, 1e-5) << "y " << y << " x " << x;
      sum += want;
    }
  }
  const double m = sum / (kH * kW);
  ASSERT_EQ(r.probabilities.size(), 3u);
  EXPECT_NEAR(r.probabilities[0], (1 - m) / 2, 1e-5);
  EXPECT_NEAR(r.probabilities[1], m, 1e-5);
  EXPECT_NEAR(r.probabilities[2], (1 - m) / 2, 1e-5);
  EXPECT_EQ(r.classes, (std::vector<std::string>{"good", "defect", "unsure"}));
  EXPECT_EQ(r.defect_class, 1);
  EXPECT_FLOAT_EQ(r.defect_probability, r.probabilities[1]);
  EXPECT_EQ(r.is_defective, r.defect_probability >= r.defect_threshold);
}

void expect_two_blobs(const Classification& r) {
  ASSERT_EQ(r.regions.size(), 2u);
  EXPECT_EQ(r.regions[0].x, 3);
  EXPECT_EQ(r.regions[0].y, 2);
  EXPECT_EQ(r.regions[0].width, 4);
  EXPECT_EQ(r.regions[0].height, 3);
  EXPECT_EQ(r.regions[0].area, 12);
  EXPECT_EQ(r.regions[1].x, 11);
  EXPECT_EQ(r.regions[1].area, 4);
  EXPECT_NEAR(r.regions[0].peak, dt::classifier_mask_value(200, 220, 240), 1e-5);
}

const std::function<int(int, int, int)> kRgb = rgb_value;
const std::function<int(int, int, int)> kGrey = [](int, int y, int x) { return rgb_value(0, y, x); };

void expect_refused(const std::function<void()>& call, ErrorCode code, const std::string& says) {
  try {
    call();
    ADD_FAILURE() << "accepted; expected a refusal saying '" << says << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

TEST(ImageClassifierTest, ReadsTheArtifactsInfo) {
  const auto classifier = ImageClassifier::open(artifact("info.onnx"));
  const auto& info = classifier.info();
  EXPECT_EQ(info.family, "guided_classifier");
  EXPECT_EQ(info.format_version, 2);
  EXPECT_EQ(info.classes.size(), 3u);
  EXPECT_EQ(info.defect_class, 1);
  EXPECT_EQ(info.channels, 0);
  EXPECT_EQ(info.input_height, 28);
  EXPECT_EQ(info.input_width, 28);
  EXPECT_EQ(info.backbone, "dinov2");
  EXPECT_EQ(info.pooling, "guided");
  EXPECT_EQ(info.mean.size(), 3u);
  EXPECT_FLOAT_EQ(info.defect_threshold, 0.5f);
  EXPECT_FLOAT_EQ(info.pixel_threshold, 0.6f);
  EXPECT_EQ(info.metadata.family, "guided_classifier");
}

TEST(ImageClassifierTest, RgbAndGreyPackedUint8AreFedInPlace) {
  const auto classifier = ImageClassifier::open(artifact("in_place.onnx"));
  const auto rgb = rgb_image(3), grey = rgb_image(1);
  const Classification r = classifier.classify(view(rgb.data(), rgb.size(), 3));
  expect_result(r, kRgb);
  expect_two_blobs(r);
  expect_result(classifier.classify(view(grey.data(), grey.size(), 1)), kGrey);
  EXPECT_EQ(classifier.conversions(), 0u);
}

TEST(ImageClassifierTest, RgbaSixteenBitAndStridedInputsAreConvertedOnce) {
  const auto classifier = ImageClassifier::open(artifact("converted.onnx"));
  const Classification reference = classifier.classify(view(rgb_image(3).data(), kH * kW * 3, 3));
  const auto rgba = rgb_image(4);
  const Classification from_rgba = classifier.classify(view(rgba.data(), rgba.size(), 4));
  EXPECT_EQ(from_rgba.mask, reference.mask);
  EXPECT_EQ(classifier.conversions(), 1u);

  std::vector<uint16_t> wide(static_cast<size_t>(kH) * kW * 3);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] = static_cast<uint16_t>(rgb_image(3)[i] * 257);
  const Classification from_16 = classifier.classify(view(wide.data(), wide.size() * 2, 3, PixelType::kUInt16));
  EXPECT_EQ(from_16.mask, reference.mask);
  EXPECT_EQ(from_16.probabilities, reference.probabilities);

  const size_t stride = kW * 3 + 5;  // padded rows (a camera SDK's pitch)
  std::vector<uint8_t> padded(stride * kH, 99);
  const auto rgb = rgb_image(3);
  for (int y = 0; y < kH; ++y) std::copy_n(rgb.data() + y * kW * 3, kW * 3, padded.data() + y * stride);
  const Classification from_strided =
      classifier.classify(view(padded.data(), padded.size(), 3, PixelType::kUInt8, stride));
  EXPECT_EQ(from_strided.mask, reference.mask);
  EXPECT_EQ(classifier.conversions(), 3u);
  // The last row needs only its own bytes, not a whole stride.
  EXPECT_NO_THROW(classifier.classify(view(padded.data(), padded.size() - 5, 3, PixelType::kUInt8, stride)));
}

TEST(ImageClassifierTest, FilesAndEncodedBytes) {
  const auto classifier = ImageClassifier::open(artifact("files.onnx"));
  dt::PngSpec png;
  png.height = kH;
  png.width = kW;
  const dt::Bytes png_bytes = dt::encode_png(png, rgb_value);
  const std::string png_path = dt::temp_path("image.png");
  dt::write_file(png_path, png_bytes);
  const Classification from_file = classifier.classify(png_path);
  expect_result(from_file, kRgb);
  expect_two_blobs(from_file);
  EXPECT_EQ(classifier.classify_encoded(png_bytes.data(), png_bytes.size()).mask, from_file.mask);

  dt::PngSpec grey16 = png;  // 16-bit grey, decoded to 8 bits and fed as grey
  grey16.kind = dt::PngSpec::kGrey;
  grey16.bit_depth = 16;
  const dt::Bytes grey_bytes = dt::encode_png(grey16, [](int, int y, int x) { return rgb_value(0, y, x) * 257; });
  expect_result(classifier.classify_encoded(grey_bytes.data(), grey_bytes.size()), kGrey);

  dt::JpegSpec jpeg;
  jpeg.height = kH;
  jpeg.width = kW;
  const dt::Bytes jpeg_bytes = dt::encode_jpeg(jpeg, rgb_value);
  const dt::Decoded decoded = dt::libjpeg_decode(jpeg_bytes);
  const Classification from_jpeg = classifier.classify_encoded(jpeg_bytes.data(), jpeg_bytes.size(), {}, "frame 3");
  expect_result(from_jpeg, [&](int c, int y, int x) { return decoded.data[(y * kW + x) * 3 + c]; });
  EXPECT_EQ(classifier.conversions(), 0u);  // decoded images are packed uint8: fed in place

  expect_refused([&] { classifier.classify(dt::temp_path("missing.png")); }, ErrorCode::kFileNotFound,
                 "missing.png: no such file");
  const dt::Bytes cut = dt::truncated(jpeg_bytes, jpeg_bytes.size() / 2);
  expect_refused([&] { classifier.classify_encoded(cut.data(), cut.size(), {}, "frame 4"); }, ErrorCode::kBadFile,
                 "frame 4: corrupt or truncated JPEG");
}

TEST(ImageClassifierTest, ThresholdsFromTheArtifactOrPerCall) {
  dt::ClassifierSpec spec;
  spec.defect_threshold = 0.15f;
  const auto classifier = ImageClassifier::open(artifact("thresholds.onnx", spec));
  const auto rgb = rgb_image(3);
  const Classification r = classifier.classify(view(rgb.data(), rgb.size(), 3));
  EXPECT_FLOAT_EQ(r.defect_threshold, 0.15f);
  EXPECT_FLOAT_EQ(r.pixel_threshold, 0.6f);
  ASSERT_GT(r.defect_probability, 0.15f);
  EXPECT_TRUE(r.is_defective);
  EXPECT_EQ(r.top_class, 0);  // "good" (tied with "unsure": the first) is the most probable

  ClassifyOptions options;
  options.defect_threshold = r.defect_probability + 1e-4f;
  options.pixel_threshold = 0.0f;  // every pixel: one region
  const Classification o = classifier.classify(view(rgb.data(), rgb.size(), 3), options);
  EXPECT_FALSE(o.is_defective);
  EXPECT_FLOAT_EQ(o.defect_threshold, r.defect_probability + 1e-4f);
  ASSERT_EQ(o.regions.size(), 1u);
  EXPECT_EQ(o.regions[0].area, kH * kW);
  options.defect_threshold = r.defect_probability;  // at the threshold: defective
  EXPECT_TRUE(classifier.classify(view(rgb.data(), rgb.size(), 3), options).is_defective);
}

TEST(ImageClassifierTest, FixedChannelAxes) {
  dt::ClassifierSpec three;
  three.channels = 3;
  const auto rgb_only = ImageClassifier::open(artifact("three.onnx", three));
  EXPECT_EQ(rgb_only.info().channels, 3);
  const auto grey = rgb_image(1);
  expect_result(rgb_only.classify(view(grey.data(), grey.size(), 1)), kGrey);  // repeated by the head
  EXPECT_EQ(rgb_only.conversions(), 1u);

  dt::ClassifierSpec one;
  one.channels = 1;
  const auto grey_only = ImageClassifier::open(artifact("one.onnx", one));
  expect_result(grey_only.classify(view(grey.data(), grey.size(), 1)), kGrey);
  const auto rgb = rgb_image(3);
  expect_refused([&] { grey_only.classify(view(rgb.data(), rgb.size(), 3)); }, ErrorCode::kInvalidArgument,
                 "image buffer: the artifact takes grey images (1 channel)");
}

TEST(ImageClassifierTest, FixedImageSize) {
  dt::ClassifierSpec fixed;
  fixed.height = kH;
  fixed.width = kW;
  const auto classifier = ImageClassifier::open(artifact("fixed.onnx", fixed));
  const auto rgb = rgb_image(3);
  expect_result(classifier.classify(view(rgb.data(), rgb.size(), 3)), kRgb);
  ImageView smaller = view(rgb.data(), rgb.size(), 3);
  smaller.height = kH - 1;
  expect_refused([&] { classifier.classify(smaller); }, ErrorCode::kInvalidArgument,
                 "image is 11 x 16 but the artifact takes exactly 12 x 16 (H x W)");
}

TEST(ImageClassifierTest, AMaskOfAnotherSizeIsTheArtifactsFault) {
  dt::ClassifierSpec broken;
  broken.wrong_mask_size = true;
  const auto classifier = ImageClassifier::open(artifact("broken.onnx", broken));
  const auto rgb = rgb_image(3);
  expect_refused([&] { classifier.classify(view(rgb.data(), rgb.size(), 3)); }, ErrorCode::kModel,
                 "output 'mask' is (1, 1, 12, 1) but the image is 12 x 16");
}

TEST(ImageClassifierTest, RefusesBadViews) {
  const auto classifier = ImageClassifier::open(artifact("views.onnx"));
  const auto rgb = rgb_image(3);
  expect_refused([&] { classifier.classify(view(nullptr, 10, 3)); }, ErrorCode::kInvalidArgument,
                 "image buffer: no pixel data");
  expect_refused([&] { classifier.classify(view(rgb.data(), rgb.size(), 2)); }, ErrorCode::kInvalidArgument,
                 "1 (grey), 3 (RGB) or 4 (RGBA) channels, not 2");
  expect_refused([&] { classifier.classify(view(rgb.data(), rgb.size() - 1, 3)); }, ErrorCode::kInvalidArgument,
                 "holds 575 bytes but a 12 x 16 x 3 image of this stride needs 576");
  expect_refused([&] { classifier.classify(view(rgb.data(), rgb.size(), 3, PixelType::kUInt8, 10)); },
                 ErrorCode::kInvalidArgument, "row stride 10 is less than a row's 48 bytes");
  ImageView empty = view(rgb.data(), rgb.size(), 3);
  empty.width = 0;
  expect_refused([&] { classifier.classify(empty); }, ErrorCode::kInvalidArgument, "empty image (12 x 0, H x W)");
}

TEST(ImageClassifierTest, OneClassifierManyThreads) {
  const auto classifier = ImageClassifier::open(artifact("threads.onnx"));
  std::vector<std::vector<uint8_t>> images;
  std::vector<std::vector<float>> expected;
  for (int k = 0; k < 4; ++k) {
    auto pixels = rgb_image(3);
    for (auto& p : pixels) p = static_cast<uint8_t>(p + 17 * k);
    expected.push_back(classifier.classify(view(pixels.data(), pixels.size(), 3)).mask);
    images.push_back(std::move(pixels));
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        const int k = (t + round) % 4;
        if (classifier.classify(view(images[k].data(), images[k].size(), 3)).mask != expected[k]) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ImageClassifierTest, VerifiesTheSha256WhenAsked) {
  const std::string path = artifact("verified.onnx");
  defectkit::ImageClassifierOptions options;
  options.expected_sha256 = defectkit::sha256_file(path);
  EXPECT_NO_THROW(ImageClassifier::open(path, options));
  options.expected_sha256 = std::string(64, '0');
  expect_refused([&] { ImageClassifier::open(path, options); }, ErrorCode::kModel, "SHA-256 mismatch");
}

TEST(ImageClassifierTest, EachHeadRefusesTheOthersFamily) {
  dt::ArtifactSpec strip;
  strip.format_version = 2;
  const std::string strip_path = dt::write_artifact(strip, "strip_v2.onnx");
  expect_refused([&] { ImageClassifier::open(strip_path); }, ErrorCode::kModel,
                 "strip_v2.onnx: a reference_unet artifact; defectkit::ImageClassifier runs guided_classifier "
                 "artifacts, ArtifactSession runs any");
  const std::string classifier_path = artifact("family.onnx");
  expect_refused([&] { defectkit::Inspector::open(classifier_path); }, ErrorCode::kModel,
                 "family.onnx: a guided_classifier artifact; defectkit::Inspector runs reference_unet artifacts");
}

// Metadata the head cannot use, refused by name before any session (parse_classifier_info).
TEST(ClassifierInfoTest, RefusesWhatTheHeadCannotUse) {
  auto refused = [](dt::ClassifierSpec spec, const std::string& says) {
    SCOPED_TRACE(says);
    expect_refused([&] { defectkit::parse_classifier_info(dt::classifier_metadata(spec), "c.onnx"); },
                   ErrorCode::kModel, "c.onnx: " + says);
  };
  dt::ClassifierSpec s;
  s.section_overrides["classes"] = "null";
  refused(s, "defectkit.family_section.classes must be a non-empty list of class names, got nothing");
  s = {};
  s.section_overrides["classes"] = R"(["good", 3])";
  refused(s, "defectkit.family_section.classes must be a non-empty list");
  s = {};
  s.section_overrides["defect_class"] = "3";
  refused(s, "defectkit.family_section.defect_class is 3 but there are 3 classes");
  s = {};
  s.section_overrides["defect_class"] = "null";
  refused(s, "defectkit.family_section has no 'defect_class'");
  s = {};
  s.section_overrides["input_size"] = "[0, 224]";
  refused(s, "defectkit.family_section.input_size must be [H, W]");
  s = {};
  s.section_overrides["mean"] = R"("imagenet")";
  refused(s, "defectkit.family_section.mean must be a list of numbers");
  s = {};
  s.overrides["thresholds"] = R"({"pixel": 0.5})";
  refused(s, "defectkit.thresholds has no 'defect'");
  s = {};
  s.overrides["inputs"] =
      R"([{"name": "image", "dtype": "float32", "shape": [1, "h", "w", 3], "layout": "NHWC", "scale": 255.0}])";
  refused(s, "input 'image' is float32; the image head feeds uint8");
  s = {};
  s.overrides["inputs"] =
      R"([{"name": "image", "dtype": "uint8", "shape": [1, 3, "h", "w"], "layout": "NCHW", "scale": 255.0}])";
  refused(s, "input 'image' must be 4-D NHWC");
  s = {};
  s.overrides["inputs"] =
      R"([{"name": "image", "dtype": "uint8", "shape": [1, "h", "w", 4], "layout": "NHWC", "scale": 255.0}])";
  refused(s, "input 'image' takes 4 channels; the image head feeds 1 or 3");
  s = {};
  s.overrides["inputs"] =
      R"([{"name": "image", "dtype": "uint8", "shape": [2, "h", "w", 3], "layout": "NHWC", "scale": 255.0}])";
  refused(s, "input 'image' has a fixed batch of 2");
  s = {};
  s.overrides["outputs"] =
      R"([{"name": "probabilities", "dtype": "float32", "shape": [1, 4], "layout": "NC"},
          {"name": "mask", "dtype": "float32", "shape": [1, 1, "h", "w"], "layout": "NCHW"}])";
  refused(s, "output 'probabilities' has 4 classes but defectkit.family_section.classes names 3");
  s = {};
  s.overrides["outputs"] = R"([{"name": "probabilities", "dtype": "float32", "shape": [1, 3], "layout": "NC"}])";
  refused(s, "a guided_classifier graph outputs 'probabilities' and 'mask'");
  s = {};
  s.overrides["family_section"] = "[]";
  refused(s, "defectkit.family_section must be a JSON object");
}

}  // namespace
