// Inspector end to end on artifacts whose heatmaps are known functions of the
// strip: tiling and nearest-centre stitching for odd sizes, full-image graphs,
// buffer inputs in every dtype and layout, ROI, thresholds, batch and threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include "artifact_fixtures.h"
#include "defectkit/error.h"
#include "defectkit/inspector.h"
#include "defectkit/onnxruntime_loader.h"
#include "defectkit/tiling.h"
#include "tiff_fixtures.h"

using defectkit::DType;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::Inspection;
using defectkit::InspectOptions;
using defectkit::Inspector;
using defectkit::StripView;
using defectkit::testing::ArtifactSpec;
using defectkit::testing::temp_path;
using defectkit::testing::write_artifact;

namespace {

// Integer values 0..255 (so uint8 and uint16 hold them exactly), varying
// along every axis; ref1 (channel 1) varies enough that every tile's mean differs.
float strip_value(int c, int y, int x) {
  if (c == 1) return static_cast<float>((y * 7 + x * 3) % 256);
  if (c == 3) return (y / 5 + x / 4) % 3 == 0 ? 0.0f : 1.0f;  // an ROI mask
  return static_cast<float>((c * 50 + y * 13 + x * 29 + (y * x) % 17) % 256);
}

std::vector<float> make_chw(int channels, int h, int w) {
  std::vector<float> v(static_cast<size_t>(channels) * h * w);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) v[(static_cast<size_t>(c) * h + y) * w + x] = strip_value(c, y, x);
  return v;
}

StripView chw_view(const std::vector<float>& v, int channels, int h, int w) {
  StripView s;
  s.data = v.data();
  s.size_bytes = v.size() * sizeof(float);
  s.channels = channels;
  s.height = h;
  s.width = w;
  return s;
}

// What the tile-dependent patch graph's stitched heatmap must be: each pixel
// 0.5 target / 255 + 0.5 mean(ref1 over its tile) / 255, the tile chosen by
// brute force as the one whose centre is nearest along each axis (ties: earlier).
std::vector<float> reference_heatmap(const std::vector<float>& chw, int h, int w, int patch, int overlap) {
  const auto ys = defectkit::positions_along(h, patch, 1, overlap);
  const auto xs = defectkit::positions_along(w, patch, 1, overlap);
  auto owner = [patch](const std::vector<int>& starts, int i) {
    size_t best = 0;
    for (size_t t = 1; t < starts.size(); ++t)
      if (std::abs(2 * i - (2 * starts[t] + patch)) < std::abs(2 * i - (2 * starts[best] + patch))) best = t;
    return starts[best];
  };
  std::vector<float> out(static_cast<size_t>(h) * w);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int ty = owner(ys, y), tx = owner(xs, x);
      double sum = 0.0;
      for (int dy = 0; dy < patch; ++dy)
        for (int dx = 0; dx < patch; ++dx) sum += chw[(static_cast<size_t>(1) * h + ty + dy) * w + tx + dx];
      const float mean = static_cast<float>(sum / (patch * patch));
      out[static_cast<size_t>(y) * w + x] = 0.5f / 255.0f * chw[static_cast<size_t>(y) * w + x] + 0.5f / 255.0f * mean;
    }
  }
  return out;
}

void expect_near(const std::vector<float>& a, const std::vector<float>& b, float tolerance, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::fabs(a[i] - b[i]) > tolerance && bad++ < 5)
      ADD_FAILURE() << what << " at " << i << ": " << a[i] << " vs " << b[i];
  }
  EXPECT_EQ(bad, 0u) << what;
}

ErrorCode code_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return ErrorCode::kOk;
}

}  // namespace

TEST(InspectorPatch, TilesAndStitchesOddSizesNearestCentre) {
  defectkit::InspectorOptions options;
  options.max_batch = 4;  // several runs per strip
  const Inspector inspector = Inspector::open(write_artifact({}, "patch.onnx"), options);
  for (auto [h, w] : std::vector<std::pair<int, int>>{{16, 16}, {37, 29}, {40, 24}, {101, 17}, {23, 50}}) {
    const auto chw = make_chw(3, h, w);
    const Inspection result = inspector.inspect(chw_view(chw, 3, h, w));
    const auto expected = reference_heatmap(chw, h, w, 16, 4);
    expect_near(result.heatmap, expected, 1e-6f, std::to_string(h) + " x " + std::to_string(w));
    EXPECT_EQ(result.height, h);
    EXPECT_EQ(result.width, w);
    EXPECT_FLOAT_EQ(result.score, defectkit::box_mean_max(expected.data(), h, w, 3));
    EXPECT_EQ(result.is_defective, result.score >= 0.4f);
    EXPECT_FLOAT_EQ(result.image_threshold, 0.4f);
  }
}

