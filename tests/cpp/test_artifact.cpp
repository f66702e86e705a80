// The artifact's `defectkit.` metadata: parsed typed, and every way it can be
// unusable refused with Error(kModel) naming the file and the problem.
#include <gtest/gtest.h>

#include <string>

#include "artifact_fixtures.h"
#include "defectkit/artifact.h"
#include "defectkit/error.h"
#include "defectkit/inspector.h"

using defectkit::ArtifactInfo;
using defectkit::Error;
using defectkit::ErrorCode;
using defectkit::testing::artifact_metadata;
using defectkit::testing::ArtifactSpec;

namespace {

const char* kPath = "/models/line3.onnx";

// The message of the Error(kModel) parsing `spec`'s metadata throws; "" when it parses.
std::string refusal(const ArtifactSpec& spec) {
  try {
    defectkit::parse_artifact_info(artifact_metadata(spec), kPath);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(kPath, 0), 0u) << "message does not start with the path: " << e.what();
    return e.what();
  }
  return "";
}

ArtifactSpec with(const std::string& key, const std::string& value) {
  ArtifactSpec spec;
  spec.overrides[key] = value;
  return spec;
}

ArtifactSpec without(const std::string& key) {
  ArtifactSpec spec;
  spec.removed.push_back(key);
  return spec;
}

}  // namespace

TEST(ArtifactInfo, ParsesEveryKeyTyped) {
  ArtifactSpec spec;
  spec.height = 37;
  spec.width = 29;
  const ArtifactInfo info = defectkit::parse_artifact_info(artifact_metadata(spec), kPath);
  EXPECT_EQ(info.format_version, 1);
  EXPECT_EQ(info.family, "reference_unet");
  EXPECT_EQ(info.graph, defectkit::GraphKind::kPatch);
  EXPECT_EQ(info.input.name, "patch");
  EXPECT_EQ(info.input.channels, (std::vector<std::string>{"target", "ref1", "ref2"}));
  EXPECT_EQ(info.input.accepted_channels, (std::vector<int>{3, 4}));
  EXPECT_EQ(info.input.fourth_channel, defectkit::FourthChannel::kIgnore);
  EXPECT_EQ(info.image_height, 37);
  EXPECT_EQ(info.image_width, 29);
  EXPECT_EQ(info.tiling.patch, 16);
  EXPECT_EQ(info.tiling.min_overlap, 4);
  EXPECT_EQ(info.tiling.positions_y, (std::vector<int>{0, 11, 21}));
  EXPECT_EQ(info.tiling.mode, "runtime");
  EXPECT_EQ(info.score.box, 3);
  EXPECT_EQ(info.outputs.format, defectkit::OutputFormat::kRaw);
  EXPECT_EQ(info.outputs.heatmap, "heatmap");
  EXPECT_TRUE(info.outputs.score.empty());
  EXPECT_FLOAT_EQ(info.thresholds.image, 0.4f);
  EXPECT_FLOAT_EQ(info.thresholds.pixel, 0.6f);
  EXPECT_EQ(info.precision, "fp32");
  EXPECT_NE(info.provenance_json.find("\"run_config\""), std::string::npos);
}

TEST(ArtifactInfo, ParsesRoiAndSeed3chAndFullImageKinds) {
  ArtifactSpec spec;
  spec.graph = "tiled";
  spec.roi = true;
  spec.seed3ch = true;
  const ArtifactInfo info = defectkit::parse_artifact_info(artifact_metadata(spec), kPath);
  EXPECT_EQ(info.graph, defectkit::GraphKind::kTiled);
  EXPECT_EQ(info.input.fourth_channel, defectkit::FourthChannel::kRoi);
  EXPECT_EQ(info.outputs.format, defectkit::OutputFormat::kSeed3ch);
  EXPECT_EQ(info.outputs.score, "score");
}

TEST(ArtifactRefusal, MissingFormatVersion) {
  EXPECT_NE(
      refusal(without("format_version")).find("not a defectkit artifact: metadata has no 'defectkit.format_version'"),
      std::string::npos);
}

TEST(ArtifactRefusal, NewerFormatVersion) {
  EXPECT_NE(refusal(with("format_version", "3")).find("format version 3 is newer than this runtime reads (2)"),
            std::string::npos);
}

TEST(ArtifactRefusal, NonIntegerFormatVersion) {
  EXPECT_NE(refusal(with("format_version", "1.x")).find("must be an integer"), std::string::npos);
}

// The strip head runs reference_unet only; the generic session runs any family (test_artifact_session.cpp).
TEST(ArtifactRefusal, AnotherFamily) {
  const std::string expected = std::string(kPath) +
                               ": a weld_fusion artifact; defectkit::Inspector runs reference_unet artifacts, "
                               "ArtifactSession runs any";
  EXPECT_EQ(refusal(with("family", "weld_fusion")), expected);
  ArtifactSpec v2 = with("family", "weld_fusion");
  v2.format_version = 2;
  EXPECT_EQ(refusal(v2), expected);
}

