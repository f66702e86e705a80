// ArtifactSession: any family's artifact, named typed tensors in and out,
// every wrong input refused by name; and the strip head refusing what is not
// reference_unet.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <vector>

#include "artifact_fixtures.h"
#include "defectkit/artifact_session.h"
#include "defectkit/error.h"
#include "defectkit/inspector.h"

using defectkit::ArtifactSession;
using defectkit::ElementType;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::TypedTensorView;
using defectkit::testing::temp_path;
using defectkit::testing::write_session_artifact;

namespace {

const std::string& session_artifact() {
  static const std::string path = [] {
    const std::string p = temp_path("session.onnx");
    write_session_artifact(p);
    return p;
  }();
  return path;
}

// Two images of 2 x 3 pixels and their series.
struct Batch {
  std::vector<uint8_t> image = std::vector<uint8_t>(2 * 2 * 3 * 3);
  std::vector<float> series = std::vector<float>(2 * 8);
  Batch() {
    for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 7 % 256);
    for (size_t i = 0; i < series.size(); ++i) series[i] = static_cast<float>((i * 5) % 11) - 3.0f;
  }
  std::map<std::string, TypedTensorView> views() const {
    return {{"series", TypedTensorView::of(series.data(), {2, 8})},
            {"image", TypedTensorView::of(image.data(), {2, 2, 3, 3})}};
  }
};

std::string refusal(const std::function<void()>& fn, ErrorCode code = ErrorCode::kInvalidArgument) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "nothing was refused";
  return "";
}

}  // namespace

TEST(ArtifactSession, OpensAnyFamilyAndDescribesItTyped) {
  const auto session = ArtifactSession::open(session_artifact());
  const auto& m = session.metadata();
  EXPECT_EQ(session.path(), session_artifact());
  EXPECT_EQ(m.format_version, 2);
  EXPECT_EQ(m.family, "test_fusion");
  EXPECT_TRUE(m.graph_checked);
  ASSERT_EQ(m.inputs.size(), 2u);
  EXPECT_EQ(m.inputs[0].name, "image");
  EXPECT_EQ(m.inputs[0].dtype, ElementType::kUInt8);
  EXPECT_EQ(defectkit::shape_string(m.inputs[0].shape), "(batch, height, width, 3)");
  EXPECT_EQ(m.inputs[0].layout, "NHWC");
  EXPECT_EQ(m.inputs[0].scale, 255.0f);
  EXPECT_EQ(m.inputs[1].dtype, ElementType::kFloat32);
  EXPECT_FALSE(m.inputs[1].scale.has_value());
  ASSERT_EQ(m.outputs.size(), 2u);
  EXPECT_EQ(m.outputs[1].name, "peak");
  EXPECT_EQ(m.outputs[1].dtype, ElementType::kInt64);
  EXPECT_EQ(m.thresholds.at("score"), 0.5f);
  EXPECT_EQ(m.family_json, R"({"classes": ["good", "bad"], "bank_size": 4})");
  EXPECT_EQ(session.model().inputs().size(), 2u);
}