TEST(InspectorPatch, AFixedBatchGraphIsFedFullPaddedRuns) {
  ArtifactSpec spec;
  spec.fixed_batch = 4;
  const Inspector inspector = Inspector::open(write_artifact(spec, "patch_b4.onnx"));
  const auto chw = make_chw(3, 37, 29);  // 3 x 3 tiles: runs of 4, 4 and 1 + 3 padding
  expect_near(inspector.inspect(chw_view(chw, 3, 37, 29)).heatmap, reference_heatmap(chw, 37, 29, 16, 4), 1e-6f, "b4");
}

TEST(InspectorPatch, Seed3chOutputsReadChannelZero) {
  ArtifactSpec spec;
  spec.seed3ch = true;
  const Inspector inspector = Inspector::open(write_artifact(spec, "patch_seed3ch.onnx"));
  const auto chw = make_chw(3, 37, 29);
  expect_near(inspector.inspect(chw_view(chw, 3, 37, 29)).heatmap, reference_heatmap(chw, 37, 29, 16, 4), 1e-6f,
              "seed3ch");
}

TEST(InspectorPatch, AStripSmallerThanAPatchIsRefused) {
  const Inspector inspector = Inspector::open(write_artifact({}, "patch.onnx"));
  const auto chw = make_chw(3, 15, 40);
  std::string message;
  EXPECT_EQ(code_of([&] { inspector.inspect(chw_view(chw, 3, 15, 40)); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("strip buffer: strip is 15 x 40, smaller than one 16 x 16 patch"), std::string::npos)
      << message;
}

TEST(InspectorFullImage, TiledAndPatchArtifactsGiveTheSameHeatmap) {
  ArtifactSpec tiled;
  tiled.graph = "tiled";
  tiled.height = 37;
  tiled.width = 29;
  ArtifactSpec patch;
  patch.tile_dependent = false;  // heatmap = target / 255, whichever tile a pixel comes from
  const Inspector full = Inspector::open(write_artifact(tiled, "tiled.onnx"));
  const Inspector tiles = Inspector::open(write_artifact(patch, "patch_plain.onnx"));
  const auto chw = make_chw(4, 37, 29);  // a fourth channel the graph ignores
  const Inspection a = full.inspect(chw_view(chw, 4, 37, 29));
  const Inspection b = tiles.inspect(chw_view(chw, 4, 37, 29));
  EXPECT_EQ(a.heatmap, b.heatmap);
  double mean = 0.0;
  for (float v : a.heatmap) mean += v;
  EXPECT_NEAR(a.score, mean / a.heatmap.size(), 1e-6) << "a full-image graph's own score output is used";
  EXPECT_FLOAT_EQ(b.score, defectkit::box_mean_max(b.heatmap.data(), 37, 29, 3));
}

TEST(InspectorFullImage, ScoresItselfWithoutAScoreOutputAndReadsSeed3ch) {
  ArtifactSpec spec;
  spec.graph = "full_frame";
  spec.graph_score = false;
  spec.seed3ch = true;
  const Inspector inspector = Inspector::open(write_artifact(spec, "full_frame.onnx"));
  const auto chw = make_chw(3, 40, 24);
  const Inspection r = inspector.inspect(chw_view(chw, 3, 40, 24));
  for (size_t i = 0; i < r.heatmap.size(); ++i) ASSERT_FLOAT_EQ(r.heatmap[i], chw[i] * (1.0f / 255.0f));
  EXPECT_FLOAT_EQ(r.score, defectkit::box_mean_max(r.heatmap.data(), 40, 24, 3));
}

TEST(InspectorFullImage, RefusesAStripOfAnotherSize) {
  ArtifactSpec spec;
  spec.graph = "tiled";
  const Inspector inspector = Inspector::open(write_artifact(spec, "tiled_40x24.onnx"));
  const auto chw = make_chw(3, 41, 24);
  std::string message;
  EXPECT_EQ(code_of([&] { inspector.inspect(chw_view(chw, 3, 41, 24)); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("strip is 41 x 24 but this tiled artifact takes exactly 40 x 24"), std::string::npos)
      << message;
}

TEST(InspectorInput, BuffersInEveryDtypeAndLayoutEqualThePathInput) {
  const int c = 4, h = 37, w = 29;
  defectkit::testing::TiffSpec tiff;
  tiff.type = defectkit::testing::SampleType::kFloat32;
  tiff.channels = c;
  tiff.height = h;
  tiff.width = w;
  const std::string path = temp_path("strip.tif");
  defectkit::testing::write_tiff(path, tiff, [](int ch, int y, int x) { return strip_value(ch, y, x); });
  for (const std::string graph : {"patch", "tiled"}) {
    ArtifactSpec spec;
    spec.graph = graph;
    spec.height = h;
    spec.width = w;
    const Inspector inspector = Inspector::open(write_artifact(spec, graph + "_input.onnx"));
    const Inspection from_path = inspector.inspect(path);

    const auto chw = make_chw(c, h, w);
    std::vector<float> hwc(chw.size());
    std::vector<uint8_t> chw8(chw.size());
    std::vector<uint16_t> hwc16(chw.size());
    for (int ch = 0; ch < c; ++ch)
      for (int i = 0; i < h * w; ++i) {
        const float v = chw[static_cast<size_t>(ch) * h * w + i];
        hwc[static_cast<size_t>(i) * c + ch] = v;
        chw8[static_cast<size_t>(ch) * h * w + i] = static_cast<uint8_t>(v);
        hwc16[static_cast<size_t>(i) * c + ch] = static_cast<uint16_t>(v * 257);
      }
    auto view = [&](const void* data, size_t bytes, DType dtype, defectkit::Layout layout) {
      StripView s{data, bytes, dtype, layout, c, h, w};
      return inspector.inspect(s).heatmap;
    };
    EXPECT_EQ(view(chw.data(), chw.size() * 4, DType::kFloat32, defectkit::Layout::kCHW), from_path.heatmap) << graph;
    EXPECT_EQ(view(hwc.data(), hwc.size() * 4, DType::kFloat32, defectkit::Layout::kHWC), from_path.heatmap) << graph;
    EXPECT_EQ(view(chw8.data(), chw8.size(), DType::kUInt8, defectkit::Layout::kCHW), from_path.heatmap) << graph;
    EXPECT_EQ(view(hwc16.data(), hwc16.size() * 2, DType::kUInt16, defectkit::Layout::kHWC), from_path.heatmap)
        << graph;
  }
}

TEST(InspectorInput, BadBuffersAndFilesAreRefusedClearly) {
  const Inspector inspector = Inspector::open(write_artifact({}, "patch.onnx"));
  auto chw = make_chw(3, 20, 20);
  std::string message;
  StripView s = chw_view(chw, 3, 20, 20);
  s.size_bytes -= 4;
  EXPECT_EQ(code_of([&] { inspector.inspect(s); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("the buffer holds 4796 bytes but its shape (3 x 20 x 20) needs 4800"), std::string::npos)
      << message;
  s = chw_view(chw, 2, 20, 20);
  EXPECT_EQ(code_of([&] { inspector.inspect(s); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("3 channels (target, ref1, ref2) or 4 (+ ROI), got 2"), std::string::npos) << message;
  s = chw_view(chw, 3, 20, 20);
  s.data = nullptr;
  EXPECT_EQ(code_of([&] { inspector.inspect(s); }), ErrorCode::kInvalidArgument);
  chw[2 * 400 + 5 * 20 + 7] = std::nanf("");
  EXPECT_EQ(code_of([&] { inspector.inspect(chw_view(chw, 3, 20, 20)); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("NaN or Inf values (first at channel 2, row 5, column 7)"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { inspector.inspect(std::string("/nonexistent/strip.tif")); }), ErrorCode::kFileNotFound);
}

TEST(InspectorRoi, ZeroesTheHeatmapOutsideChannelThree) {
  const int h = 37, w = 29;
  const auto chw = make_chw(4, h, w);
  const Inspector plain = Inspector::open(write_artifact({}, "patch.onnx"));
  const Inspection unmasked = plain.inspect(chw_view(chw, 4, h, w));
  InspectOptions roi;
  roi.roi = true;
  const Inspection masked = plain.inspect(chw_view(chw, 4, h, w), roi);
  size_t zeroed = 0;
  for (int i = 0; i < h * w; ++i) {
    const bool inside = chw[3 * static_cast<size_t>(h) * w + i] != 0.0f;
    EXPECT_EQ(masked.heatmap[i], inside ? unmasked.heatmap[i] : 0.0f) << i;
    zeroed += !inside;
  }
  EXPECT_GT(zeroed, 0u);
  EXPECT_FLOAT_EQ(masked.score, defectkit::box_mean_max(masked.heatmap.data(), h, w, 3));

  ArtifactSpec spec;
  spec.roi = true;
  const Inspector exported_with_roi = Inspector::open(write_artifact(spec, "patch_roi.onnx"));
  EXPECT_EQ(exported_with_roi.inspect(chw_view(chw, 4, h, w)).heatmap, masked.heatmap);

  const auto three = make_chw(3, h, w);
  std::string message;
  EXPECT_EQ(code_of([&] { plain.inspect(chw_view(three, 3, h, w), roi); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("ROI masking needs a 4-channel strip, this one has 3"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { exported_with_roi.inspect(chw_view(three, 3, h, w)); }, &message),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("exported with an ROI channel and needs 4-channel strips"), std::string::npos) << message;
}

TEST(InspectorThresholds, ComeFromTheArtifactUnlessOverridden) {
  const Inspector inspector = Inspector::open(write_artifact({}, "patch.onnx"));
  const auto chw = make_chw(3, 40, 24);
  const Inspection byDefault = inspector.inspect(chw_view(chw, 3, 40, 24));
  EXPECT_FLOAT_EQ(byDefault.pixel_threshold, 0.6f);
  InspectOptions options;
  options.image_threshold = byDefault.score + 0.01f;
  options.pixel_threshold = 2.0f;
  const Inspection strict = inspector.inspect(chw_view(chw, 3, 40, 24), options);
  EXPECT_FALSE(strict.is_defective);
  EXPECT_TRUE(strict.regions.empty());
  options.image_threshold = byDefault.score;
  options.pixel_threshold = 0.0f;  // every pixel: one region covering the strip
  const Inspection lax = inspector.inspect(chw_view(chw, 3, 40, 24), options);
  EXPECT_TRUE(lax.is_defective);
  ASSERT_EQ(lax.regions.size(), 1u);
  EXPECT_EQ(lax.regions[0].area, 40 * 24);
  EXPECT_EQ(lax.regions[0].width, 24);
  // Regions are the components of heatmap >= pixel threshold: count pixels.
  size_t above = 0;
  for (float v : byDefault.heatmap) above += v >= 0.6f;
  size_t in_regions = 0;
  for (const auto& r : byDefault.regions) in_regions += r.area;
  EXPECT_EQ(in_regions, above);
}

TEST(InspectorBatch, EqualsOneByOne) {
  const Inspector inspector = Inspector::open(write_artifact({}, "patch.onnx"));
  const auto a = make_chw(3, 37, 29), b = make_chw(4, 20, 50);
  const auto batch = inspector.inspect_batch(std::vector<StripView>{chw_view(a, 3, 37, 29), chw_view(b, 4, 20, 50)});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].heatmap, inspector.inspect(chw_view(a, 3, 37, 29)).heatmap);
  EXPECT_EQ(batch[1].heatmap, inspector.inspect(chw_view(b, 4, 20, 50)).heatmap);
  EXPECT_EQ(batch[1].width, 50);
}

TEST(InspectorThreads, EightThreadsOnOneInspectorMatchOneThread) {
  const Inspector inspector = Inspector::open(write_artifact({}, "patch.onnx"));
  std::vector<std::vector<float>> strips;
  std::vector<Inspection> expected;
  for (int k = 0; k < 4; ++k) {
    strips.push_back(make_chw(3, 30 + 7 * k, 20 + 5 * k));
    expected.push_back(inspector.inspect(chw_view(strips[k], 3, 30 + 7 * k, 20 + 5 * k)));
  }
  std::vector<int> mismatches(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Inspection reused;
      for (int round = 0; round < 10; ++round) {
        const int k = (t + round) % 4;
        inspector.inspect_into(chw_view(strips[k], 3, 30 + 7 * k, 20 + 5 * k), reused);
        if (reused.heatmap != expected[k].heatmap || reused.score != expected[k].score) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(ModelOptions, ProvidersAndOptimisationLevels) {
  const std::string path = write_artifact({}, "patch.onnx");
  defectkit::ModelOptions options;
  options.execution_provider = "tpu";
  std::string message;
  EXPECT_EQ(code_of([&] { defectkit::Model::load(path, options); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("unknown execution provider 'tpu'"), std::string::npos) << message;
  options.execution_provider = "CPU";
  options.graph_optimization = defectkit::parse_graph_optimization("basic");
  EXPECT_EQ(defectkit::Model::load(path, options).execution_provider(), "CPUExecutionProvider");
  EXPECT_EQ(code_of([] { defectkit::parse_graph_optimization("max"); }), ErrorCode::kInvalidArgument);
  options.provider_options = {{"device_type", "CPU"}};  // only the OpenVINO provider takes options
  EXPECT_EQ(code_of([&] { defectkit::Model::load(path, options); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("openvino provider only; CPUExecutionProvider was given 1"), std::string::npos) << message;
  options.provider_options.clear();
  const auto& providers = defectkit::load_onnxruntime().providers;
  if (std::find(providers.begin(), providers.end(), "CUDAExecutionProvider") == providers.end()) {
    options.execution_provider = "cuda";
    EXPECT_EQ(code_of([&] { defectkit::Model::load(path, options); }, &message), ErrorCode::kBackend);
    EXPECT_NE(message.find("CUDAExecutionProvider is not in the loaded ONNX Runtime"), std::string::npos) << message;
  }
}