TEST(ArtifactRefusal, UnknownGraphKind) {
  EXPECT_NE(refusal(with("graph", "pyramid")).find("unknown graph kind"), std::string::npos);
}

TEST(ArtifactRefusal, InputSpecsItCannotFeed) {
  const std::string base = artifact_metadata({}).at("defectkit.input");
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return with("input", s);
  };
  EXPECT_NE(refusal(replaced("\"NCHW\"", "\"NHWC\"")).find("cannot feed the artifact's input: layout 'NHWC'"),
            std::string::npos);
  EXPECT_NE(refusal(replaced("\"float32\"", "\"uint8\"")).find("dtype 'uint8'"), std::string::npos);
  EXPECT_NE(refusal(replaced("255.0", "1.0")).find("scale 1 (only the 0..255 scale)"), std::string::npos);
  EXPECT_NE(refusal(replaced("[3, 4]", "[3, 5]")).find("accepted channel count 5"), std::string::npos);
  EXPECT_NE(refusal(replaced("\"ignore\"", "\"depth\"")).find("fourth_channel 'depth'"), std::string::npos);
  EXPECT_NE(refusal(replaced("[3, 4], \"fourth_channel\": \"ignore\"", "[3], \"fourth_channel\": \"roi\""))
                .find("'roi' but 4 is not an accepted channel count"),
            std::string::npos);
}

TEST(ArtifactRefusal, MalformedJsonAndMissingKeys) {
  EXPECT_NE(refusal(with("input", "{not json")).find("defectkit.input is not valid JSON"), std::string::npos);
  EXPECT_NE(refusal(without("thresholds")).find("has no 'defectkit.thresholds'"), std::string::npos);
  EXPECT_NE(
      refusal(with("thresholds", R"({"image": "high", "pixel": 0.5})")).find("thresholds.image has the wrong type"),
      std::string::npos);
  EXPECT_NE(refusal(with("image_size", "[40]")).find("image_size must be [H, W]"), std::string::npos);
  EXPECT_NE(refusal(without("tiling")).find("a patch artifact needs 'defectkit.tiling'"), std::string::npos);
}

// Fuzz finding (tests/fuzz/regressions/artifact_metadata/oom_huge_image_size.txt):
// a huge image_size with a 1-pixel patch made parsing allocate 8 GB.
TEST(ArtifactRefusal, ImplausiblyLargeImageSizes) {
  ArtifactSpec spec = with("image_size", "[2000000000, 24]");
  spec.overrides["tiling"] = R"({"patch": 1, "min_overlap": 0, "positions_y": [0]})";
  EXPECT_NE(refusal(spec).find("image_size [2000000000,24] is implausibly large"), std::string::npos);
  EXPECT_NE(refusal(with("image_size", "[9000, 9000]")).find("is implausibly large"), std::string::npos);
  EXPECT_NE(refusal(with("image_size", "[99999999999, 24]")).find("is implausibly large"), std::string::npos);
  ArtifactSpec largest = with("image_size", "[4096, 16384]");  // 2^26 pixels: the largest accepted
  largest.overrides["tiling"] = R"({"patch": 16, "min_overlap": 4})";
  EXPECT_EQ(refusal(largest), "");
}

TEST(ArtifactRefusal, TilingScoreOutputsAndPrecision) {
  EXPECT_NE(refusal(with("tiling", R"({"patch": 16, "min_overlap": 16})")).find("0 <= min_overlap < patch"),
            std::string::npos);
  EXPECT_NE(refusal(with("tiling", R"({"patch": 16, "min_overlap": 4, "positions_y": [0, 11, 24]})"))
                .find("positions_y disagrees with positions_along(40, 16, 1, 4)"),
            std::string::npos);
  EXPECT_NE(
      refusal(with("tiling", R"({"patch": 16, "min_overlap": 4, "stitch": "average"})")).find("stitch rule 'average'"),
      std::string::npos);
  EXPECT_NE(refusal(with("score", R"({"box": 4})")).find("score.box must be a positive odd number"), std::string::npos);
  EXPECT_NE(refusal(with("score", R"({"border": "zeros"})")).find("unknown score border 'zeros'"), std::string::npos);
  EXPECT_NE(refusal(with("outputs", R"({"format": "rgb", "heatmap": "heatmap"})")).find("unknown output format 'rgb'"),
            std::string::npos);
  EXPECT_NE(refusal(with("precision", "fp16")).find("unknown precision 'fp16'"), std::string::npos);
}