TEST(ArtifactSession, RunsNamedTypedTensorsInAnyOrder) {
  const auto session = ArtifactSession::open(session_artifact());
  const Batch b;
  const auto outputs = session.run(b.views());
  ASSERT_EQ(outputs.size(), 2u);
  const auto& score = outputs.at("score");
  const auto& peak = outputs.at("peak");
  EXPECT_EQ(score.dtype, ElementType::kFloat32);
  EXPECT_EQ(score.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(peak.dtype, ElementType::kInt64);
  for (int n = 0; n < 2; ++n) {
    double mean = 0.0;
    for (int i = 0; i < 18; ++i) mean += b.image[n * 18 + i] / 18.0;
    const float* row = b.series.data() + n * 8;
    const auto best = std::max_element(row, row + 8) - row;
    EXPECT_NEAR(score.data<float>()[n], mean / 255.0 + row[best], 1e-5) << n;
    EXPECT_EQ(peak.data<int64_t>()[n], best) << n;
  }
  // Symbolic axes take any size: one larger image.
  const std::vector<uint8_t> big(1 * 5 * 7 * 3, 255);
  const auto one = session.run({{"image", TypedTensorView::of(big.data(), {1, 5, 7, 3})},
                                {"series", TypedTensorView::of(b.series.data(), {1, 8})}});
  EXPECT_NEAR(one.at("score").data<float>()[0], 1.0f + *std::max_element(b.series.begin(), b.series.begin() + 8), 1e-5);
}

TEST(ArtifactSession, RefusesWrongInputsByName) {
  const auto session = ArtifactSession::open(session_artifact());
  const Batch b;
  auto run_with = [&](const std::function<void(std::map<std::string, TypedTensorView>&)>& change) {
    return refusal([&] {
      auto views = b.views();
      change(views);
      session.run(views);
    });
  };
  std::string m = run_with([](auto& v) { v.erase("series"); });
  EXPECT_NE(m.find(session_artifact() + ": input 'series' is missing (the artifact takes: image, series)"),
            std::string::npos)
      << m;
  m = run_with([&](auto& v) { v["audio"] = TypedTensorView::of(b.series.data(), {2, 8}); });
  EXPECT_NE(m.find("the artifact has no input 'audio' (its inputs: image, series)"), std::string::npos) << m;
  m = run_with([&](auto& v) { v["image"] = TypedTensorView::of(b.series.data(), {2, 2, 2, 3}); });
  EXPECT_NE(m.find("input 'image' is float32 but the artifact takes uint8"), std::string::npos) << m;
  m = run_with([&](auto& v) { v["image"] = TypedTensorView::of(b.image.data(), {2, 9, 2}); });
  EXPECT_NE(m.find("input 'image' has shape (2, 9, 2) but the artifact takes (batch, height, width, 3)"),
            std::string::npos)
      << m;
  m = run_with([&](auto& v) { v["series"] = TypedTensorView::of(b.series.data(), {4, 4}); });
  EXPECT_NE(m.find("input 'series' has shape (4, 4) but the artifact takes (batch, 8)"), std::string::npos) << m;
  m = run_with([&](auto& v) { v["series"] = TypedTensorView::of(b.series.data(), {0, 8}); });
  EXPECT_NE(m.find("input 'series' has shape (0, 8)"), std::string::npos) << m;
  m = run_with([&](auto& v) { v["series"].size_bytes -= 1; });
  EXPECT_NE(m.find("input 'series' holds 63 bytes but its shape (2, 8) needs 64"), std::string::npos) << m;
  m = run_with([&](auto& v) { v["series"].data = nullptr; });
  EXPECT_NE(m.find("input 'series' has no data"), std::string::npos) << m;
}

TEST(ArtifactSession, ThreadSafe) {
  const auto session = ArtifactSession::open(session_artifact());
  const Batch b;
  const auto expected = session.run(b.views());
  std::vector<std::thread> threads;
  std::vector<int> same(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 20; ++k) {
        const auto out = session.run(b.views());
        same[t] +=
            out.at("score").bytes == expected.at("score").bytes && out.at("peak").bytes == expected.at("peak").bytes;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(same[t], 20);
}

TEST(ArtifactSession, RefusesMetadataThatDisagreesWithTheGraph) {
  const std::string path = temp_path("session_swapped.onnx");
  write_session_artifact(path, {{"outputs", R"([
    {"name": "peak", "dtype": "int64", "shape": ["batch"], "layout": "N"},
    {"name": "score", "dtype": "float32", "shape": ["batch"], "layout": "N"}])"}});
  const std::string m = refusal([&] { ArtifactSession::open(path); }, ErrorCode::kModel);
  EXPECT_NE(m.find(path + ": defectkit.outputs[0] is 'peak' but the graph's output 0 is 'score'"), std::string::npos)
      << m;
  EXPECT_NE(refusal([] { ArtifactSession::open("/nonexistent/session.onnx"); }, ErrorCode::kFileNotFound).size(), 0u);
}

TEST(ArtifactSession, StripHeadRefusesAnotherFamily) {
  const std::string m = refusal([] { defectkit::Inspector::open(session_artifact()); }, ErrorCode::kModel);
  EXPECT_EQ(m, session_artifact() +
                   ": a test_fusion artifact; defectkit::Inspector runs reference_unet artifacts, "
                   "ArtifactSession runs any");
}

TEST(ArtifactSession, ReadArtifactMetadataFromAPath) {
  const auto m = defectkit::read_artifact_metadata(session_artifact());
  EXPECT_EQ(m.family, "test_fusion");
  EXPECT_TRUE(m.graph_checked);
  EXPECT_EQ(m.outputs.size(), 2u);
}