TEST(ArtifactRefusal, AGraphThatDisagreesWithItsMetadata) {
  ArtifactSpec spec;
  spec.overrides["outputs"] = R"({"format": "raw", "heatmap": "anomaly_map", "score": null})";
  const std::string path = defectkit::testing::write_artifact(spec, "wrong_output.onnx");
  try {
    defectkit::Inspector::open(path);
    FAIL() << "opened an artifact whose metadata names a missing output";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find(path + ": the graph has no output 'anomaly_map'"), std::string::npos)
        << e.what();
  }
  spec = {};
  spec.overrides["tiling"] = R"({"patch": 32, "min_overlap": 4})";
  const std::string wrong_patch = defectkit::testing::write_artifact(spec, "wrong_patch.onnx");
  try {
    defectkit::Inspector::open(wrong_patch);
    FAIL() << "opened an artifact whose patch size disagrees with its graph";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input is 16 pixels but defectkit.tiling.patch is 32"), std::string::npos)
        << e.what();
  }
}

TEST(ArtifactRefusal, APlainOnnxFileOpensAsModelButNotAsInspector) {
  ArtifactSpec spec;
  spec.removed = {"format_version", "family",  "graph",      "input",     "image_size", "tiling",
                  "score",          "outputs", "thresholds", "precision", "provenance"};
  const std::string path = defectkit::testing::write_artifact(spec, "plain.onnx");
  EXPECT_NO_THROW(defectkit::Model::load(path));
  try {
    defectkit::Inspector::open(path);
    FAIL() << "a plain ONNX file opened as an artifact";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find(path + ": not a defectkit artifact"), std::string::npos) << e.what();
  }
}

// The same artifacts written in format 2 give the same ArtifactInfo as in format 1.
TEST(ArtifactInfo, Format2ReadsAsFormat1) {
  for (const char* graph : {"patch", "tiled", "full_frame"}) {
    for (bool variant : {false, true}) {
      ArtifactSpec spec;
      spec.graph = graph;
      spec.roi = variant;
      spec.seed3ch = variant && std::string(graph) != "patch";
      spec.graph_score = !variant;
      const ArtifactInfo v1 = defectkit::parse_artifact_info(artifact_metadata(spec), kPath);
      spec.format_version = 2;
      const ArtifactInfo v2 = defectkit::parse_artifact_info(artifact_metadata(spec), kPath);
      const std::string what = std::string(graph) + (variant ? " (roi, seed3ch, no score)" : "");
      EXPECT_EQ(v1.format_version, 1);
      EXPECT_EQ(v2.format_version, 2);
      EXPECT_EQ(v2.graph, v1.graph) << what;
      EXPECT_EQ(v2.input.name, v1.input.name) << what;
      EXPECT_EQ(v2.input.channels, v1.input.channels) << what;
      EXPECT_EQ(v2.input.accepted_channels, v1.input.accepted_channels) << what;
      EXPECT_EQ(v2.input.fourth_channel, v1.input.fourth_channel) << what;
      EXPECT_EQ(v2.input.scale, v1.input.scale) << what;
      EXPECT_EQ(v2.image_height, v1.image_height) << what;
      EXPECT_EQ(v2.image_width, v1.image_width) << what;
      EXPECT_EQ(v2.tiling.patch, v1.tiling.patch) << what;
      EXPECT_EQ(v2.tiling.min_overlap, v1.tiling.min_overlap) << what;
      EXPECT_EQ(v2.tiling.positions_y, v1.tiling.positions_y) << what;
      EXPECT_EQ(v2.tiling.mode, v1.tiling.mode) << what;
      EXPECT_EQ(v2.score.box, v1.score.box) << what;
      EXPECT_EQ(v2.outputs.format, v1.outputs.format) << what;
      EXPECT_EQ(v2.outputs.heatmap, v1.outputs.heatmap) << what;
      EXPECT_EQ(v2.outputs.score, v1.outputs.score) << what;
      EXPECT_EQ(v2.thresholds.image, v1.thresholds.image) << what;
      EXPECT_EQ(v2.thresholds.pixel, v1.thresholds.pixel) << what;
      EXPECT_EQ(v2.precision, v1.precision) << what;
      EXPECT_EQ(v2.metadata.family, "reference_unet");
    }
  }
}

// Format 2 puts the strip head's fields in defectkit.family_section; refusals name them there.
TEST(ArtifactRefusal, Format2FamilySectionAndTensors) {
  auto v2 = [](const std::string& field, const std::string& value) {
    ArtifactSpec spec;
    spec.format_version = 2;
    spec.section_overrides[field] = value;
    return spec;
  };
  EXPECT_NE(refusal(v2("graph", R"("pyramid")")).find("unknown graph kind defectkit.family_section.graph='pyramid'"),
            std::string::npos);
  EXPECT_NE(refusal(v2("graph", "null")).find("defectkit.family_section has no 'graph'"), std::string::npos);
  EXPECT_NE(refusal(v2("graph", "3")).find("defectkit.family_section.graph has the wrong type: 3"), std::string::npos);
  EXPECT_NE(refusal(v2("channels", "null")).find("defectkit.family_section has no 'channels'"), std::string::npos);
  EXPECT_NE(refusal(v2("accepted_channels", "[3, 5]")).find("accepted channel count 5"), std::string::npos);
  EXPECT_NE(refusal(v2("accepted_channels", "[3, 1e300]")).find("accepted_channels has the wrong type"),
            std::string::npos);
  EXPECT_NE(refusal(v2("fourth_channel", R"("depth")")).find("fourth_channel 'depth'"), std::string::npos);
  EXPECT_NE(refusal(v2("image_size", "[40]")).find("defectkit.family_section.image_size must be [H, W]"),
            std::string::npos);
  EXPECT_NE(refusal(v2("image_size", "[9000, 9000]")).find("is implausibly large"), std::string::npos);
  EXPECT_NE(refusal(v2("tiling", "null")).find("a patch artifact needs 'defectkit.family_section.tiling'"),
            std::string::npos);
  EXPECT_NE(refusal(v2("tiling", R"({"patch": 16, "min_overlap": 4, "positions_y": [0, 11, 24]})"))
                .find("defectkit.family_section.tiling.positions_y disagrees with positions_along(40, 16, 1, 4)"),
            std::string::npos);
  EXPECT_NE(refusal(v2("tiling", R"({"patch": 32, "min_overlap": 4})"))
                .find("the patch graph's input is 16 pixels but defectkit.family_section.tiling.patch is 32"),
            std::string::npos);
  EXPECT_NE(refusal(v2("score", R"({"box": 4})")).find("defectkit.family_section.score.box must be a positive odd"),
            std::string::npos);
  EXPECT_NE(refusal(v2("output_format", R"("rgb")")).find("unknown output format 'rgb'"), std::string::npos);
  EXPECT_NE(refusal(v2("heatmap_output", R"("anomaly_map")")).find("the graph has no output 'anomaly_map'"),
            std::string::npos);
  ArtifactSpec no_pixel;
  no_pixel.format_version = 2;
  no_pixel.overrides["thresholds"] = R"({"image": 0.5})";
  EXPECT_NE(refusal(no_pixel).find("defectkit.thresholds has no 'pixel'"), std::string::npos);
  ArtifactSpec uint8_input;
  uint8_input.format_version = 2;
  uint8_input.overrides["inputs"] =
      R"([{"name": "patch", "dtype": "uint8", "shape": ["N", 3, 16, 16], "layout": "NCHW", "scale": 255}])";
  EXPECT_NE(refusal(uint8_input).find("cannot feed the artifact's input: dtype 'uint8' (only float32)"),
            std::string::npos);
  ArtifactSpec no_scale = uint8_input;
  no_scale.overrides["inputs"] = R"([{"name": "patch", "dtype": "float32", "shape": ["N", 3, 16, 16],
                                      "layout": "NCHW", "scale": null}])";
  EXPECT_NE(refusal(no_scale).find("cannot feed the artifact's input: no scale"), std::string::npos);
  ArtifactSpec rank3 = uint8_input;
  rank3.overrides["inputs"] =
      R"([{"name": "patch", "dtype": "float32", "shape": ["N", 16, 16], "layout": "NHW", "scale": 255}])";
  EXPECT_NE(refusal(rank3).find("cannot feed the artifact's input: layout 'NHW' (only NCHW)"), std::string::npos);
  ArtifactSpec two_inputs = uint8_input;
  two_inputs.overrides["inputs"] = R"([{"name": "patch", "dtype": "float32", "shape": ["N", 3, 16, 16],
      "layout": "NCHW", "scale": 255}, {"name": "extra", "dtype": "float32", "shape": [1], "layout": "N"}])";
  EXPECT_NE(refusal(two_inputs).find("an artifact graph takes exactly one input"), std::string::npos);
}

// An Inspector opens a format-2 artifact and gives what the format-1 one gives.
TEST(ArtifactInfo, InspectorOpensFormat2Artifacts) {
  ArtifactSpec spec;
  spec.format_version = 2;
  const auto inspector = defectkit::Inspector::open(defectkit::testing::write_artifact(spec, "patch_v2.onnx"));
  EXPECT_EQ(inspector.info().format_version, 2);
  EXPECT_EQ(inspector.info().tiling.patch, 16);
  EXPECT_TRUE(inspector.info().metadata.graph_checked);
  ASSERT_EQ(inspector.info().metadata.inputs.size(), 1u);
  EXPECT_EQ(defectkit::shape_string(inspector.info().metadata.inputs[0].shape), "(batch, 3, 16, 16)");
}
